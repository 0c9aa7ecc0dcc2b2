"""How fast does a newly added action learn its true acceptance rate?

For each of `actions` demo actions in turn, the demo bank's models first learn from `warm`
responses spread over every other action of the channel (drawn from the hidden ground
truth, on generated customers and contexts). Then the "new" action starts to get
responses, and at each checkpoint we compare what the models believe about it with the
truth on a fixed panel of customers: the mean absolute error of its propensity per
customer, and the error of its average propensity against the true average rate. The same
draws run with the hierarchical prior and group models (`cold_start: hierarchical`) and
without (`cold_start: none`: ADM's start at 0.5); the curves, averaged over the actions,
show what borrowing strength from the group buys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from nextbest.config.compiled import CompiledConfig
from nextbest.demo.profiles import generate_profiles
from nextbest.demo.truth import DEFAULT_WORLD, GroundTruth
from nextbest.learning import AdmModels, model_features
from nextbest.profile.traits import coerce_traits
from nextbest.sim.simulator import INTENTS, PAGES

#: responses of the new action after which its error is reported
CHECKPOINTS = (0, 10, 25, 50, 100, 200, 400)


@dataclass
class ColdStartReport:
    action_ids: list[str]
    channel: str
    true_rate: float
    curves: dict[str, list[dict[str, float]]]  # cold_start → one row per checkpoint

    def as_dict(self) -> dict[str, Any]:
        return {
            "action_ids": self.action_ids,
            "channel": self.channel,
            "true_rate": round(self.true_rate, 5),
            "curves": self.curves,
            "early_rate_error": {k: round(self.early_error(k), 5) for k in self.curves},
            "faster": self.faster(),
        }

    def faster(self) -> bool:
        """Whether the hierarchical prior's average error of the believed rate over the
        checkpoints up to 100 responses — the cold start — is the lower one."""
        return self.early_error("hierarchical") < self.early_error("none")

    def early_error(self, cold_start: str) -> float:
        rows = [r for r in self.curves[cold_start] if r["responses"] <= 100]
        return sum(r["rate_error"] for r in rows) / len(rows)


def cold_start_experiment(
    config: CompiledConfig,
    *,
    channel: str = "web",
    actions: int = 6,
    warm: int = 5_000,
    customers: int = 5_000,
    seed: int = 7,
    world: str = DEFAULT_WORLD,
) -> ColdStartReport:
    truth = GroundTruth(config, seed=seed, world=world)
    raw = [traits for _, traits in generate_profiles(customers, seed)]
    typed = [coerce_traits(config.traits, t) for t in raw]
    action_ids = [a.id for a in config.actions]
    on_channel = [a.index for a in config.actions if _offered(a, channel)]
    # new arrivals with siblings: actions whose group has at least two on the channel
    counts = np.bincount(config.group_idx[on_channel])
    candidates = [a for a in on_channel if counts[config.group_idx[a]] >= 2]
    rng = np.random.default_rng(seed)
    chosen = [
        int(a) for a in rng.choice(candidates, size=min(actions, len(candidates)), replace=False)
    ]
    n = warm + CHECKPOINTS[-1] + 400
    contexts = [
        {
            "page": PAGES[int(rng.integers(len(PAGES)))],
            "intent": INTENTS[int(rng.integers(len(INTENTS)))],
        }
        for _ in range(n)
    ]
    people = rng.integers(len(raw), size=n)
    dice = rng.random(n)
    picks = rng.integers(len(on_channel), size=warm)
    panel = [(int(people[-1 - i]), contexts[-1 - i]) for i in range(400)]
    probabilities = [
        truth.probabilities(raw[c], action_ids, channel, ctx)
        for c, ctx in zip(people, contexts, strict=True)
    ]
    panel_truth = np.array(
        [truth.probabilities(raw[c], action_ids, channel, ctx) for c, ctx in panel]
    )
    features = [
        model_features(config, typed[c], ctx) for c, ctx in zip(people, contexts, strict=True)
    ]
    panel_features = [model_features(config, typed[c], ctx) for c, ctx in panel]

    sums: dict[str, np.ndarray] = {}
    for action in chosen:
        others = [a for a in on_channel if a != action]
        for cold_start in ("hierarchical", "none"):
            bank = AdmModels(mode="improved", cold_start=cold_start)
            bank.bind(config)
            for i in range(warm):
                a = others[int(picks[i]) % len(others)]
                bank.learn_one(
                    action_ids[a], channel, bool(dice[i] < probabilities[i][a]), features[i]
                )
            learned = 0
            rows = []
            for checkpoint in CHECKPOINTS:
                while learned < checkpoint:
                    i = warm + learned
                    y = bool(dice[i] < probabilities[i][action])
                    bank.learn_one(action_ids[action], channel, y, features[i])
                    learned += 1
                beliefs = np.array(
                    [
                        bank.posterior(np.array([action]), channel, x).mean()[0]
                        for x in panel_features
                    ]
                )
                true = panel_truth[:, action]
                rows.append([np.abs(beliefs - true).mean(), abs(beliefs.mean() - true.mean())])
            sums[cold_start] = sums.get(cold_start, 0) + np.array(rows)
    curves = {
        cold_start: [
            {
                "responses": checkpoint,
                "mean_abs_error": round(float(total[k, 0] / len(chosen)), 5),
                "rate_error": round(float(total[k, 1] / len(chosen)), 5),
            }
            for k, checkpoint in enumerate(CHECKPOINTS)
        ]
        for cold_start, total in sums.items()
    }
    return ColdStartReport(
        [action_ids[a] for a in chosen], channel, float(panel_truth[:, chosen].mean()), curves
    )


def _offered(action: Any, channel: str) -> bool:
    return any(t.channel == channel for t in action.treatments)
