"""What the API rejects is answered with the field named — and kept in the quarantine
with the reason (`GET /v1/quarantine`), never silently lost; nothing of the request is
written."""

from __future__ import annotations

from typing import Any

from nextbest.api import create_app
from nextbest.testing import make_engine
from tests.api.test_app import serving


def test_rejected_messages_and_updates_are_quarantined() -> None:
    engine = make_engine()
    with serving(create_app(engine, auth=False)) as client:
        batch: list[dict[str, Any]] = [
            {"type": "identify", "userId": "q1", "traits": {"age": 30}, "messageId": "ok-1"},
            {"type": "page", "userId": "q1", "name": "Cards", "messageId": "ok-2"},
            {"type": "identify", "userId": "q1", "traits": {"age": "old"}, "messageId": "bad"},
        ]
        answer = client.post("/v1/batch", json={"batch": batch})
        assert answer.status_code == 422
        assert answer.json()["errors"][0]["field"] == "batch[2].traits.age"
        assert engine.store.customer_events("q1", 10) == []  # nothing of the batch
        one = {"userId": "q2", "event": "Clicked", "messageId": "t-1",
               "properties": {"decision_id": "nope", "action_id": "x", "outcome": "clicked"}}  # fmt: skip
        assert client.post("/v1/track", json=one).status_code == 404
        patch = client.patch("/v1/profiles/q3", json={"traits": {"income": "lots"}})
        assert patch.status_code == 422

        held = client.get("/v1/quarantine").json()["quarantine"]
        assert [(r["source"], r["position"], r["field"]) for r in held] == [
            ("api:/v1/profiles", "q3", "traits.income"),
            ("api:/v1/track", None, "properties.decision_id"),
            ("api:/v1/batch", "batch[2]", "batch[2].traits.age"),
        ]
        assert held[2]["record"] == batch[2] and "number" in held[2]["reason"]
        assert held[1]["record"]["type"] == "track"
        assert held[0]["record"] == {"customer_id": "q3", "traits": {"income": "lots"},
                                     "source": "api"}  # fmt: skip
        only = client.get("/v1/quarantine", params={"source": "api:/v1/batch", "limit": 5})
        assert [r["position"] for r in only.json()["quarantine"]] == ["batch[2]"]
        assert client.get("/v1/quarantine", params={"limit": 0}).status_code == 422
