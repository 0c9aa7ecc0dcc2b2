"""Bodies that the standard library's JSON parser would take but the store cannot keep, and
other hostile input: each is a 4xx naming the field, and nothing of it is written."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.api import create_app
from nextbest.api.auth import create_key
from nextbest.decision.engine import Engine
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, make_config
from tests.api.test_app import REQUEST, serving

SCHEMA = SMALL_BANK["schema.yaml"].replace(
    "  timezone: text\n", "  timezone: text\n  seen: datetime\n"
)

#: bodies no route may take: (what, bytes)
UNREADABLE = [
    ("a lone surrogate escape", b'{"userId": "u-s1", "traits": {"first_name": "\\ud800"}}'),
    ("a raw surrogate", b'{"userId": "u-s2", "traits": {"first_name": "\xed\xa0\x80"}}'),
    ("NaN", b'{"userId": "u-s3", "traits": {"age": NaN}}'),
    ("a 5,000-digit number", b'{"userId": "u-s4", "traits": {"age": ' + b"1" * 5000 + b"}}"),
    ("a number beyond a double", b'{"userId": "u-s5", "traits": {"age": 1e400}}'),
    ("100,000 levels of nesting", b"[" * 100_000 + b"]" * 100_000),
]
ROUTES = [
    ("POST", "/v1/identify"),
    ("POST", "/v1/batch"),
    ("POST", "/v1/decisions"),
    ("POST", "/v1/outcomes"),
    ("PATCH", "/v1/profiles/u-s1"),
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Engine]]:
    """On a SQLite file: what cannot be written as UTF-8 fails there, not in memory."""
    db = tmp_path_factory.mktemp("malformed") / "nb.db"
    engine = Engine(open_store(str(db)), make_config({"schema.yaml": SCHEMA}), seed=1)
    key = create_key(engine.store, "admin", "ops", 0.0)[1]
    try:
        with serving(create_app(engine), key) as client:
            yield client, engine
    finally:
        engine.close()


def send(client: httpx.Client, method: str, path: str, body: bytes, **headers: str) -> Any:
    return client.request(
        method, path, content=body, headers={"content-type": "application/json", **headers}
    )


def problem_field(response: httpx.Response) -> str:
    assert response.headers["content-type"] == "application/problem+json", response.text
    return str(response.json()["errors"][0]["field"])


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(("what", "body"), UNREADABLE, ids=[w for w, _ in UNREADABLE])
def test_json_that_cannot_be_kept_is_a_422_naming_the_body(
    served: tuple[httpx.Client, Engine], method: str, path: str, what: str, body: bytes
) -> None:
    client, engine = served
    response = send(client, method, path, body)
    assert response.status_code == 422, (what, response.status_code, response.text[:300])
    assert problem_field(response) == "body"
    assert all(engine.store.get_profile(f"u-s{i}") is None for i in range(1, 6))


def test_gzip_must_be_one_whole_stream(served: tuple[httpx.Client, Engine]) -> None:
    client, engine = served
    packed = gzip.compress(json.dumps({"userId": "u-gz", "traits": {"age": 30}}).encode())
    for body in (packed[:-4], packed + b"garbage", packed + gzip.compress(b"{}")):
        response = send(client, "POST", "/v1/identify", body, **{"content-encoding": "gzip"})
        assert response.status_code == 422 and problem_field(response) == "body"
    assert engine.store.get_profile("u-gz") is None
    whole = send(client, "POST", "/v1/identify", packed, **{"content-encoding": "gzip"})
    assert whole.status_code == 200 and engine.store.get_profile("u-gz") == {"age": 30}


def test_an_encoding_other_than_gzip_is_a_415(served: tuple[httpx.Client, Engine]) -> None:
    client, engine = served
    body = json.dumps({"userId": "u-br", "traits": {"age": 30}}).encode()
    response = send(client, "POST", "/v1/identify", body, **{"content-encoding": "br"})
    assert response.status_code == 415 and problem_field(response) == "Content-Encoding"
    assert engine.store.get_profile("u-br") is None


def test_the_32_kb_event_limit_counts_the_bytes_sent(served: tuple[httpx.Client, Engine]) -> None:
    client, _ = served
    # 21 KB of UTF-8, though 42 KB as json.dumps escapes it (`\u20ac` for each `€`)
    note = {"type": "track", "userId": "u-eur", "event": "Note", "properties": {"n": "€" * 7000}}
    body = json.dumps(note, ensure_ascii=False).encode()
    assert 20_000 < len(body) < 32 * 1024 < len(json.dumps(note))
    assert send(client, "POST", "/v1/track", body).status_code == 200


@pytest.mark.parametrize(
    ("message", "field"),
    [
        ({"userId": "u-t1", "timestamp": "9999-12-31T23:59:59-14:00"}, "timestamp"),
        ({"userId": "u-t2", "sentAt": "0001-01-01T00:00:00+14:00"}, "sentAt"),
        ({"userId": True}, "userId"),
        ({"anonymousId": False}, "anonymousId"),
        ({"userId": "u-t3", "traits": {"seen": "0001-01-01T00:00:00+14:00"}}, "traits.seen"),
        ({"userId": "u-t4", "traits": {"products": "[" * 5000}}, "traits.products"),
    ],
)
def test_values_out_of_range_name_their_field(
    served: tuple[httpx.Client, Engine], message: dict[str, Any], field: str
) -> None:
    client, engine = served
    response = client.post("/v1/identify", json=message)
    assert response.status_code == 422, response.text
    assert problem_field(response) == field
    assert all(engine.store.get_profile(f"u-t{i}") is None for i in range(1, 5))
    if "traits" in message:  # the same trait values through PATCH
        patched = client.patch("/v1/profiles/u-t5", json={"traits": message["traits"]})
        assert patched.status_code == 422 and problem_field(patched) == field
        assert engine.store.get_profile("u-t5") is None


def test_a_padded_user_id_is_the_customer_without_the_spaces(
    served: tuple[httpx.Client, Engine],
) -> None:
    client, engine = served
    assert client.post("/v1/identify", json={"userId": " zed ", "traits": {"age": 33}}).is_success
    assert engine.store.get_profile("zed") == {"age": 33}
    assert engine.store.get_profile(" zed ") is None


def test_an_outcome_batch_with_one_bad_kind_records_none(
    served: tuple[httpx.Client, Engine],
) -> None:
    client, engine = served
    engine.upsert_profile("c1", {"age": 40, "income": 50000, "in_arrears": False})
    engine.set_consent("c1", "marketing", "granted")
    decision = client.post("/v1/decisions", json=REQUEST).json()
    decision_id = decision["decision_id"]
    action_id = decision["placements"]["hero"][0]["action_id"]
    batch = [
        {"decision_id": decision_id, "action_id": action_id, "outcome": "clicked"},
        {"decision_id": decision_id, "action_id": action_id, "outcome": "bogus"},
    ]
    response = client.post("/v1/outcomes", json=batch)
    assert response.status_code == 422 and problem_field(response) == "[1].outcome"
    assert not engine.store.has_outcome(f"{decision_id}:{action_id}:clicked")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(st.characters(codec=None, exclude_categories=()), min_size=1, max_size=12),
    where=st.sampled_from(["userId", "trait", "property", "event"]),
)
def test_any_text_anywhere_is_stored_and_read_back_or_refused(
    served: tuple[httpx.Client, Engine], text: str, where: str
) -> None:
    """Any code point, surrogates included, as the id, a trait, a property or the event's
    name: a 2xx whose records read back, or a 4xx — never a 5xx or a record that breaks
    its readers."""
    client, _ = served
    user = text if where == "userId" else "u-any"
    message: dict[str, Any] = {"type": "track", "userId": user, "event": "E", "properties": {}}
    if where == "trait":
        message = {"type": "identify", "userId": user, "traits": {"first_name": text}}
    elif where == "property":
        message["properties"] = {"note": text}
    elif where == "event":
        message["event"] = text
    response = client.post("/v1/batch", content=json.dumps({"batch": [message]}).encode())
    assert response.status_code < 500, response.text
    if response.is_success:
        # everything kept about the subject, events included
        export = client.get(f"/v1/subjects/{quote(user.strip(), safe='')}/export")
        assert export.status_code == 200, export.text
        assert export.json()["events"], export.text
