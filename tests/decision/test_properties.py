"""Invariants of every decision, over generated customers, consents, histories and sessions:
no returned action ever violates an engagement rule, its consent purpose, its assurance
level or a contact policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nextbest.clock import FixedClock
from nextbest.config.compiled import ENGAGEMENT_STAGES
from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine, default_config_dir
from nextbest.policies import quiet_hours_now
from nextbest.profile import coerce_traits
from nextbest.rules import Scope
from nextbest.store.base import InteractionRow, StoredDecision
from nextbest.store.memory import MemoryStore
from nextbest.testing import T0, make_config
from nextbest.types import DecisionRequest, Direction, Placement
from tests.policies.reference import violated_policy

SMALL = make_config()
BANK = load_config(default_config_dir())

maybe = lambda s: st.none() | s  # noqa: E731

profiles = st.fixed_dictionaries(
    {
        "first_name": maybe(st.sampled_from(["Ada", "Bo"])),
        "age": maybe(st.integers(10, 95)),
        "income": maybe(st.integers(0, 200_000)),
        "balance": maybe(st.integers(-5000, 100_000)),
        "credit_score": maybe(st.integers(300, 850)),
        "in_arrears": maybe(st.booleans()),
        "days_past_due": maybe(st.integers(0, 120)),
        "segment": maybe(st.sampled_from(["student", "mass", "affluent", "private", "senior"])),
        "churn_risk": maybe(st.floats(0, 1)),
        "products": st.lists(
            st.sampled_from(["CHECKING", "SAVINGS", "GOLD_CARD", "MORTGAGE", "TRAVEL_INSURANCE"]),
            max_size=4,
        ),
        "timezone": st.sampled_from(
            ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Not/AZone"]
        ),
        "digital_active": maybe(st.booleans()),
        "tenure_years": maybe(st.integers(0, 40)),
        "travel_per_year": maybe(st.integers(0, 12)),
    }
)
statuses = st.sampled_from(["granted", "denied", "revoked", None])


def histories(config: Any) -> st.SearchStrategy[list[tuple[int, str, str, float]]]:
    return st.lists(
        st.tuples(
            st.integers(0, config.n_actions - 1),
            st.sampled_from(list(config.channels)),
            st.sampled_from(
                ["impression", "impression", "rejected", "accepted", "ignored", "clicked"]
            ),
            st.floats(0, 40 * 86400),
        ),
        max_size=25,
    )


def check(config: Any, data: st.DataObject) -> None:
    traits = {k: v for k, v in data.draw(profiles).items() if k in config.env.profile}
    consents = {p: s for p in config.purposes if (s := data.draw(statuses, label=p)) is not None}
    channel = data.draw(st.sampled_from(list(config.channels)), label="channel")
    spec = config.channels[channel]
    names = data.draw(
        st.lists(st.sampled_from(list(spec.placements)), min_size=1, unique=True),
        label="placements",
    )
    assurance = data.draw(st.integers(0, 4), label="assurance")
    page = data.draw(st.sampled_from(["home", "cards", "loans", "travel"]), label="page")
    hour = data.draw(st.integers(0, 23), label="hour")
    now = T0.replace(hour=hour)
    store = MemoryStore()
    store.upsert_profiles([("c1", traits)], now.timestamp())
    store.set_consents([("c1", p, s, now.timestamp() - 10) for p, s in consents.items()])
    rows = []
    for a, ch, outcome, age in data.draw(histories(config), label="history"):
        action = config.actions[a]
        rows.append(
            InteractionRow(
                "c1",
                "old",
                action.id,
                action.issue,
                action.group,
                ch,
                outcome,
                now.timestamp() - age,
            )
        )
    store.record_decisions(
        [
            (
                StoredDecision(
                    "old",
                    now.timestamp() - 50 * 86400,
                    "c1",
                    None,
                    channel,
                    "inbound",
                    config.version,
                    [],
                    {},
                ),
                rows,
            )
        ]
    )
    engine = Engine(store, config, clock=FixedClock(now), seed=data.draw(st.integers(0, 2**32)))
    request = DecisionRequest(
        channel=channel,
        placements=tuple(
            Placement(n, data.draw(st.integers(1, spec.placements[n].max_count))) for n in names
        ),
        customer_id="c1",
        context={"page": page} if "page" in config.env.context else {},
        assurance_level=assurance,
    )
    decision = engine.decide(request)
    typed = coerce_traits(config.env.profile, traits)
    scope = Scope(profile=typed, context=dict(request.context), now=now)
    seen = set()
    for returned in decision.actions:
        action = config.action(returned.action_id)
        assert returned.action_id not in seen
        seen.add(returned.action_id)
        for stage in ENGAGEMENT_STAGES:
            for r in action.stage_rules[stage]:
                assert config.rules[r].test(scope), (action.id, stage, config.rules[r].text)
        status = consents.get(action.purpose)
        if config.purposes[action.purpose] == "consent":
            assert status == "granted", (action.id, action.purpose, status)
        else:
            assert status not in ("denied", "revoked"), (action.id, status)
        assert action.min_assurance <= assurance
        assert action.enabled
        assert violated_policy(config, action, channel, rows, now.timestamp()) is None
        if decision.direction is Direction.OUTBOUND:
            assert not quiet_hours_now(config, channel, now, typed.get("timezone"))
    per_placement: dict[str, list[str]] = {}
    for returned in decision.actions:
        per_placement.setdefault(returned.placement, []).append(
            config.action(returned.action_id).group
        )
    for groups in per_placement.values():
        assert len(groups) == len(set(groups))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_small_bank_never_violates_a_policy(data: st.DataObject) -> None:
    check(SMALL, data)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_demo_bank_never_violates_a_policy(data: st.DataObject) -> None:
    check(BANK, data)


def test_permissive_inputs_do_return_actions() -> None:
    """Guards the properties above against passing vacuously."""
    store = MemoryStore()
    store.upsert_profiles(
        [("c1", {"age": 40, "income": 60000, "in_arrears": False, "products": []})], T0.timestamp()
    )
    store.set_consents([("c1", "marketing", "granted", T0.timestamp())])
    engine = Engine(store, SMALL, clock=FixedClock(T0 + timedelta(hours=0)), seed=3)
    decision = engine.decide(
        DecisionRequest(
            channel="web",
            placements=(Placement("hero"), Placement("sidebar", 2)),
            customer_id="c1",
            assurance_level=2,
        )
    )
    assert len(decision.actions) == 3
