"""Send simulated customers through the real engine and compare it with yardsticks.

The arms see the *same* customers, channels, contexts and response dice each day:

* **engine** — the real engine on the real store, learning from every outcome;
* **random** — the same engine and rules, but every propensity is drawn uniformly at random
  (Pega's "random model control group"): how well arbitration does without learning;
* **oracle** — the same engine and rules, but propensities come from the hidden ground
  truth: an upper bound for what learning could reach;
* **learnable** — the oracle without the truth's per-customer noise, which no model of
  profile and context can learn (a customer shows up once or twice a month): the ceiling
  of any such model;
* **beta** — a Beta-Bernoulli rate per action × channel, the stand-in the adaptive models
  must beat (when the engine runs them).

Each arm keeps its own interaction history, so contact policies act on each arm's own
past. The acceptance rate is accepted offers per interaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from nextbest.clock import FixedClock
from nextbest.config.compiled import CompiledConfig
from nextbest.decision.engine import Engine
from nextbest.demo.profiles import generate_consents, generate_permissions, generate_profiles
from nextbest.demo.truth import DEFAULT_WORLD, GroundTruth
from nextbest.learning import BetaBernoulliModels, UniformPropensities
from nextbest.learning.base import Features, KnownPropensities, Posterior
from nextbest.store.base import ConsentRecord, Store
from nextbest.store.memory import MemoryStore
from nextbest.types import DecisionRequest, Outcome, Placement

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday

#: channel mix of simulated interactions: (channel, share, assurance level, daytime only)
CHANNEL_MIX: tuple[tuple[str, float, int], ...] = (
    ("web", 0.35, 1),
    ("app", 0.30, 2),
    ("call_center", 0.10, 2),
    ("email", 0.15, 1),
    ("sms", 0.10, 1),
)
PAGES = (
    "home",
    "home",
    "home",
    "cards",
    "loans",
    "savings",
    "insurance",
    "invest",
    "mortgage",
    "support",
    "travel",
)
INTENTS = ("none", "none", "none", "none", "complaint", "question", "purchase")


class OracleModels(UniformPropensities):
    """Propensities from the ground truth for the customer being decided on."""

    def __init__(self) -> None:
        super().__init__()
        self.truth = np.zeros(0)

    def posterior(self, actions: IntArray, channel: str, x: Features | None = None) -> Posterior:
        return KnownPropensities(np.asarray(self.truth[actions], dtype=np.float64))


@dataclass
class ArmDay:
    interactions: int = 0
    accepted: int = 0
    value: float = 0.0

    @property
    def acceptance_rate(self) -> float:
        return self.accepted / self.interactions if self.interactions else 0.0


#: arm → prefix of its keys in the JSON report
ARM_KEYS = (
    ("engine", ""),
    ("random", "baseline_"),
    ("oracle", "oracle_"),
    ("learnable", "learnable_"),
    ("beta", "beta_"),
)


@dataclass
class DayResult:
    day: int
    arms: dict[str, ArmDay] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"day": self.day, "interactions": self.arms["engine"].interactions}
        for name, key in ARM_KEYS:
            if name not in self.arms:
                continue
            arm = self.arms[name]
            out[f"{key}acceptance_rate"] = round(arm.acceptance_rate, 5)
            out[f"{key}accepted"] = arm.accepted
            out[f"{key}value"] = round(arm.value, 2)
        return out


@dataclass
class SimulationReport:
    days: list[DayResult]
    customers: int
    interactions_per_day: int
    seed: int
    config_version: str
    world: str = DEFAULT_WORLD

    def _last(self, arm: str, n: int = 5) -> tuple[float, float]:
        tail = self.days[-n:]
        interactions = sum(d.arms[arm].interactions for d in tail)
        accepted = sum(d.arms[arm].accepted for d in tail)
        value = sum(d.arms[arm].value for d in tail)
        return (accepted / interactions if interactions else 0.0, value)

    def as_dict(self) -> dict[str, Any]:
        engine, engine_value = self._last("engine")
        base, base_value = self._last("random")
        oracle, oracle_value = self._last("oracle")
        learnable, learnable_value = self._last("learnable")
        extra: dict[str, Any] = {}
        if self.days and "beta" in self.days[0].arms:
            beta, beta_value = self._last("beta")
            extra = {
                "last5_beta_acceptance_rate": round(beta, 5),
                "last5_lift_vs_beta": round(engine / beta, 3) if beta else None,
                "last5_learnable_lift_vs_beta": round(learnable / beta, 3) if beta else None,
                "last5_beta_value": round(beta_value, 2),
            }
        return {
            "days": [d.as_dict() for d in self.days],
            "customers": self.customers,
            "interactions_per_day": self.interactions_per_day,
            "seed": self.seed,
            "world": self.world,
            "config_version": self.config_version,
            "last5_acceptance_rate": round(engine, 5),
            "last5_baseline_acceptance_rate": round(base, 5),
            "last5_oracle_acceptance_rate": round(oracle, 5),
            "last5_learnable_acceptance_rate": round(learnable, 5),
            "last5_lift_vs_baseline": round(engine / base, 3) if base else None,
            "last5_value": round(engine_value, 2),
            "last5_baseline_value": round(base_value, 2),
            "last5_oracle_value": round(oracle_value, 2),
            "last5_learnable_value": round(learnable_value, 2),
            **extra,
        }


def seed_customers(stores: list[Store], config: CompiledConfig, customers: int, seed: int) -> None:
    """Put the generated demo customers and their consents into every store, if missing."""
    rng = np.random.default_rng(seed + 1)
    ts = START.timestamp() - 86400
    batch: list[tuple[str, Mapping[str, Any]]] = []
    consents: list[ConsentRecord] = []
    permissions: list[ConsentRecord] = []

    def flush() -> None:
        for store in stores:
            store.upsert_profiles(batch, ts)
            store.set_consents(consents, permissions)
        batch.clear()
        consents.clear()
        permissions.clear()

    for customer_id, traits in generate_profiles(customers, seed):
        batch.append((customer_id, traits))
        for purpose, status in generate_consents(customer_id, traits, rng).items():
            if purpose in config.purposes:
                consents.append(ConsentRecord(customer_id, purpose, status, ts, source="demo"))
        for channel, status in generate_permissions(customer_id, traits, rng).items():
            if channel in config.channels:
                permissions.append(ConsentRecord(customer_id, channel, status, ts, source="demo"))
        if len(batch) >= 5000:
            flush()
    if batch:
        flush()


def simulate(
    engine: Engine,
    *,
    days: int = 30,
    customers: int = 20_000,
    interactions_per_day: int = 1000,
    seed: int = 7,
    world: str = DEFAULT_WORLD,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationReport:
    """Run the simulation; `engine` must run on a `FixedClock` (it is moved day by day).
    `world` is the demo truth's (`nextbest.demo.truth.WORLDS`)."""
    clock = engine.clock
    if not isinstance(clock, FixedClock):
        raise TypeError("simulate() needs an engine with a FixedClock")
    config = engine.config
    truth = GroundTruth(config, seed=seed, world=world)
    oracle_models, learnable_models = OracleModels(), OracleModels()
    # the yardsticks need no selection probabilities (skip their Monte-Carlo estimate) and
    # no random control group
    plain = dataclasses.replace(
        config,
        arbitration=config.arbitration.model_copy(update={"selection_draws": 0}),
        learning=config.learning.model_copy(update={"control_group": 0.0}),
    )
    arms: dict[str, Engine] = {
        "engine": engine,
        "random": Engine(
            MemoryStore(), plain, clock=clock, seed=seed + 11, models=UniformPropensities()
        ),
        "oracle": Engine(MemoryStore(), plain, clock=clock, seed=seed + 13, models=oracle_models),
        "learnable": Engine(
            MemoryStore(), plain, clock=clock, seed=seed + 19, models=learnable_models
        ),
    }
    if not isinstance(engine.models, BetaBernoulliModels):
        # the stand-in the adaptive models must beat: a rate per action × channel
        arms["beta"] = Engine(
            MemoryStore(), plain, clock=clock, seed=seed + 17, models=BetaBernoulliModels()
        )
    if engine.store.count_profiles() < customers:
        seed_customers([engine.store], config, customers, seed)
    customer_ids = engine.store.customer_ids(customers)
    yardsticks = [arm.store for name, arm in arms.items() if name != "engine"]
    profiles: dict[str, dict[str, Any]] = {}

    def profile_of(customer_id: str) -> dict[str, Any]:
        # the yardsticks get a customer's profile and consents when the customer first
        # shows up, so a million-customer bank is not copied into memory twice
        if customer_id not in profiles:
            traits = profiles[customer_id] = engine.store.get_profile(customer_id) or {}
            ts = START.timestamp() - 86400
            consents = engine.store.consent_ledger(customer_id)
            permissions = engine.store.permission_ledger(customer_id)
            for store in yardsticks:
                store.upsert_profiles([(customer_id, traits)], ts)
                store.set_consents(consents, permissions)
        return profiles[customer_id]

    action_ids = [a.id for a in config.actions]
    value_of = {a.id: a.value for a in config.actions}

    rng = np.random.default_rng(seed)
    channels = [c for c, _, _ in CHANNEL_MIX if c in config.channels]
    shares = np.array([s for c, s, _ in CHANNEL_MIX if c in config.channels])
    shares /= shares.sum()
    assurance = {c: a for c, _, a in CHANNEL_MIX}
    results: list[DayResult] = []
    total = days * interactions_per_day
    done = 0
    for day in range(days):
        day_result = DayResult(day=day + 1, arms={name: ArmDay() for name in arms})
        day_start = START + timedelta(days=day)
        for i in range(interactions_per_day):
            customer_id = customer_ids[int(rng.integers(len(customer_ids)))]
            channel = channels[int(rng.choice(len(channels), p=shares))]
            # spread interactions over 09:00–19:00 so outbound sends avoid quiet hours
            clock.set(day_start + timedelta(hours=9 + 10 * i / interactions_per_day))
            context = {
                "page": PAGES[int(rng.integers(len(PAGES)))],
                "intent": INTENTS[int(rng.integers(len(INTENTS)))],
            }
            placement = next(iter(config.channels[channel].placements))
            request = DecisionRequest(
                channel=channel,
                placements=(Placement(placement, 1),),
                customer_id=customer_id,
                context=context,
                assurance_level=assurance.get(channel, 1),
            )
            dice = rng.random(2)
            probs = truth.probabilities(profile_of(customer_id), action_ids, channel, context)
            oracle_models.truth = probs
            learnable_models.truth = truth.probabilities(
                profile_of(customer_id), action_ids, channel, context, noise=False
            )
            for name, arm in arms.items():
                decision = arm.decide(request)
                tally = day_result.arms[name]
                tally.interactions += 1
                if not decision.actions:
                    continue
                top = decision.actions[0]
                p = float(probs[config.action_index[top.action_id]])
                if dice[0] < p:
                    outcome = Outcome.ACCEPTED
                    tally.accepted += 1
                    tally.value += value_of.get(top.action_id) or top.value
                else:
                    outcome = Outcome.REJECTED if dice[1] < 0.3 else Outcome.IGNORED
                arm.record_outcome(decision.decision_id, top.action_id, outcome.value)
            done += 1
            if progress is not None and done % 100 == 0:
                progress(done, total)
        results.append(day_result)
    return SimulationReport(
        days=results,
        customers=len(customer_ids),
        interactions_per_day=interactions_per_day,
        seed=seed,
        config_version=config.version,
        world=world,
    )
