"""Segment-compatible ingestion through a real port — raw HTTP and the official SDKs."""

from __future__ import annotations

import base64
import gzip
import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nextbest.api import create_app
from nextbest.api.auth import create_key
from nextbest.testing import make_engine
from tests.api.test_app import REQUEST, serving


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return {}


@pytest.fixture(scope="module")
def server(keys: dict[str, str]) -> Iterator[tuple[httpx.Client, Any]]:
    engine = make_engine()
    keys["write"] = create_key(engine.store, "channel", "tracking", 0.0)[1]
    keys["read"] = create_key(engine.store, "admin", "ops", 0.0)[1]
    with serving(create_app(engine)) as client:
        yield client, engine


def read(client: httpx.Client, keys: dict[str, str], path: str) -> httpx.Response:
    return client.get(path, headers={"authorization": f"Bearer {keys['read']}"})


def test_identify_creates_the_profile_whose_id_is_the_user_id(
    server: Any, keys: dict[str, str]
) -> None:
    client, _ = server
    message = {
        "userId": "u-100",
        "traits": {"age": 33, "income": "45000", "favourite_colour": "teal"},
        "messageId": "m-1",
        "timestamp": "2026-03-02T11:00:00Z",
    }
    response = client.post("/v1/identify", json=message, auth=(keys["write"], ""))
    assert response.status_code == 200 and response.json() == {"success": True}
    profile = read(client, keys, "/v1/profiles/u-100").json()
    # declared traits are applied (coerced); undeclared ones stay in the stored event only
    assert profile["traits"] == {"age": 33, "income": 45000}


def test_anonymous_events_land_on_an_anonymous_profile(server: Any, keys: dict[str, str]) -> None:
    client, _ = server
    body = {"anonymousId": "cookie-7", "traits": {"age": 20}, "writeKey": keys["write"]}
    assert client.post("/v1/identify", json=body).status_code == 200
    assert read(client, keys, "/v1/profiles/anonymous:cookie-7").json()["traits"] == {"age": 20}


def test_a_resent_message_id_changes_nothing(server: Any, keys: dict[str, str]) -> None:
    client, engine = server
    first = {"userId": "u-200", "traits": {"age": 40}, "messageId": "m-dup"}
    client.post("/v1/identify", json=first, auth=(keys["write"], ""))
    resent = {**first, "traits": {"age": 99}}
    assert client.post("/v1/identify", json=resent, auth=(keys["write"], "")).status_code == 200
    assert engine.store.get_profile("u-200") == {"age": 40}
    assert len(engine.store.customer_events("u-200", 10)) == 1


def test_track_can_report_an_outcome(server: Any, keys: dict[str, str]) -> None:
    client, engine = server
    engine.upsert_profile("c1", {"age": 40, "income": 50000, "in_arrears": False})
    engine.set_consent("c1", "marketing", "granted")
    decision = client.post(
        "/v1/decisions", json=REQUEST, headers={"authorization": f"Bearer {keys['write']}"}
    ).json()
    action = decision["placements"]["hero"][0]["action_id"]
    track = {
        "type": "track",
        "userId": "c1",
        "event": "Offer Accepted",
        "messageId": "m-track-1",
        "properties": {
            "decision_id": decision["decision_id"],
            "action_id": action,
            "outcome": "accepted",
        },
    }
    body = {"batch": [track, {**track, "messageId": "m-track-1"}], "writeKey": keys["write"]}
    assert client.post("/v1/batch", json=body).status_code == 200
    rows = engine.store.history(decision_id=decision["decision_id"])
    assert [r.outcome for r in rows if r.outcome == "accepted"] == ["accepted"]  # once
    bad = {
        **track,
        "messageId": "m-track-2",
        "properties": {**track["properties"], "action_id": "nope"},
    }
    response = client.post("/v1/track", json=bad, auth=(keys["write"], ""))
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "properties.action_id"
    assert not engine.store.customer_events("c1", 10) or all(
        e.message_id != "m-track-2" for e in engine.store.customer_events("c1", 10)
    )


