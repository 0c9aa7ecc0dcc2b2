"""The ADM-class model: Pega's formulas (against pdstools), learning, the check suite."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pdstools.adm.ADMDatamart import ADMDatamart
from pdstools.utils import cdh_utils

from nextbest.learning import checks
from nextbest.learning.adm import AdmModel
from nextbest.learning.binning import merge_adjacent
from nextbest.learning.metrics import auc, auc_from_bincounts, bin_log_odds, pav

counts = st.lists(st.integers(0, 500).map(float), min_size=1, max_size=12)


@given(counts, counts)
def test_bin_log_odds_equal_pdstools(pos: list[float], neg: list[float]) -> None:
    n = min(len(pos), len(neg))
    ours = bin_log_odds(pos[:n], neg[:n])
    theirs = cdh_utils.bin_log_odds(pos[:n], neg[:n])
    assert np.allclose(ours, theirs, rtol=0, atol=1e-9)


@given(counts, counts)
def test_auc_from_bincounts_equals_pdstools(pos: list[float], neg: list[float]) -> None:
    n = min(len(pos), len(neg))
    with np.errstate(invalid="ignore"):  # pdstools divides 0 by 0 for empty bins
        theirs = cdh_utils.auc_from_bincounts(pos[:n], neg[:n])
    assert abs(auc_from_bincounts(pos[:n], neg[:n]) - theirs) < 1e-9


def test_auc_matches_pairwise_definition() -> None:
    rng = np.random.default_rng(4)
    y = rng.random(300) < 0.3
    s = np.round(rng.random(300) + y * 0.3, 1)  # many ties
    pairs = [(a, b) for a in s[y] for b in s[~y]]
    expected = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a, b in pairs) / len(pairs)
    assert abs(auc(y, s) - expected) < 1e-12


def test_pav_makes_rates_monotone_and_keeps_totals() -> None:
    pos = [5, 1, 4, 2, 9, 3]
    neg = [5, 9, 6, 8, 1, 7]
    blocks = pav(pos, neg)
    rates = [p / (p + q) for _, _, p, q in blocks]
    assert rates == sorted(rates)
    assert sum(b[2] for b in blocks) == sum(pos) and sum(b[3] for b in blocks) == sum(neg)
    assert blocks[0][0] == 0 and blocks[-1][1] == len(pos)


def test_merge_respects_minimum_share_and_keeps_order() -> None:
    pos = [1, 0, 30, 31, 0, 2, 50]
    neg = [99, 2, 70, 69, 1, 98, 50]
    groups = merge_adjacent(pos, neg, min_share=0.05, granularity=0.25)
    assert [i for g in groups for i in g] == list(range(7))
    total = sum(pos) + sum(neg)
    assert all(sum(pos[i] + neg[i] for i in g) >= 0.05 * total for g in groups)
    # the two alike bins in the middle end up together
    assert any({2, 3} <= set(g) for g in groups)


def _fixed_model() -> AdmModel:
    """Symbolic predictors and no merging: the bins hold exactly the counts we feed."""
    model = AdmModel(
        {"colour": "symbolic", "size": "symbolic", "noise": "symbolic"},
        min_share=0.0,
        granularity=1.0,
        performance_threshold=0.5,
        correlation_threshold=1.01,
    )
    rng = random.Random(5)
    for _ in range(2000):
        colour = rng.choice(["red", "green", "blue"])
        size = rng.choice(["S", "M", "L", "XL"])
        p = {"red": 0.3, "green": 0.1, "blue": 0.05}[colour] * {
            "S": 0.5,
            "M": 1,
            "L": 1.5,
            "XL": 2,
        }[size]
        model.learn_one(
            {"colour": colour, "size": size, "noise": rng.choice("ab")}, rng.random() < p
        )
    model.analyse()
    return model


def _binning_frame(model: AdmModel) -> pl.LazyFrame:
    rows = []
    binning = model.binning()
    for predictor in (*binning.predictors, binning.classifier):
        assert predictor is not None
        for b in predictor.bins:
            rows.append(
                {
                    "ModelID": "m1",
                    "PredictorName": predictor.name,
                    "EntryType": predictor.entry_type,
                    "BinIndex": b.index,
                    "BinPositives": b.positives,
                    "BinNegatives": b.negatives,
                }
            )
    return pl.LazyFrame(rows)


def test_bin_log_odds_of_a_trained_model_equal_pdstools() -> None:
    model = _fixed_model()
    for predictor in model.binning().predictors:
        pos = [b.positives for b in predictor.bins]
        neg = [b.negatives for b in predictor.bins]
        assert np.allclose(
            [b.log_odds for b in predictor.bins], cdh_utils.bin_log_odds(pos, neg), atol=1e-9
        )
        with np.errstate(invalid="ignore"):  # pdstools divides 0 by 0 for the empty bins
            theirs = cdh_utils.auc_from_bincounts(pos, neg)
        assert abs(predictor.performance - theirs) < 1e-9


def test_score_range_equals_pdstools() -> None:
    """Our score of the customers with the lowest and highest bins = pdstools' range."""
    model = _fixed_model()
    binning = model.binning()
    theirs = ADMDatamart._minMaxScoresPerModel(_binning_frame(model)).collect().row(0, named=True)
    lowest: dict[str, object] = {}
    highest: dict[str, object] = {}
    value = {"MISSING": None, "RESIDUAL": "never-seen"}
    for predictor in binning.active:
        low = min(predictor.bins, key=lambda b: b.log_odds)
        high = max(predictor.bins, key=lambda b: b.log_odds)
        lowest[predictor.name] = value.get(low.type, low.symbol)
        highest[predictor.name] = value.get(high.type, high.symbol)
    # Pega's 1/nBins smoothing makes an empty bin (here MISSING and RESIDUAL) the most
    # positive one: ln((Σneg + 1) / (Σpos + 1)) > 0 at a success rate below one half
    assert highest == {p.name: None for p in binning.active}
    assert abs(model.score_one(lowest) - theirs["score_min"]) < 1e-9
    assert abs(model.score_one(highest) - theirs["score_max"]) < 1e-9
    assert theirs["nActivePredictors"] == len(binning.active)


