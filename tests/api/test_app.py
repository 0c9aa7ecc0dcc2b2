"""The decision API through a real HTTP port: decide, record outcomes, read decisions back,
and answer every malformed request with a problem+json that names the field."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.api import create_app
from nextbest.api.auth import ROLES, create_key
from nextbest.decision.engine import Engine
from nextbest.testing import SMALL_BANK, make_engine, write_config

PROBLEM = "application/problem+json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_serving(base: str, process: subprocess.Popen[Any], seconds: float) -> None:
    """Poll `base`/healthz until it answers; fail if `process` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, f"the server exited with {process.returncode}"
        assert time.monotonic() < deadline, f"{base} did not come up within {seconds} s"
        time.sleep(0.1)


@contextmanager
def serving(app: Any, key: str | None = None) -> Iterator[httpx.Client]:
    """`app` on a real 127.0.0.1 port, with a client pointed at it (sending `key`)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        headers = {"authorization": f"Bearer {key}"} if key else {}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10, headers=headers) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def engine() -> Engine:
    engine = make_engine()
    engine.upsert_profile(
        "c1", {"first_name": "Ada", "age": 40, "income": 50000, "in_arrears": False}
    )
    engine.set_consent("c1", "marketing", "granted")
    return engine


@pytest.fixture(scope="module")
def keys(engine: Engine) -> dict[str, str]:
    return {role: create_key(engine.store, role, role, 0.0)[1] for role in ROLES}


@pytest.fixture(scope="module")
def client(engine: Engine, keys: dict[str, str]) -> Iterator[httpx.Client]:
    with serving(create_app(engine), keys["admin"]) as c:
        yield c


REQUEST: dict[str, Any] = {
    "customer_id": "c1",
    "channel": "web",
    "placements": [{"name": "hero"}, {"name": "sidebar", "count": 2}],
    "context": {"page": "cards"},
    "identity": {"assurance_level": 1},
}


def test_health(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "ok"


def test_decide_then_report_outcomes_then_read_the_decision(client: httpx.Client) -> None:
    response = client.post("/v1/decisions", json=REQUEST)
    assert response.status_code == 200, response.text
    decision = response.json()
    assert set(decision["placements"]) == {"hero", "sidebar"}
    hero = decision["placements"]["hero"]
    assert len(hero) == 1 and hero[0]["content"]
    first = hero[0]
    assert {"action_id", "treatment_id", "propensity", "value", "priority", "reasons"} <= set(first)
    assert "removed" not in decision  # only when explain is asked for

    outcome = {
        "decision_id": decision["decision_id"],
        "action_id": first["action_id"],
        "outcome": "accepted",
    }
    response = client.post("/v1/outcomes", json=outcome)
    assert response.json() == {"recorded": 1, "duplicates": 0}
    again = client.post("/v1/outcomes", json=[outcome, {**outcome, "outcome": "clicked"}])
    assert again.json() == {"recorded": 1, "duplicates": 1}

    stored = client.get(f"/v1/decisions/{decision['decision_id']}")
    assert stored.status_code == 200
    assert stored.json()["actions"][0]["action_id"] == first["action_id"]


def test_explained_decisions_carry_removals(client: httpx.Client) -> None:
    response = client.post("/v1/decisions", json={**REQUEST, "explain": True})
    assert response.status_code == 200
    assert isinstance(response.json()["removed"], list)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**REQUEST, "channel": "fax"}, "channel"),
        ({**REQUEST, "placements": []}, "placements"),
        ({**REQUEST, "placements": [{"name": "hero", "count": 0}]}, "placements[0].count"),
        ({**REQUEST, "placements": [{"name": "nowhere"}]}, "placements[0].name"),
        ({**REQUEST, "identity": {"assurance_level": 9}}, "identity.assurance_level"),
        ({**REQUEST, "surprise": 1}, "surprise"),
        ({**REQUEST, "context": {"page": {"nested": 1}}}, "context.page"),
    ],
)
def test_bad_decision_requests_name_the_field(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/decisions", json=body)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == response.status_code
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem


def test_malformed_json_is_a_problem_not_a_crash(client: httpx.Client) -> None:
    response = client.post(
        "/v1/decisions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)


def test_bad_outcomes_write_nothing(client: httpx.Client) -> None:
    decision = client.post("/v1/decisions", json=REQUEST).json()
    action = decision["placements"]["hero"][0]["action_id"]
    good = {"decision_id": decision["decision_id"], "action_id": action, "outcome": "rejected"}
    bad = {
        "decision_id": decision["decision_id"],
        "action_id": "not-returned",
        "outcome": "accepted",
    }
    response = client.post("/v1/outcomes", json=[good, bad])
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "[1].action_id"
    # the good one was not written either: it records now, once
    assert client.post("/v1/outcomes", json=good).json() == {"recorded": 1, "duplicates": 0}
    for body, field in (
        ({**good, "outcome": "loved"}, "outcome"),
        ({**good, "value": "NaN"}, "value"),
        ({**good, "timestamp": "2026-01-01T10:00:00"}, "timestamp"),
        ({**good, "decision_id": "nope"}, "decision_id"),
    ):
        response = client.post("/v1/outcomes", json=body)
        assert 400 <= response.status_code < 500, body
        assert any(field in e["field"] for e in response.json()["errors"]), response.json()


def test_unknown_decision_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/decisions/nope")
    assert response.status_code == 404
    assert response.json()["errors"][0]["field"] == "decision_id"


def test_actions_and_models(client: httpx.Client) -> None:
    actions = client.get("/v1/actions").json()["actions"]
    assert {a["action_id"] for a in actions} >= {"gold-card", "info-tips"}
    assert isinstance(client.get("/v1/models").json()["models"], list)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.dictionaries(
        st.sampled_from(
            ["customer_id", "channel", "placements", "context", "identity", "explain", "x"]
        ),
        json_values,
        max_size=6,
    )
)
def test_no_decision_body_produces_a_server_error(
    client: httpx.Client, body: dict[str, Any]
) -> None:
    response = client.post("/v1/decisions", json=body)
    assert response.status_code < 500, (body, response.text)


def test_profiles_read_and_patch_with_validation(client: httpx.Client) -> None:
    profile = client.get("/v1/profiles/c1").json()
    assert profile["traits"]["age"] == 40 and profile["consents"] == {"marketing": "granted"}
    assert isinstance(profile["history"], list)
    patched = client.patch("/v1/profiles/c2", json={"traits": {"age": "41", "income": 1000}})
    assert patched.status_code == 200 and patched.json()["traits"] == {"age": 41, "income": 1000}
    bad = client.patch("/v1/profiles/c2", json={"traits": {"age": "old"}})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "traits.age"
    unknown = client.patch("/v1/profiles/c2", json={"traits": {"shoe_size": 44}})
    assert unknown.json()["errors"][0]["field"] == "traits.shoe_size"
    assert client.get("/v1/profiles/c2").json()["traits"] == {"age": 41, "income": 1000}
    assert client.get("/v1/profiles/nobody").status_code == 404


def test_config_reload_keeps_the_running_version_on_problems(tmp_path: Path) -> None:
    folder = write_config(tmp_path / "config", SMALL_BANK)
    engine = make_engine()
    with serving(create_app(engine, folder, auth=False)) as c:
        before = c.get("/v1/config").json()["version"]
        (folder / "policies.yaml").write_text("eligibility: age >>> 18\n")
        response = c.post("/v1/config/reload")
        assert response.status_code == 422
        assert any("policies.yaml" in e["field"] for e in response.json()["errors"])
        assert c.get("/v1/config").json()["version"] == before
        (folder / "policies.yaml").write_text("eligibility: age >= 21\n")
        reloaded = c.post("/v1/config/reload").json()
        assert reloaded["version"] != before
        assert c.get("/v1/config").json()["version"] == reloaded["version"]


# --- API keys and roles -------------------------------------------------------------------

#: (method, path, body) for every route that needs a key, and the roles that may call it
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("POST", "/v1/decisions", REQUEST, {"channel", "agent", "admin"}),
    (
        "POST",
        "/v1/outcomes",
        {"decision_id": "x", "action_id": "y", "outcome": "accepted"},
        {"channel", "agent", "admin"},
    ),
    (
        "GET",
        "/v1/decisions/nope",
        None,
        {"agent", "marketer", "data-scientist", "auditor", "admin"},
    ),
    ("GET", "/v1/profiles/c1", None, {"agent", "auditor", "admin"}),
    ("PATCH", "/v1/profiles/c9", {"traits": {"age": 30}}, {"agent", "admin"}),
    ("GET", "/v1/config", None, {"agent", "marketer", "data-scientist", "auditor", "admin"}),
    ("GET", "/v1/actions", None, {"agent", "marketer", "data-scientist", "auditor", "admin"}),
    ("GET", "/v1/models", None, {"marketer", "data-scientist", "auditor", "admin"}),
    ("GET", "/v1/profiles/c1/consents", None, {"agent", "auditor", "admin"}),
    (
        "POST",
        "/v1/profiles/c9/consents",
        {"purpose": "marketing", "status": "granted"},
        {"channel", "agent", "admin"},
    ),
    ("GET", "/v1/subjects/c1/export", None, {"admin"}),
    ("POST", "/v1/regulations", {"type": "unsuppress", "customer_ids": ["c9"]}, {"admin"}),
    ("GET", "/v1/regulations/reg_x", None, {"admin"}),
    ("GET", "/v1/profiles/c1/merges", None, {"agent", "auditor", "admin"}),
    ("POST", "/v1/merges/1/unmerge", None, {"admin"}),
    ("GET", "/v1/quarantine", None, {"auditor", "admin"}),
]
ROUTE_IDS = [f"{m} {p}" for m, p, _, _ in ROUTES]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES, ids=ROUTE_IDS)
def test_role_by_route(
    client: httpx.Client,
    keys: dict[str, str],
    role: str,
    method: str,
    path: str,
    body: Any,
    allowed: set[str],
) -> None:
    headers = {"authorization": f"Bearer {keys[role]}"}
    response = client.request(method, path, json=body, headers=headers)
    if role in allowed:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.headers["content-type"].startswith(PROBLEM)


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES, ids=ROUTE_IDS)
def test_no_or_bad_key_is_401(
    client: httpx.Client, method: str, path: str, body: Any, allowed: set[str]
) -> None:
    for value in ("", "Bearer nb_wrong", "Token x", "Basic !!!"):
        response = client.request(method, path, json=body, headers={"authorization": value})
        assert response.status_code == 401, (value, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_key_may_come_as_the_basic_username_and_revocation_bites(
    client: httpx.Client, engine: Engine
) -> None:
    key, secret = create_key(engine.store, "channel", "tracking", 0.0)
    assert client.post("/v1/decisions", json=REQUEST, auth=(secret, "")).status_code == 200
    assert engine.store.revoke_key(key.key_id, 1.0)
    assert client.post("/v1/decisions", json=REQUEST, auth=(secret, "")).status_code == 401


def test_health_needs_no_key(client: httpx.Client) -> None:
    assert client.get("/healthz", headers={"authorization": ""}).status_code == 200


def test_metrics_count_requests_by_route_template_decisions_and_outcomes(
    client: httpx.Client,
) -> None:
    decision = client.post("/v1/decisions", json=REQUEST).json()
    action = decision["placements"]["hero"][0]["action_id"]
    outcome = {"decision_id": decision["decision_id"], "action_id": action, "outcome": "converted"}
    client.post("/v1/outcomes", json=outcome)
    client.get(f"/v1/decisions/{decision['decision_id']}")
    text = client.get("/metrics", headers={"authorization": ""}).text
    assert 'nextbest_decisions_total{channel="web"}' in text
    assert 'nextbest_outcomes_total{outcome="converted"} 1.0' in text
    assert 'route="/v1/decisions/{decision_id}"' in text  # the template, not the id
    assert 'method="POST",route="/v1/decisions",status="200"' in text
    assert decision["decision_id"] not in text
    assert "nextbest_http_request_seconds_bucket" in text


# --- consents -----------------------------------------------------------------------------


def test_consents_are_appended_and_read_back_with_their_standing(client: httpx.Client) -> None:
    grant = {
        "purpose": "marketing",
        "status": "granted",
        "timestamp": "2026-01-05T10:00:00Z",
        "expires_at": "2030-01-05T10:00:00Z",
        "source": "cookie-banner",
        "policy_version": 1,
    }
    response = client.post("/v1/profiles/consent-1/consents", json=grant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["purposes"]["marketing"]["allowed"] is True
    assert body["purposes"]["service"] == {
        "allowed": True, "status": None, "reason": "legitimate interest",
        "reconsent_required": False,
    }  # fmt: skip
    assert body["records"] == [
        {
            "purpose": "marketing", "status": "granted", "timestamp": "2026-01-05T10:00:00+00:00",
            "expires_at": "2030-01-05T10:00:00+00:00", "source": "cookie-banner",
            "policy_version": 1,
        }
    ]  # fmt: skip
    # withdrawing is as easy as giving: a later record, appended; the first one stays
    revoke = [{"purpose": "marketing", "status": "revoked", "timestamp": "2026-02-01T00:00:00Z"}]
    after = client.post("/v1/profiles/consent-1/consents", json=revoke).json()
    assert after["purposes"]["marketing"]["allowed"] is False
    assert [r["status"] for r in after["records"]] == ["granted", "revoked"]
    assert after["records"][1]["source"] == "api"
    assert client.get("/v1/profiles/consent-1/consents").json() == after


def test_a_bad_consent_record_names_its_field_and_writes_nothing(client: httpx.Client) -> None:
    good = {"purpose": "marketing", "status": "granted"}
    cases = [
        ([good, {"purpose": "nope", "status": "granted"}], "[1].purpose"),
        ([good, {"channel": "pigeon", "status": "granted"}], "[1].channel"),
        ({"purpose": "marketing", "channel": "email", "status": "granted"}, "purpose"),
        ({"status": "granted"}, "purpose"),
        ({"purpose": "marketing", "status": "maybe"}, "status"),
        (
            {"purpose": "marketing", "status": "granted", "timestamp": "2026-01-05T10:00:00Z",
             "expires_at": "2026-01-01T00:00:00Z"},
            "expires_at",
        ),
        ({"channel": "email", "status": "granted", "policy_version": 2}, "policy_version"),
    ]  # fmt: skip
    for body, field in cases:
        response = client.post("/v1/profiles/consent-2/consents", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith(PROBLEM)
        assert any(e["field"] == field for e in response.json()["errors"]), response.json()
    assert client.get("/v1/profiles/consent-2/consents").json()["records"] == []
