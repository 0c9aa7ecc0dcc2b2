"""Data-subject rights through the HTTP API on a real SQLite file: export from every store,
erasure that leaves no seeded byte in the file, suppression that drops and counts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nextbest.api import create_app
from nextbest.api.auth import create_key
from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.store import open_store
from nextbest.testing import SMALL_BANK, T0, make_config
from tests.api.test_app import REQUEST, serving

SCHEMA = (
    SMALL_BANK["schema.yaml"].replace(
        "  first_name: {type: text, pii: true}\n",
        "  first_name: {type: text, pii: true}\n  email: {type: text, pii: true}\n",
    )
    + "features:\n  logins_1d: {event: Logged In, aggregate: count, window: 1d}\n"
)
CONFIG = make_config({"schema.yaml": SCHEMA})
# distinctive values: if any of these bytes is still in the file, erasure failed
SEEDED = ("Xanthippe-7Q", "xanthippe.q7@example.org", "Zyxwvut-Fenwick-Street",
          "cookie-Qv9Lw", "Quokka-Alias-3")  # fmt: skip


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[httpx.Client, Engine, Path]]:
    db = tmp_path / "rights.db"
    engine = Engine(open_store(str(db)), CONFIG, clock=FixedClock(T0), seed=1)
    key = create_key(engine.store, "admin", "dpo", 0.0)[1]
    with serving(create_app(engine)) as client:
        client.headers["authorization"] = f"Bearer {key}"
        yield client, engine, db
    engine.close()


def seed(client: httpx.Client, who: str) -> dict[str, Any]:
    """A subject with the seeded values in traits, events, consents and history — and an
    anonymous visit before, merged into the profile by the identify (so in the merge
    journal too: the visitor's first name, which the customer's own overrides)."""
    name, email, street, cookie, alias = (
        SEEDED if who == "x1" else ("Other", "other@example.org", "Main St", "c-2", "Al")
    )
    visit = [{"type": "identify", "anonymousId": cookie, "traits": {"first_name": alias}},
             {"type": "page", "anonymousId": cookie, "name": "Cards"}]  # fmt: skip
    assert client.post("/v1/batch", json={"batch": visit}).status_code == 200
    # the visitor's cookie-banner choice: a merge leaves it under the visitor's id
    banner = {"purpose": "marketing", "status": "granted", "source": "cookie banner"}
    assert client.post(f"/v1/profiles/anonymous:{cookie}/consents", json=banner).status_code == 200
    message = {
        "type": "identify", "userId": who, "anonymousId": cookie, "messageId": f"{who}-1",
        "traits": {"first_name": name, "email": email, "age": 40, "income": 60000,
                   "in_arrears": False, "products": []},
        "context": {"address": street},
    }  # fmt: skip
    assert client.post("/v1/identify", json=message).status_code == 200
    login = {"type": "track", "userId": who, "event": "Logged In", "messageId": f"{who}-2",
             "properties": {"street": street}}  # fmt: skip
    assert client.post("/v1/track", json=login).status_code == 200
    consent = {"purpose": "marketing", "status": "granted", "source": f"banner {street}"}
    assert client.post(f"/v1/profiles/{who}/consents", json=consent).status_code == 200
    decision = client.post("/v1/decisions", json={**REQUEST, "customer_id": who}).json()
    action = decision["placements"]["hero"][0]["action_id"]
    outcome = {"decision_id": decision["decision_id"], "action_id": action, "outcome": "accepted"}
    assert client.post("/v1/outcomes", json=outcome).status_code == 200
    return decision


def test_export_gathers_every_store(api: Any) -> None:
    client, _, _ = api
    decision = seed(client, "x1")
    export = client.get("/v1/subjects/x1/export").json()
    assert export["profile"]["first_name"] == SEEDED[0]
    assert [r["subject"] for r in export["consents"]] == ["marketing"]
    assert sorted(e["type"] for e in export["events"]) == ["identify", "identify", "page", "track"]
    assert [m["from_id"] for m in export["merges"]] == [f"anonymous:{SEEDED[3]}"]
    assert [d["decision_id"] for d in export["decisions"]] == [decision["decision_id"]]
    assert "removed" in export["decisions"][0]["document"]  # the explanation is there
    assert {r["outcome"] for r in export["history"]} == {"accepted"}
    assert export["features"]["logins_1d"]  # the feature state
    assert export["suppressed"] is False
    visitor = export["merged_visitors"][f"anonymous:{SEEDED[3]}"]
    assert [r["source"] for r in visitor["consents"]] == ["cookie banner"]


def test_suppress_with_delete_leaves_no_seeded_byte_and_drops_later_events(api: Any) -> None:
    client, engine, db = api
    seed(client, "x1")
    seed(client, "x2")  # someone else, who must stay
    raw = db.read_bytes() + (Path(f"{db}-wal").read_bytes() if Path(f"{db}-wal").exists() else b"")
    assert any(v.encode() in raw for v in SEEDED)  # the scan can see them before
    answer = client.post(
        "/v1/regulations", json={"type": "suppress_with_delete", "customer_ids": ["x1"]}
    ).json()
    assert answer["status"] == "finished"
    status = client.get(f"/v1/regulations/{answer['regulation_id']}").json()
    assert status["status"] == "finished" and status["detail"]["erased"]["events"] == 4
    assert status["detail"]["erased"]["merges"] == 1
    # no store, API or export returns the subject
    assert client.get("/v1/profiles/x1").status_code == 404
    export = client.get("/v1/subjects/x1/export").json()
    assert export["suppressed"] is True
    assert not any(
        export[k]
        for k in (
            "profile",
            "consents",
            "events",
            "decisions",
            "history",
            "merges",
            "merged_visitors",
        )
    )
    assert client.get("/v1/profiles/x2").json()["traits"]["first_name"] == "Other"
    # later events are dropped and counted; decisions treat the subject as anonymous
    again = {"type": "identify", "userId": "x1", "traits": {"first_name": SEEDED[0]}}
    assert client.post("/v1/identify", json=again).status_code == 200
    assert (
        client.post(
            "/v1/batch", json={"batch": [{**again, "type": "track", "event": "Logged In"}]}
        ).status_code
        == 200
    )
    assert engine.store.dropped() == 2
    assert client.get("/v1/profiles/x1").status_code == 404
    decision = client.post("/v1/decisions", json={**REQUEST, "customer_id": "x1"}).json()
    assert decision["customer_id"] is None
    # and the raw files (database, WAL) hold none of the seeded values — while the
    # server still runs, and after it stopped
    for moment in ("running", "closed"):
        files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]
        raw = b"".join(p.read_bytes() for p in files)
        for value in SEEDED:
            assert value.encode() not in raw, (moment, value)
        assert b'"x1"' not in raw  # nor the id: the suppression list keeps a digest
        if moment == "running":
            engine.store.close()
    engine.store = open_store(str(db))  # for the fixture's close
    # (deleted content is overwritten: `PRAGMA secure_delete`, set by the store, and the
    # default of many SQLite builds, this machine's too)
    assert engine.store._raw.execute("PRAGMA secure_delete").fetchone() == (1,)


def test_suppress_restricts_and_unsuppress_lifts(api: Any) -> None:
    client, engine, _ = api
    seed(client, "x1")
    assert (
        client.post("/v1/regulations", json={"type": "suppress", "customer_ids": ["x1"]}).json()[
            "status"
        ]
        == "finished"
    )
    # kept, but out of processing: traits cannot change, events are dropped
    assert client.get("/v1/profiles/x1").json()["traits"]["first_name"] == SEEDED[0]
    assert client.patch("/v1/profiles/x1", json={"traits": {"age": 41}}).status_code == 422
    message = {"type": "track", "userId": "x1", "event": "Logged In", "messageId": "x1-9"}
    client.post("/v1/track", json=message)
    assert engine.store.dropped() == 1
    lifted = client.post(
        "/v1/regulations", json={"type": "unsuppress", "customer_ids": ["x1"]}
    ).json()
    assert client.get(f"/v1/regulations/{lifted['regulation_id']}").json()["detail"] == {
        "unsuppressed": 1
    }
    assert client.patch("/v1/profiles/x1", json={"traits": {"age": 41}}).status_code == 200
    assert engine.store.dropped() == 1  # the count survives the lifting


def test_bad_regulations_name_the_field(api: Any) -> None:
    client, _, _ = api
    for body, field in (
        ({"type": "forget", "customer_ids": ["a"]}, "type"),
        ({"type": "suppress", "customer_ids": []}, "customer_ids"),
        ({"type": "suppress"}, "customer_ids"),
    ):
        response = client.post("/v1/regulations", json=body)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == field
    assert client.get("/v1/regulations/reg_nope").status_code == 404
