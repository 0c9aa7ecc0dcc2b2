"""Identifiers: normalized, linked by identify and alias, found again by any of them; an
identifier another known customer already owns stays with its owner and is flagged."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.errors import RequestError
from nextbest.events.segment import ingest, parse
from nextbest.profile.identity import normalize
from nextbest.store import MemoryStore, open_store
from nextbest.testing import SMALL_BANK, T0, make_config

SCHEMA = SMALL_BANK["schema.yaml"].replace(
    "  first_name: {type: text, pii: true}\n",
    "  first_name: {type: text, pii: true}\n  email: {type: text, pii: true}\n"
    "  phone: {type: text, pii: true}\n",
)
CONFIG = make_config({"schema.yaml": SCHEMA})


def test_normalization() -> None:
    assert normalize("email", "  Ada.Lovelace@Example.ORG ", "DE") == "ada.lovelace@example.org"
    for raw in ("0171 2345678", "+49 171 2345678", "0049-171-2345678", "+491712345678"):
        assert normalize("phone", raw, "DE") == "+491712345678"
    assert normalize("phone", "(212) 555-0123", "US") == "+12125550123"
    assert normalize("device_id", " dev-1 ", "DE") == "dev-1"
    for namespace, raw in (("email", "not-an-address"), ("phone", "12"), ("phone", "abc")):
        with pytest.raises(RequestError) as caught:
            normalize(namespace, raw, "DE")
        assert caught.value.field == namespace
    with pytest.raises(RequestError) as bad:
        normalize("Bad Namespace", "x", "DE")
    assert bad.value.field == "namespace"


USERS = ["u1", "u2", "u3"]
ANONS = ["a1", "a2", "a3", "a4"]
EMAILS = ["ada@example.org", "bo@example.org"]
PHONES = ["+491711111111", "+491722222222"]


def spelled(email: str) -> st.SearchStrategy[str]:
    return st.sampled_from([email, email.upper(), f"  {email.title()} "])


def dialled(phone: str) -> st.SearchStrategy[str]:
    national = "0" + phone[3:]
    return st.sampled_from([phone, national, f"{national[:4]} {national[4:]}", "0049" + phone[3:]])


message = st.builds(
    lambda user, anon, email, phone: {
        k: v
        for k, v in {
            "type": "identify",
            "userId": user,
            "anonymousId": anon,
            "traits": {k2: v2 for k2, v2 in (("email", email), ("phone", phone)) if v2},
        }.items()
        if v is not None
    },
    st.none() | st.sampled_from(USERS),
    st.none() | st.sampled_from(ANONS),
    st.none() | st.sampled_from(EMAILS).flatmap(spelled),
    st.none() | st.sampled_from(PHONES).flatmap(dialled),
).filter(lambda m: "userId" in m or "anonymousId" in m)


def reference(
    messages: list[dict[str, Any]],
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """Who owns each identifier, and which were claimed by a second known person —
    computed apart from the store: the first known claimant wins; anonymous profiles
    give way, and the profile that takes one of theirs takes all of them (a merge); a
    visitor's anonymous id leads to its owner unless that is shared."""
    owners: dict[tuple[str, str], str] = {}
    shared: set[tuple[str, str]] = set()
    for m in messages:
        if "userId" in m:
            cid = m["userId"]
        else:
            owner = owners.get(("anonymous_id", m["anonymousId"]))
            visitor = f"anonymous:{m['anonymousId']}"
            cid = (
                visitor if owner is None or ("anonymous_id", m["anonymousId"]) in shared else owner
            )
        ids = []
        if "userId" in m:
            ids.append(("user_id", m["userId"]))
        if "anonymousId" in m:
            ids.append(("anonymous_id", m["anonymousId"]))
        for name, value in m.get("traits", {}).items():
            ids.append((name, normalize(name, value, "DE")))
        merged = set()
        for key in ids:
            current = owners.get(key)
            if current is None or current == cid or current.startswith("anonymous:"):
                if current is not None and current != cid:
                    merged.add(current)
                owners[key] = cid
            elif not cid.startswith("anonymous:"):  # an anonymous visitor is no person
                shared.add(key)
        for key, owner in owners.items():
            if owner in merged:
                owners[key] = cid
    return owners, shared


