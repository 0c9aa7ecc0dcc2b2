"""In-process decision latency at 100, 1,000 and 2,500 actions.

    python benchmarks/decide.py --json

Builds, in a temporary folder, a configuration of N actions (six issues; 20 engagement
rules per action, drawn from a shared pool so that groups share most of them; the demo
contact policies active), a SQLite store with demo customers and 200 history rows per
customer, and warm models. Then it times `Engine.decide` end to end — profile, consents
and history read from SQLite, the pipeline, and the decision written back — for random
customers and contexts.

Baseline, measured in the same run: the store reads every decision needs (profile,
consents, history) without deciding. Machines here are shared and noisy; compare the
ratio `p50_vs_baseline`, not absolute times across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from nextbest.clock import FixedClock
from nextbest.config.loader import load_config
from nextbest.decision.engine import Engine
from nextbest.demo.profiles import generate_profiles
from nextbest.learning import AdmModels, model_features
from nextbest.profile.traits import coerce_traits
from nextbest.sim.simulator import START
from nextbest.store import open_store
from nextbest.store.base import InteractionRow, StoredDecision
from nextbest.types import DecisionRequest, Placement

BANK = Path(__file__).resolve().parent.parent / "nextbest" / "demo" / "bank"
ISSUES = ("acquisition", "cross-sell", "service", "retention", "information", "resilience")
PAGES = (
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

# a pool of realistic rules over the demo schema; actions draw theirs from it
RULE_POOL = [
    "age >= 18",
    "age < 80",
    "age >= 21",
    "age < 67",
    "income >= 20000",
    "income >= 35000",
    "income < 120000",
    "credit_score >= 550",
    "credit_score >= 600",
    "credit_score >= 680",
    "not in_arrears",
    "days_past_due == 0",
    "balance >= 0",
    "balance > 1000",
    "tenure_years >= 1",
    "tenure_years >= 3",
    "digital_active",
    "churn_risk < 0.8",
    'segment != "student"',
    'segment in ["mass", "affluent", "private"]',
    'not owns("GOLD_CARD")',
    'not owns("MORTGAGE")',
    'not owns("PERSONAL_LOAN")',
    'owns("CHECKING")',
    'not owns("TRAVEL_INSURANCE")',
    "travel_per_year >= 1",
    "kids >= 0",
    "homeowner or income > 50000",
    "days_since(last_login) < 365",
    'region != "XX"',
    "coalesce(days_past_due, 0) < 30",
    "len(products) < 12",
    'lower(segment) != "blocked"',
    'age_in_years(date("2000-01-01")) > 0 or age > 0',
    "income * 0.3 > 1000",
    "balance + income > 0",
    'not contains(products, "CLOSED")',
    "credit_score >= 300",
    "churn_risk >= 0",
    "salary_account or income > 0",
]


def build_config(folder: Path, n_actions: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name in ("nextbest.yaml", "schema.yaml", "policies.yaml"):
        (folder / name).write_text((BANK / name).read_text())
    settings = yaml.safe_load((BANK / "nextbest.yaml").read_text())
    # no fallbacks: they refer to demo actions this library does not have
    for channel in settings["channels"].values():
        placements = channel.get("placements")
        if isinstance(placements, dict):
            for placement in placements.values():
                placement.pop("fallback", None)
    (folder / "nextbest.yaml").write_text(yaml.safe_dump(settings, sort_keys=False))
    policies = yaml.safe_load((BANK / "policies.yaml").read_text())
    policies.pop("triggers", None)  # they name demo actions this library does not have
    policies.pop("context_weights", None)
    policies["context_weights"] = [
        {"when": f'context.page == "{page}"', "weight": 2.0, "tag": page} for page in PAGES
    ]
    (folder / "policies.yaml").write_text(yaml.safe_dump(policies, sort_keys=False))
    (folder / "issues").mkdir()
    per_issue = n_actions // len(ISSUES)
    made = 0
    for i, issue in enumerate(ISSUES):
        count = per_issue if i < len(ISSUES) - 1 else n_actions - made
        groups = []
        n_groups = max(1, count // 20)
        for g in range(n_groups):
            # 5 group rules shared by every action of the group, 12 action rules from the pool
            group_rules = [str(r) for r in rng.choice(RULE_POOL, 5, replace=False)]
            actions = []
            size = count // n_groups + (1 if g < count % n_groups else 0)
            for a in range(size):
                made += 1
                action_id = f"{issue}-g{g}-a{a}"
                actions.append(
                    {
                        "id": action_id,
                        "value": float(rng.integers(1, 300)),
                        "purpose": "marketing"
                        if issue in ("acquisition", "cross-sell", "retention")
                        else "service",
                        "min_assurance": int(rng.integers(0, 2)),
                        "tags": [str(rng.choice(PAGES))],
                        "eligibility": [str(r) for r in rng.choice(RULE_POOL, 4, replace=False)],
                        "applicability": [str(r) for r in rng.choice(RULE_POOL, 4, replace=False)],
                        "suitability": [str(r) for r in rng.choice(RULE_POOL, 4, replace=False)],
                        "treatments": [
                            {
                                "id": f"{action_id}-web",
                                "channel": "web",
                                "placement": "hero",
                                "content": "Hello {{ first_name }}, " + action_id,
                            },
                            {
                                "id": f"{action_id}-side",
                                "channel": "web",
                                "placement": "sidebar",
                                "content": action_id,
                            },
                            {
                                "id": f"{action_id}-mail",
                                "channel": "email",
                                "placement": "body",
                                "content": action_id,
                            },
                        ],
                    }
                )
            groups.append({"group": f"g{g}", "suitability": group_rules, "actions": actions})
        doc = {
            "issue": issue,
            "eligibility": [
                "age >= 16",
                "not in_arrears or days_past_due < 90",
                "credit_score >= 300",
            ],
            "groups": groups,
        }
        (folder / "issues" / f"{issue}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def seed_store(db: str, engine: Engine, customers: int, history_rows: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    store = engine.store
    ids = []
    batch = []
    consents = []
    for customer_id, traits in generate_profiles(customers, seed):
        ids.append(customer_id)
        batch.append((customer_id, traits))
        for purpose in ("marketing", "personalization"):  # decisions use the whole profile
            consents.append((customer_id, purpose, "granted", START.timestamp() - 86400 * 100))
    store.upsert_profiles(batch, START.timestamp())
    store.set_consents(consents)
    config = engine.config
    outcomes = np.array(["impression"] * 6 + ["rejected", "ignored", "accepted", "clicked"])
    now = START.timestamp()
    for customer_id in ids:
        picks = rng.integers(0, config.n_actions, history_rows)
        ages = rng.uniform(0, 90 * 86400, history_rows)
        rows = [
            InteractionRow(
                customer_id=customer_id,
                decision_id=f"seed-{customer_id}",
                action_id=config.actions[p].id,
                issue=config.actions[p].issue,
                group=config.actions[p].group,
                channel=str(rng.choice(["web", "email", "app"])),
                outcome=str(rng.choice(outcomes)),
                ts=now - age,
            )
            for p, age in zip(picks, ages, strict=True)
        ]
        store.record_decision(
            StoredDecision(
                decision_id=f"seed-{customer_id}",
                ts=now - 90 * 86400,
                customer_id=customer_id,
                interaction_id=None,
                channel="web",
                direction="inbound",
                config_version=config.version,
                actions=[],
                document={},
            ),
            rows,
        )
    # warm models: every action on the web channel has seen some responses of these
    # customers (the ADM bank learns from their profiles and page contexts)
    bank = engine.models
    if isinstance(bank, AdmModels):
        profiles = [coerce_traits(config.traits, store.get_profile(c) or {}) for c in ids]
        responses = []
        for action in config.actions:
            rate = rng.uniform(0.005, 0.2)
            for _ in range(int(rng.integers(20, 200))):
                x = model_features(
                    config,
                    profiles[int(rng.integers(len(profiles)))],
                    {"page": str(rng.choice(PAGES))},
                )
                responses.append((action.id, "web", bool(rng.random() < rate), x))
        bank.learn_many(responses)
        store.save_model_states(bank.to_state())
    return ids


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.array(samples), q))


def run_size(
    n_actions: int, decisions: int, customers: int, history_rows: int, seed: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "config"
        folder.mkdir()
        build_config(folder, n_actions, seed)
        config = load_config(folder)
        db = str(Path(tmp) / "bench.db")
        clock = FixedClock(START)
        engine = Engine(open_store(db), config, clock=clock, seed=seed)
        ids = seed_store(db, engine, customers, history_rows, seed)
        rng = np.random.default_rng(seed + 1)
        requests = [
            DecisionRequest(
                channel="web",
                placements=(Placement("hero", 1), Placement("sidebar", 2)),
                customer_id=ids[int(rng.integers(len(ids)))],
                context={"page": str(rng.choice(PAGES))},
                assurance_level=1,
            )
            for _ in range(decisions)
        ]
        for request in requests[:50]:  # warm caches and the SQLite page cache
            engine.decide(request)
        base: list[float] = []
        store = engine.store
        since = START.timestamp() - config.max_history_window.total_seconds()
        for request in requests:
            t0 = time.perf_counter()
            cid = request.customer_id or ""
            store.get_profile(cid)
            store.get_consents(cid)
            store.contact_history(cid, since)
            base.append((time.perf_counter() - t0) * 1000)
        lat: list[float] = []
        returned = 0
        t_start = time.perf_counter()
        for request in requests:
            t0 = time.perf_counter()
            decision = engine.decide(request)
            lat.append((time.perf_counter() - t0) * 1000)
            returned += len(decision.actions)
        elapsed = time.perf_counter() - t_start
        engine.close()
        p50 = percentile(lat, 50)
        base_p50 = percentile(base, 50)
        return {
            "actions": n_actions,
            "distinct_rules": len(config.rules),
            "rules_per_action": 20,
            "history_rows_per_customer": history_rows,
            "decisions": decisions,
            "p50_ms": round(p50, 3),
            "p95_ms": round(percentile(lat, 95), 3),
            "p99_ms": round(percentile(lat, 99), 3),
            "mean_ms": round(statistics.fmean(lat), 3),
            "decisions_per_s": round(decisions / elapsed, 1),
            "actions_returned_per_decision": round(returned / decisions, 2),
            "baseline_store_reads_p50_ms": round(base_p50, 3),
            "p50_vs_baseline": round(p50 / base_p50, 2) if base_p50 else None,
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument("--sizes", default="100,1000,2500")
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = run_size(size, args.decisions, args.customers, args.history, args.seed)
        results.append(result)
        if not args.json:
            print(json.dumps(result), file=sys.stderr)
    report = {
        "benchmark": "decide",
        "target": "p99 <= 5 ms at 1000 actions",
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
