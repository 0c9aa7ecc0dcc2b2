"""RFC 9457 problem details: every client error names the offending fields."""

from __future__ import annotations

from fastapi.responses import JSONResponse

PROBLEM = "application/problem+json"


def problem(status: int, title: str, errors: list[dict[str, str]]) -> JSONResponse:
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or title
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


#: the problem document, for the OpenAPI schema
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "errors"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
#: every route may answer with a problem
PROBLEM_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"description": text, "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
    for status, text in (
        (400, "the body cannot be read"),
        (401, "no valid API key"),
        (403, "the key's role may not do this"),
        (404, "a referenced record does not exist"),
        (409, "the record's state does not allow this (a merge already undone)"),
        (413, "the body is too large"),
        (415, "the body's Content-Encoding is not supported (send it as is or gzip)"),
        (422, "the request is malformed or cannot be served; the fields are named"),
    )
}
