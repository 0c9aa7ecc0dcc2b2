"""The HTTP service (FastAPI): decisions and outcomes under `/v1`, health, problems.

`create_app(engine)` serves one engine; `nextbest.api.serve` runs it in worker processes. Endpoints are plain
`def`s: FastAPI runs them on its thread pool, and the engine serialises writes itself.

Every client error is an RFC 9457 `application/problem+json` body that names the offending
field (`errors: [{"field", "message"}]`); nothing a client sends produces a 5xx.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException as StarletteHTTPException

from nextbest.api.auth import AuthError, authorize
from nextbest.api.batching import DecisionBatcher
from nextbest.api.fastpath import FastPost
from nextbest.api.ingest import register as register_ingestion
from nextbest.api.jsonbody import JSONRoute
from nextbest.api.metrics import Metrics
from nextbest.api.paths import RawSegments
from nextbest.api.problems import PROBLEM_RESPONSES, problem
from nextbest.api.schemas import (
    ConsentIn,
    ConsentList,
    DecisionIn,
    OutcomeIn,
    OutcomeList,
    ProfilePatch,
    RegulationIn,
)
from nextbest.decision.engine import Engine, default_config_dir
from nextbest.errors import ConfigError, ConflictError, NotFoundError, RequestError
from nextbest.policies.consent import Standing
from nextbest.profile.traits import TraitError
from nextbest.store.base import ConsentRecord
from nextbest.types import check_outcome

#: how many recent history rows a profile shows
PROFILE_HISTORY = 50


class _Timed:
    """The metrics middleware in the shape `add_middleware` expects (a class over the app)."""

    def __init__(self, app: Any, metrics: Metrics) -> None:
        self.handle = metrics.asgi(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.handle(scope, receive, send)


def _field(location: tuple[Any, ...]) -> str:
    """pydantic's ('body', 'placements', 0, 'count') → `placements[0].count`."""
    parts = [p for p in location if p != "body"]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


def _branch(location: tuple[Any, ...], body: Any) -> tuple[Any, ...] | None:
    """A body that is one record or an array of them (`X | list[X]`): pydantic reports each
    error under a branch tag (`('body', 'X', 'field')`, `('body', 'list[X]', 0, 'field')`).
    Keep the errors of the branch the body's shape chose, without the tag; None drops one."""
    if len(location) < 2 or location[0] != "body" or not isinstance(location[1], str):
        return location
    tag = location[1]
    if tag.startswith("list["):
        return ("body", *location[2:]) if isinstance(body, list) else None
    if tag[:1].isupper() and tag.isidentifier():
        return None if isinstance(body, list) else ("body", *location[2:])
    return location


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


