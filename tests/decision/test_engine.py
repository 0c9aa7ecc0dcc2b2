"""The decision pipeline and the engine around it, through the public engine API."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest

from nextbest.errors import NotFoundError, RequestError
from nextbest.testing import SMALL_BANK, T0, FixedClock, make_engine
from nextbest.types import DecisionRequest, Direction, Placement

ADULT = {"first_name": "Ada", "age": 40, "income": 50000, "in_arrears": False, "products": []}


def web(
    customer: str | None = "c1", *, assurance: int = 1, explain: bool = False, **context: str
) -> DecisionRequest:
    return DecisionRequest(
        channel="web",
        placements=(Placement("hero", 1), Placement("sidebar", 2)),
        customer_id=customer,
        context=context,
        assurance_level=assurance,
        explain=explain,
    )


def engine_with(
    traits: dict[str, object] | None = None, consent: str | None = "granted", **kw: object
):  # type: ignore[no-untyped-def]
    engine = make_engine(**kw)  # type: ignore[arg-type]
    engine.upsert_profile("c1", dict(ADULT if traits is None else traits))
    if consent:
        engine.set_consent("c1", "marketing", consent)
    return engine


def ids(decision) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.action_id for a in decision.actions}


def test_returns_ranked_actions_per_placement_without_duplicates() -> None:
    decision = engine_with().decide(web())
    hero = decision.placement("hero")
    side = decision.placement("sidebar")
    assert len(hero) == 1 and 1 <= len(side) <= 2
    all_ids = [a.action_id for a in decision.actions]
    assert len(all_ids) == len(set(all_ids))
    assert [a.rank for a in side] == list(range(1, len(side) + 1))
    for a in decision.actions:
        assert a.priority == pytest.approx(a.propensity * a.context_weight * a.value * a.lever)
        assert 0 < a.selection_probability <= 1


def test_at_most_one_action_per_group_in_a_placement() -> None:
    engine = engine_with({**ADULT, "age": 25})  # both cards eligible
    for _ in range(20):
        side = engine.decide(web()).placement("sidebar")
        groups = [a.group for a in side]
        assert len(groups) == len(set(groups))


def test_personalised_content_is_rendered() -> None:
    engine = engine_with()
    for _ in range(30):
        for a in engine.decide(web()).actions:
            if a.treatment_id == "gold-card-hero":
                assert a.content == "Ada, go gold"
                return
    pytest.fail("gold card never chosen for the hero")


def test_no_consent_means_no_marketing_action() -> None:
    engine = engine_with(consent="denied")
    decision = engine.decide(web(explain=True))
    assert ids(decision) == {"info-tips"}  # a service action
    hero = decision.placement("hero")
    assert hero[0].fallback and hero[0].selection_probability == 1.0
    assert decision.placement("sidebar") == ()  # no duplicates across placements
    stages = {r.action_id: r.stage for r in decision.removed}
    assert stages["gold-card"] == "consent"


def test_assurance_too_low_gives_step_up_hint() -> None:
    decision = engine_with().decide(web(assurance=0))
    assert "gold-card" not in ids(decision)
    assert [(s.action_id, s.required_level) for s in decision.step_up] == [("gold-card", 1)]
    # no hint for an action that verification would not unlock: this customer is in arrears
    in_arrears = engine_with({**ADULT, "in_arrears": True}).decide(web(assurance=0, explain=True))
    assert in_arrears.step_up == ()
    assert {r.action_id: r.stage for r in in_arrears.removed}["gold-card"] == "suitability"


def test_explain_names_stage_and_rule() -> None:
    engine = engine_with({**ADULT, "products": ["GOLD_CARD"], "age": 40})
    decision = engine.decide(web(explain=True))
    removed = {r.action_id: r for r in decision.removed}
    assert removed["gold-card"].stage == "applicability"
    assert removed["gold-card"].rule == 'not owns("GOLD_CARD")'
    assert removed["student-card"].stage == "eligibility"
    assert removed["student-card"].rule == "age < 30"


def test_null_trait_fails_the_rule_safely() -> None:
    engine = engine_with({"first_name": "Bo", "products": []})  # no age, no income
    decision = engine.decide(web(explain=True))
    assert ids(decision) == set()  # even the fallback needs age >= 18
    stages = {r.action_id: r.stage for r in decision.removed}
    assert stages["gold-card"] == "eligibility"


def test_context_weight_lifts_the_group() -> None:
    engine = engine_with()
    decision = engine.decide(web(page="cards"))
    weights = {a.action_id: a.context_weight for a in decision.actions}
    if "gold-card" in weights:
        assert weights["gold-card"] == 2.0
    if "savings-plan" in weights:
        assert weights["savings-plan"] == 1.0
    # each returned action names the context weights that lifted it, and only those
    for a in decision.actions:
        named = [float(r.rpartition("×")[2]) for r in a.reasons if r.startswith("context `")]
        assert math.prod(named) == pytest.approx(a.context_weight)
        assert bool(named) == (a.context_weight != 1.0)
    assert any(a.context_weight != 1.0 for a in decision.actions)


def test_kill_switch_and_validity_window() -> None:
    text = (
        SMALL_BANK["issues/cross-sell.yaml"]
        .replace("      - id: student-card\n", "      - id: student-card\n        enabled: false\n")
        .replace(
            "      - id: savings-plan\n",
            "      - id: savings-plan\n        valid: {from: 2027-01-01}\n",
        )
    )
    engine = engine_with({**ADULT, "age": 25}, files={"issues/cross-sell.yaml": text})
    decision = engine.decide(web(explain=True))
    assert not ids(decision) & {"student-card", "savings-plan"}
    stages = {r.action_id: (r.stage, r.reason) for r in decision.removed}
    assert stages["student-card"] == ("validity", "switched off")
    assert stages["savings-plan"] == ("validity", "outside its validity window")


def test_same_seed_same_decisions() -> None:
    a = [d.actions for d in (engine_with(seed=5).decide(web()) for _ in range(1))]
    b = [d.actions for d in (engine_with(seed=5).decide(web()) for _ in range(1))]
    assert a == b


def test_outbound_send_counts_for_contact_limit() -> None:
    clock = FixedClock(T0)
    engine = engine_with(clock=clock)
    email = DecisionRequest(
        channel="email", placements=(Placement("body"),), customer_id="c1", assurance_level=1
    )
    first = engine.decide(email)
    assert first.direction is Direction.OUTBOUND and len(first.actions) == 1
    clock.advance(timedelta(hours=2))
    assert engine.decide(email).actions == ()  # 1 e-mail a day
    clock.advance(timedelta(hours=22, minutes=1))
    assert len(engine.decide(email).actions) == 1


def test_quiet_hours_in_customer_time_zone() -> None:
    clock = FixedClock(T0.replace(hour=20, minute=30))  # 21:30 in Berlin (UTC+1 in March)
    engine = engine_with({**ADULT, "timezone": "Europe/Berlin"}, clock=clock)
    email = DecisionRequest(
        channel="email",
        placements=(Placement("body"),),
        customer_id="c1",
        assurance_level=1,
        explain=True,
    )
    decision = engine.decide(email)
    assert decision.actions == ()
    assert {r.reason for r in decision.removed} == {"quiet hours"}
    engine.upsert_profile("c1", {"timezone": "America/New_York"})  # 15:30 there
    assert len(engine.decide(email).actions) == 1


def test_rejection_suppresses_the_action() -> None:
    engine = engine_with()
    for _ in range(50):
        decision = engine.decide(web())
        hero = decision.placement("hero")[0]
        if hero.action_id == "gold-card":
            break
    else:
        pytest.fail("gold card never chosen")
    engine.record_outcome(decision.decision_id, "gold-card", "rejected")
    for _ in range(20):
        assert "gold-card" not in ids(engine.decide(web()))
    removed = {r.action_id: r for r in engine.decide(web(explain=True)).removed}
    assert (removed["gold-card"].stage, removed["gold-card"].rule) == (
        "contact_policy",
        "after-rejection",
    )


def test_outcomes_validate_and_deduplicate() -> None:
    engine = engine_with()
    decision = engine.decide(web())
    action = decision.actions[0].action_id
    with pytest.raises(NotFoundError) as info:
        engine.record_outcome("nope", action, "accepted")
    assert info.value.field == "decision_id"
    with pytest.raises(NotFoundError) as info:
        engine.record_outcome(decision.decision_id, "not-there", "accepted")
    assert info.value.field == "action_id"
    with pytest.raises(RequestError) as rinfo:
        engine.record_outcome(decision.decision_id, action, "liked")
    assert rinfo.value.field == "outcome"
    before = engine.models.describe()
    assert engine.record_outcome(decision.decision_id, action, "accepted", idempotency_key="k1")
    assert not engine.record_outcome(decision.decision_id, action, "accepted", idempotency_key="k1")
    assert not engine.record_outcome(decision.decision_id, action, "accepted", idempotency_key="k1")
    after = {m["model_id"]: m for m in engine.models.describe()}
    key = f"{action}@*"  # one model for all channels (`pool_channels`)
    assert after[key]["positives"] == 1
    assert after[f"group/{after[key]['group']}@*"]["positives"] == 1  # and its group's
    assert len(after) == len(before) + 2


def test_bad_requests_name_the_field() -> None:
    engine = engine_with()
    cases = [
        (DecisionRequest(channel="fax", placements=(Placement("hero"),)), "channel"),
        (DecisionRequest(channel="web", placements=(Placement("footer"),)), "placements[0].name"),
        (DecisionRequest(channel="web", placements=(Placement("hero", 0),)), "placements[0].count"),
        (DecisionRequest(channel="web", placements=()), "placements"),
        (
            DecisionRequest(channel="web", placements=(Placement("hero"),), assurance_level=9),
            "assurance_level",
        ),
        (
            DecisionRequest(
                channel="web", placements=(Placement("hero"),), context={"page": ["x"]}
            ),
            "context.page",
        ),
    ]
    for request, field in cases:
        with pytest.raises(RequestError) as info:
            engine.decide(request)
        assert info.value.field == field


def test_decision_is_stored_with_its_explanation() -> None:
    engine = engine_with()
    decision = engine.decide(web(explain=True))
    stored = engine.get_decision(decision.decision_id)
    assert stored.config_version == engine.config.version
    assert [a["action_id"] for a in stored.actions] == [a.action_id for a in decision.actions]
    assert {k for k in stored.actions[0]} >= {
        "propensity",
        "value",
        "lever",
        "context_weight",
        "priority",
        "selection_probability",
    }
    assert len(stored.document["removed"]) == len(decision.removed)


def test_anonymous_visitor_gets_only_non_consent_actions() -> None:
    decision = engine_with().decide(web(customer=None, assurance=0))
    assert ids(decision) <= {"info-tips"}


def test_value_expression_is_computed_per_customer() -> None:
    text = SMALL_BANK["issues/cross-sell.yaml"].replace("value: 60", 'value: "income * 0.001"')
    engine = engine_with(files={"issues/cross-sell.yaml": text})
    found = [
        a for _ in range(40) for a in engine.decide(web()).actions if a.action_id == "savings-plan"
    ]
    assert found and all(a.value == 50.0 for a in found)  # income 50,000
    engine.upsert_profile("c1", {"income": None})  # unknown income: value 0, never chosen
    assert all("savings-plan" not in ids(engine.decide(web())) for _ in range(20))


def test_responses_time_out_as_the_configured_outcome() -> None:
    from nextbest.testing import SMALL_BANK

    settings = (
        SMALL_BANK["nextbest.yaml"]
        + "learning:\n  response_timeout: 7d\n  timeout_outcome: ignored\n"
    )
    clock = FixedClock(T0)
    engine = engine_with(files={"nextbest.yaml": settings}, clock=clock)
    decision = engine.decide(web())
    answered = decision.actions[0]
    engine.record_outcome(decision.decision_id, answered.action_id, "accepted")
    assert engine.expire_responses() == 0  # nothing is a week old yet
    clock.set(T0 + timedelta(days=8))
    expired = engine.expire_responses()
    assert expired == len(decision.actions) - 1
    outcomes = {
        r.action_id: r.outcome for r in engine.store.history(decision_id=decision.decision_id)
    }
    assert outcomes[answered.action_id] == "accepted"
    assert all(outcomes[a.action_id] == "ignored" for a in decision.actions[1:])
    assert engine.expire_responses() == 0  # idempotent


def test_decision_ids_are_uuid7_in_time_order() -> None:
    clock = FixedClock(T0)
    engine = engine_with(clock=clock)
    earlier = engine.decide(web()).decision_id
    clock.advance(timedelta(milliseconds=2))
    later = engine.decide(web()).decision_id
    assert uuid.UUID(earlier).version == uuid.UUID(later).version == 7
    assert earlier < later  # the stores' indexes on them grow at one end
    assert int(uuid.UUID(earlier).hex[:12], 16) == int(T0.timestamp() * 1000)
