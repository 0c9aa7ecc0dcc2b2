"""Segment's consent preferences land in the consent ledger; without personalization an
event's traits stay out of the profile."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nextbest.api import create_app
from nextbest.api.auth import create_key
from nextbest.testing import SMALL_BANK, make_engine
from tests.api.test_app import serving

SETTINGS = SMALL_BANK["nextbest.yaml"].replace(
    """purposes:
  marketing: {basis: consent}""",
    """purposes:
  marketing: {basis: consent, segment_categories: [Advertising, Email]}
  personalization: {basis: consent, segment_categories: [Personalization]}""",
)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    engine = make_engine({"nextbest.yaml": SETTINGS})
    headers = {"authorization": f"Bearer {create_key(engine.store, 'admin', 'ops', 0.0)[1]}"}
    with serving(create_app(engine)) as client:
        yield client, headers


def identify(user: str, message_id: str, preferences: dict[str, Any], age: int) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user,
        "messageId": message_id,
        "timestamp": "2026-03-02T11:00:00Z",
        "traits": {"age": age},
        "context": {"consent": {"categoryPreferences": preferences}},
    }


def test_category_preferences_grant_and_deny_purposes(server: Any) -> None:
    client, headers = server
    batch = {
        "batch": [
            identify(
                "u-1", "c-1", {"Advertising": True, "Email": True, "Personalization": True}, 30
            ),
            identify("u-2", "c-2", {"Advertising": True, "Email": False}, 41),
        ]
    }
    assert client.post("/v1/batch", json=batch, headers=headers).json() == {"success": True}
    one = client.get("/v1/profiles/u-1/consents", headers=headers).json()
    assert one["purposes"]["marketing"]["allowed"] and one["purposes"]["personalization"]["allowed"]
    assert {(r["purpose"], r["status"], r["source"]) for r in one["records"]} == {
        ("marketing", "granted", "segment"),
        ("personalization", "granted", "segment"),
    }
    assert one["records"][0]["timestamp"] == "2026-03-02T11:00:00+00:00"  # the event's time
    # one of marketing's categories is false: denied; personalization not mentioned: absent
    two = client.get("/v1/profiles/u-2/consents", headers=headers).json()
    assert [(r["purpose"], r["status"]) for r in two["records"]] == [("marketing", "denied")]
    # traits: u-1 consented to personalization, u-2 did not — its traits are withheld
    assert client.get("/v1/profiles/u-1", headers=headers).json()["traits"] == {"age": 30}
    assert client.get("/v1/profiles/u-2", headers=headers).status_code == 404
    # a later grant lets the next identify's traits in
    later = identify("u-2", "c-3", {"Personalization": True}, 42)
    assert client.post("/v1/identify", json=later, headers=headers).status_code == 200
    assert client.get("/v1/profiles/u-2", headers=headers).json()["traits"] == {"age": 42}


def rudder(
    user: str, message_id: str, allowed: list[str], denied: list[str], **extra: Any
) -> dict[str, Any]:
    managed = {"provider": "oneTrust", "allowedConsentIds": allowed, "deniedConsentIds": denied}
    return {"type": "identify", "userId": user, "messageId": message_id,
            "timestamp": "2026-03-02T11:00:00Z", "traits": {"age": 30},
            "context": {"consentManagement": managed | extra}}  # fmt: skip


def test_segment_and_rudderstack_consents_become_the_same_records() -> None:
    from nextbest.config.models import PurposeSpec
    from nextbest.events.segment import consent_records, parse

    purposes = {
        "marketing": PurposeSpec(basis="consent", segment_categories=["Advertising", "Email"],
                                 consent_ids=["C0004", "C0005"]),
        "personalization": PurposeSpec(basis="consent", segment_categories=["Personalization"],
                                       consent_ids=["C0003"]),
    }  # fmt: skip

    def records(message: dict[str, Any]) -> set[tuple[str, str]]:
        [parsed] = parse([message], "")
        return {(r.subject, r.status) for r in consent_records(purposes, parsed, "u", 1.0)}

    segment = identify("u", "s", {"Advertising": True, "Email": True, "Personalization": False}, 30)
    stack = rudder("u", "r", ["C0004", "C0005"], ["C0003"])
    assert (
        records(segment)
        == records(stack)
        == {("marketing", "granted"), ("personalization", "denied")}
    )
    [parsed] = parse([stack], "")
    assert {r.source for r in consent_records(purposes, parsed, "u", 1.0)} == {"rudderstack"}
    # `and` (the default): every id of a purpose must be allowed; `or`: one is enough
    assert records(rudder("u", "a", ["C0004"], [])) == {("marketing", "denied")}
    assert records(rudder("u", "o", ["C0004"], [], resolutionStrategy="or")) == {
        ("marketing", "granted")
    }
    # ids no purpose listens to, and malformed lists, say nothing
    assert records(rudder("u", "x", ["C0099"], [])) == set()
    bad = rudder("u", "b", ["C0004"], [])
    bad["context"]["consentManagement"]["allowedConsentIds"] = "C0004"
    assert records(bad) == set()