def create_app(
    engine: Engine, config_dir: str | Path | None = None, *, auth: bool = True
) -> FastAPI:
    """The API over `engine`; `config_dir` is what `POST /v1/config/reload` reloads;
    `auth=False` serves without API keys (tests and local experiments only)."""
    folder = Path(config_dir) if config_dir else default_config_dir()

    def scope(name: str) -> Any:
        # async: a key lookup is one indexed read, cheaper than a hop to the thread pool
        async def check(request: Request) -> None:
            if auth:
                authorize(engine.store, request.headers.get("authorization"), name)

        return Depends(check)

    app = FastAPI(
        title="nextbest",
        summary="Real-time next-best-action decisions, outcomes and learning.",
        version="0.1.0",
        responses=PROBLEM_RESPONSES,
    )
    app.router.route_class = JSONRoute  # every body parsed by orjson (see jsonbody)
    app.state.engine = engine
    metrics = app.state.metrics = Metrics()

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                reason = (error.get("ctx") or {}).get("error")
                message = f"is not valid JSON ({reason})" if reason else "is not valid JSON"
                errors.append({"field": "body", "message": message})
                continue
            location = _branch(tuple(error.get("loc", ())), exc.body)
            if location is not None:
                errors.append({"field": _field(location), "message": str(error.get("msg"))})
        return problem(422, "invalid request", errors)

    @app.exception_handler(RequestError)
    def _bad(request: Request, exc: RequestError) -> JSONResponse:
        return problem(
            422, "request cannot be served", [{"field": exc.field, "message": exc.message}]
        )

    @app.exception_handler(StarletteHTTPException)
    def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # what the framework answers itself (an unreadable body, an unknown route)
        field = "body" if exc.status_code == 400 else "path"
        return problem(
            exc.status_code, str(exc.detail), [{"field": field, "message": str(exc.detail)}]
        )

    @app.exception_handler(AuthError)
    def _auth(request: Request, exc: AuthError) -> JSONResponse:
        response = problem(
            exc.status,
            "unauthorized" if exc.status == 401 else "forbidden",
            [{"field": "authorization", "message": exc.message}],
        )
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="nextbest"'
        return response

    @app.exception_handler(TraitError)
    def _trait(request: Request, exc: TraitError) -> JSONResponse:
        return problem(
            422, "invalid trait", [{"field": f"traits.{exc.field}", "message": exc.message}]
        )

    @app.exception_handler(NotFoundError)
    def _missing(request: Request, exc: NotFoundError) -> JSONResponse:
        return problem(404, "not found", [{"field": exc.field, "message": exc.message}])

    @app.exception_handler(ConflictError)
    def _conflict(request: Request, exc: ConflictError) -> JSONResponse:
        return problem(409, "conflict", [{"field": exc.field, "message": exc.message}])

    register_ingestion(app, engine, auth)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def prometheus() -> Response:
        """Prometheus text format: requests, latency, decisions, outcomes, errors."""
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, Any]:
        return {"status": "ok", "config_version": engine.config.version}

    batcher = DecisionBatcher(engine)

    async def answer(body: DecisionIn) -> Response:
        # on the event loop: a decision is about a millisecond of CPU under the engine's
        # lock, so a thread-pool hop would only add its own cost to every request; the
        # decisions asked for together are committed together
        decision = await batcher.decide(body.to_request())
        metrics.decisions.labels(decision.channel).inc()
        doc = decision.to_document()
        placements: dict[str, list[dict[str, Any]]] = {p.name: [] for p in body.placements}
        for action in doc.pop("actions"):
            placements[action["placement"]].append(action)
        doc["placements"] = placements
        if not body.explain:
            doc.pop("removed", None)
        return Response(
            orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY), media_type="application/json"
        )

    @app.post(
        "/v1/decisions",
        tags=["decisions"],
        dependencies=[scope("decide")],
        response_model=dict[str, Any],
    )
    async def decide(body: DecisionIn) -> Response:
        """Decide the next best actions for one customer (or an anonymous visitor)."""
        return await answer(body)

    # the well-formed decision request skips FastAPI's routing (see nextbest.api.fastpath)
    app.add_middleware(
        FastPost,
        path="/v1/decisions",
        model=DecisionIn,
        check=lambda header: authorize(engine.store, header, "decide") if auth else None,
        endpoint=answer,
        route=next(r for r in app.routes if getattr(r, "endpoint", None) is decide),
        handlers=app.exception_handlers,
    )

    @app.get(
        "/v1/decisions/{decision_id}", tags=["decisions"], dependencies=[scope("read-decisions")]
    )
    def get_decision(decision_id: str) -> dict[str, Any]:
        """A stored decision with its actions and explanation."""
        stored = engine.get_decision(decision_id)
        return {
            "decision_id": stored.decision_id,
            "time": stored.ts,
            "customer_id": stored.customer_id,
            "interaction_id": stored.interaction_id,
            "channel": stored.channel,
            "direction": stored.direction,
            "config_version": stored.config_version,
            "actions": stored.actions,
            "explanation": stored.document,
        }

    @app.post("/v1/outcomes", tags=["outcomes"], dependencies=[scope("outcomes")])
    def outcomes(body: OutcomeIn | OutcomeList) -> dict[str, Any]:
        """Record one outcome, or an array of them; all are checked before any is written."""
        items = body if isinstance(body, list) else [body]
        # every item first, so a bad one in a batch writes nothing
        for i, item in enumerate(items):
            prefix = f"[{i}]." if isinstance(body, list) else ""
            check_outcome(item.outcome, item.value, (f"{prefix}outcome", f"{prefix}value"))
            engine.returned_action(
                item.decision_id,
                item.action_id,
                fields=(f"{prefix}decision_id", f"{prefix}action_id"),
            )
        recorded = [
            engine.record_outcome(
                item.decision_id,
                item.action_id,
                item.outcome,
                value=item.value,
                at=item.timestamp,
                idempotency_key=item.idempotency_key,
                learn=False,
            )
            for item in items
        ]
        engine.catch_up()  # all of them, in one transaction
        for item, new in zip(items, recorded, strict=True):
            if new:
                metrics.outcomes.labels(item.outcome).inc()
        return {"recorded": sum(recorded), "duplicates": len(recorded) - sum(recorded)}

    @app.get("/v1/profiles/lookup", tags=["profiles"], dependencies=[scope("read-profiles")])
    def lookup_profile(request: Request) -> dict[str, Any]:
        """The profile an identifier belongs to: one query parameter, the namespace and
        the value (`?email=ada@example.org`, `?phone=+4917…`, `?anonymous_id=…`,
        `?device_id=…`, `?crm_id=…`, `?user_id=…`, or a custom namespace)."""
        given = list(request.query_params.multi_items())
        if len(given) != 1:
            raise RequestError("query", "give exactly one identifier, e.g. `?email=…`")
        namespace, value = given[0]
        customer_id = engine.lookup(namespace, value)
        traits = engine.store.get_profile(customer_id)
        if traits is None:
            raise NotFoundError(namespace, "the identifier's profile holds no traits yet")
        return _profile(customer_id, traits)

    @app.get(
        "/v1/profiles/{customer_id:id}", tags=["profiles"], dependencies=[scope("read-profiles")]
    )
    def get_profile(customer_id: str) -> dict[str, Any]:
        """A customer's traits, consents and most recent history."""
        traits = engine.store.get_profile(customer_id)
        if traits is None:
            raise NotFoundError("customer_id", f"no profile `{customer_id}`")
        return _profile(customer_id, traits)

    @app.patch(
        "/v1/profiles/{customer_id:id}", tags=["profiles"], dependencies=[scope("write-profiles")]
    )
    def patch_profile(customer_id: str, body: ProfilePatch) -> dict[str, Any]:
        """Merge validated traits into the profile (creating it); `null` removes a trait.
        A rejected update is kept in the quarantine (`GET /v1/quarantine`)."""
        try:
            engine.upsert_profile(customer_id, dict(body.traits), source=body.source)
        except (TraitError, RequestError) as exc:
            field = f"traits.{exc.field}" if isinstance(exc, TraitError) else exc.field
            record = {"customer_id": customer_id, **body.model_dump(mode="json")}
            engine.quarantine("api:/v1/profiles", customer_id, field, exc.message, record)
            raise
        return _profile(customer_id, engine.store.get_profile(customer_id) or {})

    @app.get("/v1/quarantine", tags=["profiles"], dependencies=[scope("read-quarantine")])
    def get_quarantine(
        source: Annotated[str | None, Query(max_length=300)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        """Records the engine could not accept — from the API, imports — newest first, each
        with its source (`api:/v1/batch`, `import:events:FILE`, …), position, the offending
        field and the reason."""
        rows = engine.store.quarantined(source=source, limit=limit)
        return {"quarantine": [{**r._asdict(), "ts": _iso(r.ts)} for r in rows]}

    @app.get(
        "/v1/profiles/{customer_id:id}/merges",
        tags=["profiles"],
        dependencies=[scope("read-profiles")],
    )
    def get_merges(customer_id: str) -> dict[str, Any]:
        """The journaled merges into or from this profile (an anonymous visitor's profile
        merged into the customer's once an identifier showed they are one), oldest first."""
        return {"merges": [m._asdict() for m in engine.merges(customer_id)]}

    @app.post("/v1/merges/{merge_id}/unmerge", tags=["profiles"], dependencies=[scope("identity")])
    def unmerge(merge_id: int) -> dict[str, Any]:
        """Undo a merge: both profiles as they were before it, their events, history and
        identifiers back; the pair does not merge again on its own. 409 if already undone."""
        return engine.unmerge(merge_id)._asdict()

    @app.get(
        "/v1/profiles/{customer_id:id}/consents",
        tags=["profiles"],
        dependencies=[scope("read-profiles")],
    )
    def get_consents(customer_id: str) -> dict[str, Any]:
        """The customer's consents now: each purpose's and each permission channel's
        standing, and the whole append-only ledger."""
        return _consents(customer_id)

    @app.post(
        "/v1/profiles/{customer_id:id}/consents",
        tags=["profiles"],
        dependencies=[scope("write-consents")],
    )
    def post_consents(customer_id: str, body: ConsentIn | ConsentList) -> dict[str, Any]:
        """Append one consent or contact-permission record, or an array of them (all are
        checked before any is written); they count from the next decision on."""
        items = body if isinstance(body, list) else [body]
        purposes: list[ConsentRecord] = []
        permissions: list[ConsentRecord] = []
        for i, item in enumerate(items):
            prefix = f"[{i}]." if isinstance(body, list) else ""
            try:
                record = engine.consent_record(
                    customer_id,
                    item.status,
                    purpose=item.purpose,
                    channel=item.channel,
                    at=item.timestamp,
                    expires=item.expires_at,
                    source=item.source or "api",
                    policy_version=item.policy_version,
                )
            except RequestError as exc:
                raise RequestError(prefix + exc.field, exc.message) from None
            (purposes if item.purpose is not None else permissions).append(record)
        engine.add_consents(purposes, permissions)
        return _consents(customer_id)

    def _consents(customer_id: str) -> dict[str, Any]:
        purposes, channels = engine.consent_standing(customer_id)

        def view(standing: Mapping[str, Standing]) -> dict[str, Any]:
            return {
                name: {
                    "allowed": s.allowed,
                    "status": s.status,
                    "reason": s.reason,
                    "reconsent_required": s.reconsent_required,
                }
                for name, s in standing.items()
            }

        def records(ledger: list[ConsentRecord], key: str) -> list[dict[str, Any]]:
            return [
                {
                    key: r.subject,
                    "status": r.status,
                    "timestamp": _iso(r.ts),
                    "expires_at": None if r.expires_ts is None else _iso(r.expires_ts),
                    "source": r.source,
                    **({"policy_version": r.policy_version} if key == "purpose" else {}),
                }
                for r in ledger
            ]

        return {
            "customer_id": customer_id,
            "purposes": view(purposes),
            "permissions": view(channels),
            "records": records(engine.store.consent_ledger(customer_id), "purpose")
            + records(engine.store.permission_ledger(customer_id), "channel"),
        }

    @app.get(
        "/v1/subjects/{customer_id:id}/export", tags=["privacy"], dependencies=[scope("privacy")]
    )
    def export_subject(customer_id: str) -> Response:
        """Everything every store holds about the customer: profile, consents and
        permissions, events, decisions with their explanations, history, features."""
        return JSONResponse(json.loads(json.dumps(engine.export_subject(customer_id), default=str)))

    @app.post("/v1/regulations", tags=["privacy"], dependencies=[scope("privacy")])
    def regulate(body: RegulationIn) -> dict[str, Any]:
        """Suppress, delete (with or without suppressing) or unsuppress customers; answers
        with the regulation's id and status."""
        regulation = engine.regulate(body.type, list(body.customer_ids))
        return {"regulation_id": regulation.regulation_id, "status": regulation.status}

    @app.get("/v1/regulations/{regulation_id}", tags=["privacy"], dependencies=[scope("privacy")])
    def get_regulation(regulation_id: str) -> dict[str, Any]:
        """Where a regulation stands: initialized, running, finished or failed."""
        r = engine.get_regulation(regulation_id)
        return {
            "regulation_id": r.regulation_id,
            "type": r.type,
            "subjects": r.subjects,
            "status": r.status,
            "created_at": _iso(r.created_ts),
            "updated_at": _iso(r.updated_ts),
            "detail": r.detail,
        }

    def _profile(customer_id: str, traits: dict[str, Any]) -> dict[str, Any]:
        history = engine.store.history(customer_id=customer_id, limit=PROFILE_HISTORY)
        return {
            "customer_id": customer_id,
            "traits": traits,
            # who wrote each trait and when it was true: what trait precedence weighs
            "trait_sources": {
                k: {"source": v[0], "at": _iso(v[1])}
                for k, v in engine.store.trait_sources(customer_id).items()
                if k in traits
            },
            "features": engine.features_of(customer_id),
            "identifiers": [list(i) for i in engine.identifiers_of(customer_id)],
            "shared_identifiers": engine.shared_identifiers(customer_id),
            "consents": engine.store.get_consents(customer_id),
            "history": [row._asdict() for row in history],
        }

    @app.get("/v1/config", tags=["configuration"], dependencies=[scope("read-config")])
    def get_config() -> dict[str, Any]:
        config = engine.config
        return {
            "version": config.version,
            "name": config.name,
            "channels": {
                name: {"direction": spec.direction, "placements": list(spec.placements)}
                for name, spec in config.channels.items()
            },
            "purposes": {name: spec.basis for name, spec in config.purposes.items()},
            "actions": config.n_actions,
            "files": sorted(config.files),
        }

    @app.post("/v1/config/reload", tags=["configuration"], dependencies=[scope("reload-config")])
    def reload() -> Any:
        """Load the configuration folder again; if it has problems, keep running the
        current version and answer with every problem."""
        try:
            config = engine.reload(folder)
        except ConfigError as exc:
            errors = [{"field": str(p.file), "message": str(p)} for p in exc.problems]
            return problem(422, "configuration has problems; the running version stays", errors)
        return {"version": config.version, "actions": config.n_actions}

    @app.get("/v1/actions", tags=["configuration"], dependencies=[scope("read-config")])
    def actions() -> dict[str, Any]:
        config = engine.config
        return {
            "config_version": config.version,
            "actions": [
                {
                    "action_id": a.id,
                    "issue": a.issue,
                    "group": a.group.split("/", 1)[1],
                    "purpose": a.purpose,
                    "min_assurance": a.min_assurance,
                    "enabled": a.enabled,
                    "treatments": [
                        {"treatment_id": t.id, "channel": t.channel, "placement": t.placement}
                        for t in a.treatments
                    ],
                }
                for a in config.actions
            ],
        }

    @app.get("/v1/models", tags=["models"], dependencies=[scope("read-models")])
    def models() -> dict[str, Any]:
        return {"models": json.loads(json.dumps(engine.models.describe(), default=float))}

    app.add_middleware(RawSegments)  # ids with a `/` (see nextbest.api.paths)
    app.add_middleware(_Timed, metrics=metrics)  # last: the outermost, it times everything
    return app