def test_propensity_and_auc_equal_pdstools_on_the_classifier() -> None:
    model = _fixed_model()
    classifier = model.binning().classifier
    assert classifier is not None
    pos = [b.positives for b in classifier.bins]
    neg = [b.negatives for b in classifier.bins]
    adjusted = (
        pl.DataFrame({"p": pos, "n": neg})
        .select(
            (pl.col("p") + pl.lit(0.5))
            / (pl.col("p") + pl.col("n") + pl.lit(1))  # pdstools' BinAdjustedPropensity
        )["p"]
        .to_list()
    )
    assert np.allclose([b.propensity for b in classifier.bins], adjusted, atol=1e-9)
    order = list(range(len(pos)))  # bins in score order
    assert abs(model.auc - cdh_utils.auc_from_bincounts(pos, neg, order)) < 1e-9
    # a customer's propensity is its classifier bin's adjusted propensity
    x = {"colour": "red", "size": "XL", "noise": "a"}
    score = model.score_one(x)
    k = next(i for i, b in enumerate(classifier.bins) if (b.upper is None or score < b.upper))
    assert abs(model.predict_one(x) - adjusted[k]) < 1e-12


def test_empty_model_says_one_half_and_auc_one_half() -> None:
    model = AdmModel({"age": "numeric"})
    assert model.predict_one({"age": 30}) == 0.5
    assert model.auc == 0.5


@pytest.mark.parametrize("mode", ["adm", "improved"])
def test_learns_a_signal_online(mode: str) -> None:
    model = AdmModel(mode=mode)
    rows = checks.stream(3000, seed=9)
    preds = []
    for x, y in rows:
        preds.append(model.predict_one(x))
        model.learn_one(x, y)
    labels = [y for _, y in rows]
    assert auc(labels[1500:], preds[1500:]) > 0.72
    binning = model.binning()
    active = {p.name for p in binning.active}
    performance = {p.name: p.performance for p in binning.predictors}
    assert {"age", "segment"} <= active
    # noise may pass the 0.52 bar by chance (as in ADM), but ranks below the signals
    assert performance["score"] < performance["segment"] < performance["age"]
    assert binning.responses == 3000