def test_gzip_bodies_and_batch_context(server: Any, keys: dict[str, str]) -> None:
    client, engine = server
    batch = {
        "batch": [
            {"type": "page", "anonymousId": "a-1", "name": "Cards", "messageId": "p-1"},
            {"type": "screen", "userId": "u-300", "name": "Home", "messageId": "s-1"},
            {"type": "group", "userId": "u-300", "groupId": "g-1", "messageId": "g-1"},
            {"type": "alias", "previousId": "a-1", "userId": "u-300", "messageId": "al-1"},
        ],
        "context": {"library": {"name": "test"}},
    }
    response = client.post(
        "/v1/batch",
        content=gzip.compress(json.dumps(batch).encode()),
        headers={"content-encoding": "gzip", "content-type": "application/json"},
        auth=(keys["write"], ""),
    )
    assert response.status_code == 200, response.text
    events = engine.store.customer_events("u-300", 10)
    # the alias stitched the anonymous page view into u-300's profile
    assert {e.type for e in events} == {"page", "screen", "group", "alias"}
    assert all(e.payload["context"] == {"library": {"name": "test"}} for e in events)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"traits": {"age": 3}}, "body"),  # neither userId nor anonymousId
        ({"userId": "u", "traits": {"age": "old"}}, "traits.age"),
        ({"userId": "u", "timestamp": "yesterday"}, "timestamp"),
        ({"userId": "u", "type": "track"}, "type"),
    ],
)
def test_bad_messages_name_the_field(
    server: Any, keys: dict[str, str], body: Any, field: str
) -> None:
    client, _ = server
    response = client.post("/v1/identify", json=body, auth=(keys["write"], ""))
    assert 400 <= response.status_code < 500
    assert response.json()["errors"][0]["field"].startswith(field), response.json()


def test_segment_limits(server: Any, keys: dict[str, str]) -> None:
    client, _ = server
    big = {"userId": "u", "properties": {"blob": "x" * 33_000}, "event": "Big"}
    response = client.post("/v1/track", json=big, auth=(keys["write"], ""))
    assert response.status_code == 422 and "32 KB" in response.json()["detail"]
    many = {"batch": [{**big, "type": "track", "properties": {"blob": "x" * 20_000}}] * 30}
    response = client.post("/v1/batch", json=many, auth=(keys["write"], ""))
    assert response.status_code == 413
    junk = client.post(
        "/v1/batch",
        content=b"\x1f\x8bnot gzip",
        headers={"content-encoding": "gzip"},
        auth=(keys["write"], ""),
    )
    assert junk.status_code == 422 and junk.json()["errors"][0]["field"] == "body"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_an_oversized_body_is_refused_before_it_is_all_sent(
    server: Any, keys: dict[str, str], framing: str
) -> None:
    """A 413 while the client is still sending: the server does not read (and hold) a
    body that can only be too large."""
    client, _ = server
    url = httpx.URL(str(client.base_url))
    auth = base64.b64encode(f"{keys['write']}:".encode()).decode()
    length = (
        "Content-Length: 104857600" if framing == "content-length" else "Transfer-Encoding: chunked"
    )
    head = (
        f"POST /v1/batch HTTP/1.1\r\nHost: {url.host}\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\n{length}\r\n\r\n"
    )
    with socket.create_connection((url.host, url.port), timeout=5) as sock:
        sock.sendall(head.encode())
        piece = b"[" * 65536
        # 64 KB of the 100 MB announced; or 576 KB of an endless stream, past READ_LIMIT
        # (no more: what the server never reads could reset the connection at its close)
        for _ in range(1 if framing == "content-length" else 9):
            sock.sendall(piece if framing == "content-length" else b"10000\r\n" + piece + b"\r\n")
        answer = sock.recv(65536).decode("latin-1")  # a timeout here: still waiting for the rest
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert '"field":"body"' in answer and "500 KB" in answer


def test_ingestion_needs_a_key_that_may_ingest(server: Any, keys: dict[str, str]) -> None:
    client, engine = server
    message = {"userId": "u-9", "traits": {"age": 30}}
    assert client.post("/v1/identify", json=message).status_code == 401
    auditor = create_key(engine.store, "auditor", "audit", 0.0)[1]
    assert client.post("/v1/identify", json=message, auth=(auditor, "")).status_code == 403
    assert client.post("/v1/identify", json={**message, "writeKey": "nb_wrong"}).status_code == 401


def test_official_sdks_send_unchanged(server: Any, keys: dict[str, str]) -> None:
    """segment-analytics-python and rudder-sdk-python (which gzips), pointed at our port."""
    from rudderstack.analytics.client import Client as RudderClient
    from segment.analytics.client import Client as SegmentClient

    client, _ = server
    host = str(client.base_url).rstrip("/")
    for sdk, user in ((SegmentClient, "sdk-segment"), (RudderClient, "sdk-rudder")):
        failures: list[Any] = []
        tracker = sdk(
            write_key=keys["write"],
            host=host,
            sync_mode=True,  # send on the call: nothing to wait for
            max_retries=0,
            on_error=lambda error, items, failures=failures: failures.append(error),
        )
        tracker.identify(user, {"age": 52, "income": 61000})
        tracker.track(user, "Viewed Cards", {"page": "cards"})
        tracker.page(user, "Cards", "Gold")
        tracker.flush()
        assert not failures, failures
        response = read(client, keys, f"/v1/profiles/{user}")
        assert response.status_code == 200, response.text
        assert response.json()["traits"] == {"age": 52, "income": 61000}
