"""No decision returns an action without the consent its purpose needs and the contact
permission its channel needs — over 1,000 generated ledgers (grants, denials,
revocations, expiries, old policy versions, objections to direct marketing, records in
the future), checked against a reference written apart from the engine's code."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.clock import FixedClock
from nextbest.decision.engine import Engine
from nextbest.store.base import ConsentRecord
from nextbest.store.memory import MemoryStore
from nextbest.testing import SMALL_BANK, T0, make_config
from nextbest.types import DecisionRequest, Placement

SETTINGS = (
    SMALL_BANK["nextbest.yaml"]
    .replace(
        """purposes:
  marketing: {basis: consent}
  service: {basis: legitimate_interest}""",
        """purposes:
  marketing: {basis: consent, policy_version: 2, direct_marketing: true}
  service: {basis: legitimate_interest}
  research: {basis: legitimate_interest, direct_marketing: true}
  personalization: {basis: consent}""",
    )
    .replace('    quiet_hours: {start: "21:00", end: "08:00"}', "    permission: true")
)
RESEARCH = """\
issue: research
groups:
  - group: surveys
    actions:
      - id: survey
        value: 5
        purpose: research
        treatments:
          - {id: survey-hero, channel: web, placement: hero, content: "Tell us, {{ first_name }}"}
          - {id: survey-mail, channel: email, placement: body, content: Tell us}
"""
CONFIG = make_config({"nextbest.yaml": SETTINGS, "issues/research.yaml": RESEARCH})
assert CONFIG.channels["email"].permission and CONFIG.purposes["marketing"].policy_version == 2

NOW = T0.timestamp()
ADA = {"first_name": "Ada", "age": 25, "income": 50_000, "in_arrears": False, "products": []}
SUBJECTS = [*CONFIG.purposes, "direct_marketing"]
moments = st.sampled_from([-400.0, -100.0, -1.0, 0.0, 50.0])  # seconds from now
records = st.builds(
    lambda subject, status, at, lasts, source, version: (subject, status, at, lasts, version),
    st.sampled_from(SUBJECTS),
    st.sampled_from(["granted", "denied", "revoked"]),
    moments,
    st.none() | st.sampled_from([1.0, 100.0, 1000.0]),
    st.none(),
    st.none() | st.integers(1, 3),
)
permissions = st.tuples(
    st.sampled_from(list(CONFIG.channels)),
    st.sampled_from(["granted", "denied", "revoked"]),
    moments,
    st.none() | st.sampled_from([1.0, 100.0, 1000.0]),
)


def latest(ledger: list[ConsentRecord], subject: str) -> ConsentRecord | None:
    """The record in force: latest status time at or before now, later-recorded on ties."""
    found = None
    for r in ledger:
        if r.subject == subject and r.ts <= NOW and (found is None or r.ts >= found.ts):
            found = r
    return found


def in_force(r: ConsentRecord | None, status: tuple[str, ...]) -> bool:
    return r is not None and r.status in status and (r.expires_ts is None or r.expires_ts > NOW)


def may_return(
    action: Any, channel: str, ledger: list[ConsentRecord], perms: list[ConsentRecord]
) -> bool:
    spec = CONFIG.purposes[action.purpose]
    if spec.direct_marketing and in_force(
        latest(ledger, "direct_marketing"), ("denied", "revoked")
    ):
        return False
    record = latest(ledger, action.purpose)
    if spec.basis == "consent":
        ok = in_force(record, ("granted",)) and (record.policy_version or 1) >= spec.policy_version  # type: ignore[union-attr]
    else:
        ok = not in_force(record, ("denied", "revoked"))
    if CONFIG.channels[channel].permission:
        ok = ok and in_force(latest(perms, channel), ("granted",))
    return ok


def needs_reconsent(ledger: list[ConsentRecord], name: str) -> bool:
    """A consent purpose whose grant in force expired or predates its current policy."""
    spec = CONFIG.purposes[name]
    if spec.direct_marketing and in_force(
        latest(ledger, "direct_marketing"), ("denied", "revoked")
    ):
        return False  # the objection is the answer, not a stale grant
    record = latest(ledger, name)
    if spec.basis != "consent" or record is None or record.status != "granted":
        return False
    expired = record.expires_ts is not None and record.expires_ts <= NOW
    return expired or (record.policy_version or 1) < spec.policy_version


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ledger=st.lists(records, max_size=8),
    perms=st.lists(permissions, max_size=4),
    channel=st.sampled_from(["web", "email"]),
    seed=st.integers(0, 2**32),
)
def test_no_action_without_its_consent_and_permission(
    ledger: list[tuple[Any, ...]], perms: list[tuple[Any, ...]], channel: str, seed: int
) -> None:
    purposes = [
        ConsentRecord("c1", s, st_, NOW + at, None if lasts is None else NOW + at + lasts, None, v)
        for s, st_, at, lasts, v in ledger
    ]
    permits = [
        ConsentRecord("c1", ch, st_, NOW + at, None if lasts is None else NOW + at + lasts)
        for ch, st_, at, lasts in perms
    ]
    store = MemoryStore()
    store.upsert_profiles([("c1", ADA)], NOW)
    store.set_consents(purposes, permits)
    engine = Engine(store, CONFIG, clock=FixedClock(T0), seed=seed)
    placements = (
        (Placement("hero"), Placement("sidebar", 2)) if channel == "web" else (Placement("body"),)
    )
    decision = engine.decide(
        DecisionRequest(channel=channel, placements=placements, customer_id="c1", assurance_level=4)
    )
    personal = in_force(latest(purposes, "personalization"), ("granted",))
    # the channel is told which purposes to ask again for
    assert set(decision.reconsent_required) == {
        name for name in CONFIG.purposes if needs_reconsent(purposes, name)
    }
    for returned in decision.actions:
        action = CONFIG.action(returned.action_id)
        assert may_return(action, channel, purposes, permits), (action.id, purposes, permits)
        if not personal:
            assert "Ada" not in returned.content  # no traits in content without personalization
    if not personal:
        assert all(name.startswith("context.") for name in decision.features)


def test_the_property_is_not_vacuous() -> None:
    """With every consent and permission in place, both channels return actions — and the
    personal content."""
    store = MemoryStore()
    store.upsert_profiles([("c1", ADA)], NOW)
    store.set_consents(
        [
            ConsentRecord("c1", p, "granted", NOW - 10, policy_version=2)
            for p in ("marketing", "personalization")
        ],
        [ConsentRecord("c1", "email", "granted", NOW - 10)],
    )
    engine = Engine(store, CONFIG, clock=FixedClock(T0), seed=1)
    web = engine.decide(
        DecisionRequest(
            channel="web", placements=(Placement("hero"),), customer_id="c1", assurance_level=4
        )
    )
    assert web.actions and "Ada" in web.actions[0].content
    email = engine.decide(
        DecisionRequest(
            channel="email", placements=(Placement("body"),), customer_id="c1", assurance_level=4
        )
    )
    assert email.actions
    # an objection to direct marketing: marketing and research stop on every channel
    store.set_consents([ConsentRecord("c1", "direct_marketing", "denied", NOW - 5)])
    for channel, placement in (("web", "hero"), ("email", "body")):
        d = engine.decide(
            DecisionRequest(
                channel=channel,
                placements=(Placement(placement),),
                customer_id="c1",
                assurance_level=4,
            )
        )
        assert all(CONFIG.action(a.action_id).purpose == "service" for a in d.actions), d.actions
