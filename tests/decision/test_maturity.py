"""Outbound maturity capping: immature models reach only a share of sends once a mature
action is there to send instead."""

from __future__ import annotations

from nextbest.learning import AdmModels
from nextbest.testing import make_engine
from nextbest.types import DecisionRequest, Placement

FLAT = {  # no contact limits: every decision is a fresh send
    "policies.yaml": "eligibility: age >= 18\n",
}


def email(customer: str) -> DecisionRequest:
    return DecisionRequest(
        channel="email",
        placements=(Placement("body", 1),),
        customer_id=customer,
        assurance_level=1,
        explain=True,
    )


def engine_with_customers(n: int):  # type: ignore[no-untyped-def]
    engine = make_engine(FLAT)
    for i in range(n):
        engine.upsert_profile(f"c{i}", {"age": 40, "income": 50000, "in_arrears": False})
        engine.set_consent(f"c{i}", "marketing", "granted")
    return engine


def test_a_new_library_is_not_capped() -> None:
    engine = engine_with_customers(50)
    sent = [engine.decide(email(f"c{i}")) for i in range(50)]
    assert all(d.actions for d in sent)
    assert not any(r.stage == "maturity" for d in sent for r in d.removed)


def test_immature_actions_reach_about_the_minimum_share_beside_a_mature_one() -> None:
    engine = engine_with_customers(400)
    bank = engine.models
    assert isinstance(bank, AdmModels)
    for _ in range(250):  # savings-plan is mature on email: 250 positives
        bank.learn_one("savings-plan", "email", True, {"age": 40})
    decisions = [engine.decide(email(f"c{i}")) for i in range(400)]
    gold = [d for d in decisions if any(a.action_id == "gold-card" for a in d.actions)]
    held = [
        d
        for d in decisions
        if any(r.action_id == "gold-card" and r.stage == "maturity" for r in d.removed)
    ]
    # gold-card (0 positives) reaches 2 % of the sends it is eligible for
    assert len(gold) <= 25
    assert len(held) >= 360
    for d in gold:
        (action,) = d.actions
        assert action.selection_probability <= 0.02 + 1e-9