def test_learn_one_stream_equals_learn_many() -> None:
    rows = checks.stream(1500)
    one = AdmModel()
    for x, y in rows:
        one.learn_one(x, y)
    many = AdmModel()
    names = ["age", "segment", "score", "vip"]
    many.learn_many({n: [x[n] for x, _ in rows] for n in names}, [y for _, y in rows])
    # a batch is analysed once at its end, a stream on its schedule: after one more
    # analysis both hold the same state
    one.analyse()
    many.analyse()
    probes = [x for x, _ in checks.stream(50, seed=2)]
    assert np.allclose(
        [one.predict_one(x) for x in probes], [many.predict_one(x) for x in probes], atol=1e-9
    )
    assert np.allclose(
        one.predict_many({n: [x[n] for x in probes] for n in names}),
        [one.predict_one(x) for x in probes],
    )


def test_interleaved_learning_equals_queued_learning() -> None:
    rows = checks.stream(1200)
    queued, eager = AdmModel(mode="improved"), AdmModel(mode="improved")
    for x, y in rows:
        queued.learn_one(x, y)
        eager.learn_one(x, y)
        eager.predict_one(x)  # forces every response to be applied at once
    probes = [x for x, _ in checks.stream(50, seed=2)]
    assert np.allclose(
        [queued.predict_one(x) for x in probes], [eager.predict_one(x) for x in probes], atol=1e-9
    )


def test_distinct_weights_learn_as_unit_weights() -> None:
    # the improved mode's weight fit takes each row out of its bins: weights that all differ
    # (by a hair) take a row-by-row path, unit weights a table per (bin, own response);
    # both must give the same model. (Mode "adm" would not do as a check: its classifier's
    # PAV pools bins of exactly equal rates differently from bins a hair apart.)
    rows = checks.stream(2500, seed=4)
    unit, distinct = AdmModel(mode="improved"), AdmModel(mode="improved")
    for i, (x, y) in enumerate(rows):
        unit.learn_one(x, y)
        distinct.learn_one(x, y, weight=1 + i * 1e-12)
    probes = [x for x, _ in checks.stream(50, seed=2)]
    assert distinct.active == unit.active != []
    assert np.allclose(
        [distinct.predict_one(x) for x in probes], [unit.predict_one(x) for x in probes], atol=1e-6
    )


def test_forgetting_follows_the_half_life() -> None:
    model = AdmModel({"segment": "symbolic"}, half_life=1000, update_every=500)
    for i in range(2000):
        model.learn_one({"segment": "a"}, i % 4 == 0)
    # 2,000 responses at a half-life of 1,000 keep (1 + 1/2 + ...)-weighted evidence
    total = model.binning().responses
    assert 1000 < total < 1800
    # after the behaviour flips, a forgetting model follows faster than a remembering one
    remembering = AdmModel({"segment": "symbolic"}, update_every=500)
    for i in range(2000):
        remembering.learn_one({"segment": "a"}, i % 4 == 0)
    for model_ in (model, remembering):
        for _ in range(1000):
            model_.learn_one({"segment": "a"}, True)
    assert (
        model.binning().positives / model.binning().responses
        > remembering.binning().positives / remembering.binning().responses
    )


def test_explanations_sum_to_the_score() -> None:
    for mode in ("adm", "improved"):
        model = AdmModel(mode=mode)
        for x, y in checks.stream(800):
            model.learn_one(x, y)
        x = {"age": 70.0, "segment": "affluent", "score": 0.1, "vip": True}
        contributions = model.explain_one(x)
        assert set(contributions) == {p.name for p in model.binning().active}
        assert abs(model.offset() + sum(contributions.values()) - model.score_one(x)) < 1e-9


@pytest.mark.parametrize("mode", ["adm", "improved"])
def test_adm_model_passes_the_check_suite(mode: str) -> None:
    checks.check_model(lambda: AdmModel(mode=mode))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(
                st.none(),
                st.floats(allow_nan=True, allow_infinity=True),
                st.integers(-(10**6), 10**6),
                st.text(max_size=3),
            ),
            st.one_of(
                st.none(),
                st.sampled_from(["a", "b", "c"]),
                st.booleans(),
                st.integers(0, 3),
                st.lists(st.integers(0, 1), max_size=2),  # unhashable: grouped by its text
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_any_input_gives_a_propensity(rows: list[tuple[object, object, bool]]) -> None:
    model = AdmModel({"n": "numeric", "s": "symbolic"})
    for n, s, y in rows:
        model.learn_one({"n": n, "s": s}, y)
    for n, s, _ in rows:
        p = model.predict_one({"n": n, "s": s})
        assert 0 < p < 1
    assert model.binning().responses == len(rows)