@pytest.fixture(params=["memory", "sqlite"])
def make(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    def engine() -> Engine:
        store = (
            MemoryStore()
            if request.param == "memory"
            else open_store(str(tmp_path_factory.mktemp("id") / "id.db"))
        )
        return Engine(store, CONFIG, clock=FixedClock(T0))

    yield engine


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(messages=st.lists(message, min_size=1, max_size=12))
def test_every_identifier_finds_its_profile(make: Any, messages: list[dict[str, Any]]) -> None:
    engine = make()
    flagged: set[tuple[str, str]] = set()
    for m in messages:
        ingest(engine, parse([m], ""))
    owners, shared = reference(messages)
    for (namespace, value), owner in owners.items():
        assert engine.lookup(namespace, value) == owner, (namespace, value)
        assert (namespace, value) in engine.identifiers_of(owner)
    for namespace, value in shared:
        flagged.update(engine.link_identity(owners[(namespace, value)], []))
        assert engine.store.claimants(namespace, value)  # the second person's claim is kept
    # every spelling finds the same profile
    for (namespace, value), owner in owners.items():
        if namespace == "phone":
            assert engine.lookup("phone", "0" + value[3:]) == owner
        if namespace == "email":
            assert engine.lookup("email", value.upper()) == owner
    engine.close()


def test_shared_identifiers_are_flagged_and_stay_with_their_owner(tmp_path: Path) -> None:
    engine = Engine(open_store(str(tmp_path / "s.db")), CONFIG, clock=FixedClock(T0))
    assert engine.link_identity("u1", [("device_id", "family-tablet")]) == []
    assert engine.link_identity("u2", [("device_id", "family-tablet")]) == [
        ("device_id", "family-tablet")
    ]
    assert engine.lookup("device_id", "family-tablet") == "u1"
    assert engine.store.claimants("device_id", "family-tablet") == ["u2"]
    engine.close()


def test_lookup_over_http() -> None:
    from nextbest.api import create_app
    from tests.api.test_app import serving

    engine = Engine(MemoryStore(), CONFIG, clock=FixedClock(T0))
    with serving(create_app(engine, auth=False)) as client:
        message = {"userId": "u7", "anonymousId": "cookie-9",
                   "traits": {"email": "Ada@Example.org", "phone": "0171 2345678", "age": 30}}  # fmt: skip
        assert client.post("/v1/identify", json=message).status_code == 200
        for query in ("email=ADA@example.ORG", "phone=%2B491712345678", "anonymous_id=cookie-9",
                      "user_id=u7"):  # fmt: skip
            found = client.get(f"/v1/profiles/lookup?{query}")
            assert found.status_code == 200, (query, found.text)
            assert found.json()["customer_id"] == "u7"
        assert ["email", "ada@example.org"] in found.json()["identifiers"]
        assert found.json()["shared_identifiers"] == []
        other = {"userId": "u8", "anonymousId": "cookie-9"}  # a second person, same device
        assert client.post("/v1/identify", json=other).status_code == 200
        assert client.get("/v1/profiles/u7").json()["shared_identifiers"] == [
            {"namespace": "anonymous_id", "value": "cookie-9", "claimants": ["u8"]}
        ]
        for query, status, field in (
            ("phone=12", 422, "phone"),
            ("email=a@b.org&phone=%2B491712345678", 422, "query"),
            ("email=nobody@example.org", 404, "email"),
        ):
            answer = client.get(f"/v1/profiles/lookup?{query}")
            assert answer.status_code == status, (query, answer.text)
            assert answer.json()["errors"][0]["field"] == field
