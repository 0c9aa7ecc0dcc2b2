"""The Pega-datamart export, read back with pdstools: what Pega users would load it with."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from pdstools import IH, ADMDatamart
from pdstools.utils.cdh_utils import auc_from_bincounts

from nextbest.learning.datamart import (
    INTERACTION_HISTORY_SCHEMA,
    MODEL_SNAPSHOT_SCHEMA,
    OUTCOME_LABELS,
    PREDICTOR_BINNING_SCHEMA,
    interaction_history_frame,
    model_snapshot_frame,
    pega_model_id,
    predictor_binning_frame,
    read_history,
    write_datamart,
)
from nextbest.learning.report import Bin, ModelBinning, ModelReport, PredictorBinning
from nextbest.store.base import InteractionRow, StoredDecision
from nextbest.testing import T0, make_engine
from nextbest.types import DecisionRequest, Outcome, Placement

SNAPSHOT = T0.timestamp()

# --- fabricated reports: what the ADM-class bank reports, with consistent counts ---------


def _split(total: float, weights: list[float]) -> list[float]:
    """`total` responses over bins in proportion to `weights`, as whole counts."""
    counts = [float(round(total * w / sum(weights))) for w in weights[:-1]]
    return [*counts, total - sum(counts)]


def _log_odds(pos: list[float], neg: list[float]) -> list[float]:
    n = len(pos)
    return [
        math.log(p + 1 / n) - math.log(sum(pos) + 1) - math.log(q + 1 / n) + math.log(sum(neg) + 1)
        for p, q in zip(pos, neg, strict=True)
    ]


def _predictor(
    name: str,
    kind: str,
    entry_type: str,
    symbols: list[tuple[str, str, float | None, float | None]],  # type, symbol, lower, upper
    pos: list[float],
    neg: list[float],
    group_index: int,
) -> PredictorBinning:
    odds = _log_odds(pos, neg)
    bins = tuple(
        Bin(i, t, s, lo, hi, p, q, lo_odds)
        for i, ((t, s, lo, hi), p, q, lo_odds) in enumerate(
            zip(symbols, pos, neg, odds, strict=True), 1
        )
    )
    responses = sum(pos) + sum(neg)
    contents = "Range : [18.00, 95.00]" if kind == "numeric" else f"{len(symbols) - 2} symbols"
    return PredictorBinning(
        name=name,
        type=kind,
        entry_type=entry_type,
        performance=float(auc_from_bincounts(pos, neg)),
        bins=bins,
        group_index=group_index,
        contents=contents,
        importance=sum(abs(b.log_odds) * b.responses for b in bins) / responses,
    )


AGE_BINS = [
    ("MISSING", "MISSING", None, None),
    ("EQUIBEHAVIOR", "<54.04", None, 54.04),
    ("EQUIBEHAVIOR", "[54.04, 82.2>", 54.04, 82.2),
    ("EQUIBEHAVIOR", "[82.2, 111.32>", 82.2, 111.32),
    ("EQUIBEHAVIOR", ">=111.32", 111.32, None),
]
PRODUCT_BINS = [
    ("MISSING", "MISSING", None, None),
    ("EQUIBEHAVIOR", "HomeLoans, CreditCards", None, None),
    ("EQUIBEHAVIOR", "Savings", None, None),
    ("RESIDUAL", "Pension, Insurance", None, None),
]
INCOME_BINS = [
    ("MISSING", "MISSING", None, None),
    ("EQUIBEHAVIOR", "<2500.5", None, 2500.5),
    ("EQUIBEHAVIOR", ">=2500.5", 2500.5, None),
]
SEGMENT_BINS = [
    ("MISSING", "MISSING", None, None),
    ("EQUIBEHAVIOR", "Gold, Platinum", None, None),
    ("RESIDUAL", "Silver", None, None),
]
CLASSIFIER_BINS = [
    ("EQUIBEHAVIOR", "<-0.2", None, -0.2),
    ("EQUIBEHAVIOR", "[-0.2, -0.05>", -0.2, -0.05),
    ("EQUIBEHAVIOR", "[-0.05, 0.05>", -0.05, 0.05),
    ("EQUIBEHAVIOR", "[0.05, 0.2>", 0.05, 0.2),
    ("EQUIBEHAVIOR", ">=0.2", 0.2, None),
]

# model_id, action, issue, group, channel, direction, positives, negatives, predictors:
# (name, bins, positive weights, negative weights, entry type, group index)
MODELS = [
    (
        "gold-card@web", "gold-card", "Sales", "CreditCards", "web", "inbound", 120.0, 880.0,
        [
            ("Customer.Age", AGE_BINS, [1, 2, 5, 3, 1], [3, 6, 4, 2, 1], "Active", 1),
            ("Customer.Products", PRODUCT_BINS, [1, 6, 3, 2], [4, 3, 5, 2], "Active", 2),
            ("Customer.Income", INCOME_BINS, [1, 4, 4], [1, 4, 4], "Inactive", 3),
        ],
    ),
    (
        "mortgage@email", "mortgage", "Sales", "HomeLoans", "email", "outbound", 45.0, 955.0,
        [
            ("Customer.Age", AGE_BINS, [1, 5, 4, 2, 1], [2, 3, 5, 3, 2], "Active", 1),
            ("Customer.Segment", SEGMENT_BINS, [2, 5, 3], [3, 2, 5], "Inactive", 2),
        ],
    ),
    (
        "hardship-plan@web", "hardship-plan", "Service", "Hardship", "web", "inbound",
        300.0, 700.0,
        [
            ("Customer.Age", AGE_BINS, [1, 4, 4, 2, 1], [2, 2, 5, 4, 2], "Active", 1),
            ("Customer.Products", PRODUCT_BINS, [2, 5, 3, 1], [2, 3, 4, 3], "Active", 2),
            ("Customer.Income", INCOME_BINS, [1, 6, 2], [1, 3, 5], "Active", 3),
            ("Customer.Segment", SEGMENT_BINS, [1, 1, 1], [1, 1, 1], "Inactive", 4),
        ],
    ),
]  # fmt: skip


def fabricated_reports() -> list[ModelReport]:
    """Three models as the ADM-class bank reports them: numeric and symbolic predictors with
    MISSING and RESIDUAL bins, and a five-bin classifier with monotone propensities."""
    reports = []
    for model_id, action, issue, group, channel, direction, pos, neg, specs in MODELS:
        predictors = tuple(
            _predictor(
                name,
                "numeric" if bins in (AGE_BINS, INCOME_BINS) else "symbolic",
                entry,
                bins,
                _split(pos, pw),
                _split(neg, nw),
                gi,
            )
            for name, bins, pw, nw, entry, gi in specs
        )
        c_pos, c_neg = _split(pos, [1, 2, 4, 6, 8]), _split(neg, [8, 6, 4, 2, 1])
        classifier = PredictorBinning(
            name="Classifier",
            type="numeric",
            entry_type="Classifier",
            performance=float(auc_from_bincounts(c_pos, c_neg)),
            bins=tuple(
                Bin(i, t, s, lo, hi, p, q, 0.0, (0.5 + p) / (1 + p + q))
                for i, ((t, s, lo, hi), p, q) in enumerate(
                    zip(CLASSIFIER_BINS, c_pos, c_neg, strict=True), 1
                )
            ),
        )
        reports.append(
            ModelReport(
                model_id=model_id,
                action_id=action,
                issue=issue,
                group=group,
                channel=channel,
                direction=direction,
                binning=ModelBinning(pos, neg, classifier.performance, predictors, classifier),
                snapshot_time=SNAPSHOT,
            )
        )
    return reports


def load(folder: Path) -> ADMDatamart:
    return ADMDatamart.from_ds_export(base_path=folder)


# --- model snapshots -----------------------------------------------------------------------


def test_pdstools_loads_the_models_with_our_auc_and_counts(tmp_path: Path) -> None:
    reports = fabricated_reports()
    write_datamart(reports, None, tmp_path)
    dm = load(tmp_path)
    assert dm.model_data is not None
    models = {row["ModelID"]: row for row in dm.model_data.collect().iter_rows(named=True)}
    assert len(models) == 3
    for report in reports:
        row = models[pega_model_id(report)]
        assert row["Performance"] == report.binning.auc  # exactly: 0.5–1 is left alone
        assert row["Positives"] == report.binning.positives
        assert row["Negatives"] == report.binning.negatives
        assert row["ResponseCount"] == report.binning.responses
        assert row["SuccessRate"] == pytest.approx(report.binning.positives / 1000)
        assert (row["Name"], row["Issue"], row["Group"]) == (
            report.action_id,
            report.issue,
            report.group,
        )
        assert row["Channel"] == report.channel
        assert row["Direction"] == report.direction.capitalize()
        assert row["Configuration"] == "nextbest-adm"
        assert row["ModelTechnique"] == "NaiveBayes"
        assert row["ActivePredictors"] == len(report.binning.active)
        assert row["TotalPredictors"] == len(report.binning.predictors)
        assert row["SnapshotTime"] == T0.replace(tzinfo=None)


def test_model_ids_are_stable_uuids_per_configuration_and_model() -> None:
    first, second = fabricated_reports(), fabricated_reports()
    ids = [pega_model_id(r) for r in first]
    assert ids == [pega_model_id(r) for r in second]
    assert len(set(ids)) == 3
    assert all(len(i) == 36 and i[14] == "5" for i in ids)  # uuid5, like Pega's
    assert model_snapshot_frame(first)["pyModelID"].to_list() == ids


def test_the_frames_carry_pega_column_names_and_types() -> None:
    models = model_snapshot_frame(fabricated_reports())
    assert models.schema["pySnapshotTime"] == pl.Datetime("us")
    assert models.schema["pyActivePredictors"] == pl.UInt16
    assert models["pyTreatment"].null_count() == 3
    bins = predictor_binning_frame(fabricated_reports())
    assert bins.schema["pyBinIndex"] == pl.UInt16 and bins.schema["pyLift"] == pl.Float64
    assert all(c.startswith("py") for c in [*models.columns, *bins.columns])


def test_empty_exports_keep_their_columns() -> None:
    assert model_snapshot_frame([]).schema == MODEL_SNAPSHOT_SCHEMA
    assert predictor_binning_frame([]).schema == PREDICTOR_BINNING_SCHEMA
    assert interaction_history_frame([]).schema == INTERACTION_HISTORY_SCHEMA


# --- predictor binning ----------------------------------------------------------------------


def test_predictor_binning_round_trips_through_pdstools(tmp_path: Path) -> None:
    reports = fabricated_reports()
    write_datamart(reports, None, tmp_path)
    dm = load(tmp_path)
    assert dm.predictor_data is not None
    data = dm.predictor_data.collect()
    total_bins = sum(
        len(p.bins) for r in reports for p in (*r.binning.predictors, r.binning.classifier) if p
    )
    assert data.height == total_bins
    for report in reports:
        mine = data.filter(pl.col("ModelID") == pega_model_id(report))
        predictors = [*report.binning.predictors, report.binning.classifier]
        assert sorted(mine["PredictorName"].unique().to_list()) == sorted(
            p.name for p in predictors if p
        )
        for predictor in predictors:
            assert predictor is not None
            rows = mine.filter(pl.col("PredictorName") == predictor.name).sort("BinIndex")
            assert rows["EntryType"].unique().to_list() == [predictor.entry_type]
            assert rows["Type"].unique().to_list() == [predictor.type]
            assert rows["BinSymbol"].to_list() == [b.symbol for b in predictor.bins]
            assert rows["BinType"].to_list() == [b.type for b in predictor.bins]
            assert rows["BinPositives"].to_list() == [b.positives for b in predictor.bins]
            assert rows["BinNegatives"].to_list() == [b.negatives for b in predictor.bins]
            assert rows["TotalBins"].to_list() == [len(predictor.bins)] * len(predictor.bins)
            assert rows["Performance"].to_list() == [predictor.performance] * rows.height
            assert rows["ResponseCount"][0] == report.binning.responses
            assert rows["BinPositivesPercentage"].sum() == pytest.approx(100, abs=1e-4)


def test_bin_statistics_follow_pega_definitions() -> None:
    bins = predictor_binning_frame(fabricated_reports()[:1]).filter(
        pl.col("pyPredictorName") == "Customer.Age"
    )
    lift = bins["pyBinPositives"] / bins["pyBinResponseCount"] / (120 / 1000)
    assert bins["pyLift"].to_list() == pytest.approx(lift.to_list())
    pos, neg = bins["pyBinPositives"] / 120, bins["pyBinNegatives"] / 880
    z = (pos - neg) / ((pos * (1 - pos) / 120 + neg * (1 - neg) / 880).sqrt())
    assert bins["pyZRatio"].to_list() == pytest.approx(z.to_list())
    # numeric bounds as given: the open ends of predictors stay empty
    assert bins["pyBinLowerBound"].to_list()[:3] == [None, None, 54.04]
    assert bins["pyBinUpperBound"].to_list()[-1] is None


def _position(bins: tuple[Bin, ...], score: float) -> int:
    """The 0-based classifier bin a score falls in; the open ends reach to ±infinity."""
    for i, b in enumerate(bins):
        if (b.lower is None or b.lower <= score) and (b.upper is None or score < b.upper):
            return i
    raise AssertionError(score)


def test_active_ranges_work_on_the_export(tmp_path: Path) -> None:
    reports = fabricated_reports()
    write_datamart(reports, None, tmp_path)
    ranges = {r["ModelID"]: r for r in load(tmp_path).active_ranges().collect().to_dicts()}
    for report in reports:
        found = ranges[pega_model_id(report)]
        classifier = report.binning.classifier
        assert classifier is not None
        assert found["AUC_Datamart"] == report.binning.auc
        assert found["AUC_FullRange"] == pytest.approx(report.binning.auc)
        assert found["nActivePredictors"] == len(report.binning.active)

        assert found["idx_min"] == _position(classifier.bins, found["score_min"])
        assert found["idx_max"] == _position(classifier.bins, found["score_max"]) + 1
        assert 0.5 <= found["AUC_ActiveRange"] <= 1


def test_from_ds_export_takes_the_newest_export_in_a_folder(tmp_path: Path) -> None:
    reports = fabricated_reports()
    old = write_datamart(reports[:1], None, tmp_path, exported_at=SNAPSHOT - 86400)
    new = write_datamart(reports, None, tmp_path, exported_at=SNAPSHOT)
    assert [p.name for p in new] == [
        "Data-Decision-ADM-ModelSnapshot_pyModelSnapshots_20260302T120000_GMT.parquet",
        "Data-Decision-ADM-PredictorBinningSnapshot_pyADMPredictorSnapshots_20260302T120000_GMT.parquet",
    ]
    assert old[0] != new[0] and old[0].exists()
    dm = load(tmp_path)
    assert dm.model_data is not None
    assert dm.model_data.collect().height == 3
    explicit = ADMDatamart.from_ds_export(
        model_filename=str(old[0]), predictor_filename=str(old[1])
    )
    assert explicit.model_data is not None
    assert explicit.model_data.collect().height == 1


# --- interaction history ------------------------------------------------------------------


def engine_with_history():  # type: ignore[no-untyped-def]
    engine = make_engine()
    adult = {"first_name": "Ada", "age": 40, "income": 50000, "in_arrears": False}
    engine.upsert_profile("c1", {**adult, "products": []})
    engine.set_consent("c1", "marketing", "granted")
    web = engine.decide(
        DecisionRequest(
            channel="web", placements=(Placement("hero"),), customer_id="c1", assurance_level=1
        )
    )
    email = engine.decide(
        DecisionRequest(
            channel="email", placements=(Placement("body"),), customer_id="c1", assurance_level=1
        )
    )
    action = web.actions[0].action_id
    engine.record_outcome(web.decision_id, action, "impression")
    engine.record_outcome(web.decision_id, action, "clicked")
    engine.record_outcome(web.decision_id, action, "converted", value=120.0)
    engine.record_outcome(email.decision_id, email.actions[0].action_id, "rejected")
    return engine, web, email


def test_history_loads_with_the_pdstools_ih_reader(tmp_path: Path) -> None:
    engine, web, email = engine_with_history()
    rows, decisions = read_history(engine.store)
    assert len(rows) == 5 and len(decisions) == 2  # email impression + four outcomes
    paths = write_datamart(
        fabricated_reports(), interaction_history_frame(rows, decisions), tmp_path
    )
    assert paths[2].name == "Data-pxStrategyResult_pxInteractionHistory_20260302T120000_GMT.parquet"
    ih = IH.from_ds_export(str(paths[2]))
    data = ih.data.sort("OutcomeTime", "Outcome").collect()
    assert data["Outcome"].to_list().count("Impression") == 2
    assert sorted(data["Outcome"].unique().to_list()) == [
        "Clicked",
        "Conversion",
        "Impression",
        "Rejected",
    ]
    assert data["OutcomeTime"].unique().to_list() == [T0.replace(tzinfo=None)]
    assert set(data["InteractionID"]) == {web.decision_id, email.decision_id}
    assert set(data["Direction"]) == {"Inbound", "Outbound"}
    shown = data.filter(pl.col("InteractionID") == web.decision_id)
    assert set(shown["Name"]) == {web.actions[0].action_id}
    assert set(shown["Treatment"]) == {web.actions[0].treatment_id}
    assert set(shown["Propensity"]) == {web.actions[0].propensity}
    assert set(shown["ModelPropensity"]) == {web.actions[0].model_propensity}
    assert set(shown["Group"]) == {web.actions[0].group}
    assert shown.filter(pl.col("Outcome") == "Conversion")["OutcomeValue"].to_list() == [120.0]
    rates = ih.aggregates.summary_success_rates(by="Channel").collect()
    engagement = dict(zip(rates["Channel"], rates["SuccessRate_Engagement"], strict=True))
    assert engagement["web"] == 1.0  # impression then click
    assert engagement["email"] == 0.0  # impression, rejected


def test_history_rows_without_their_decision_keep_the_row() -> None:
    row = InteractionRow("c9", "d-gone", "gold-card", "Sales", "Sales/CreditCards", "web",
                         "accepted", SNAPSHOT)  # fmt: skip
    frame = interaction_history_frame([row])
    assert frame.row(0, named=True) | {"pxOutcomeTime": None} == {
        "pxInteractionID": "d-gone",
        "pxDecisionTime": None,
        "pxOutcomeTime": None,
        "pySubjectID": "c9",
        "pyIssue": "Sales",
        "pyGroup": "CreditCards",
        "pyName": "gold-card",
        "pyTreatment": None,
        "pyChannel": "web",
        "pyDirection": None,
        "pyOutcome": "Accepted",
        "pxRank": None,
        "pxPriority": None,
        "pyPropensity": None,
        "ModelPropensity": None,
        "SelectionProbability": None,
        "Placement": None,
        "OutcomeValue": None,
    }
    assert frame["pxOutcomeTime"][0] == "20260302T120000.000 GMT"


def test_history_is_oldest_first_and_decision_fields_are_joined() -> None:
    decision = StoredDecision(
        "d1", SNAPSHOT - 60, "c1", None, "email", "outbound", "v1",
        [{"action_id": "a", "treatment_id": "a-mail", "rank": 1, "priority": 2.5,
          "propensity": 0.3, "model_propensity": 0.25, "selection_probability": 0.9,
          "placement": "body"}],
        {},
    )  # fmt: skip
    later = InteractionRow("c1", "d1", "a", "Sales", "Sales/G", "email", "accepted", SNAPSHOT)
    first = later._replace(outcome="impression", ts=SNAPSHOT - 60)
    frame = interaction_history_frame([later, first], [decision])
    assert frame["pyOutcome"].to_list() == ["Impression", "Accepted"]
    row = frame.row(1, named=True)
    assert row["pxDecisionTime"] == "20260302T115900.000 GMT"
    assert (row["pyTreatment"], row["pxRank"], row["pxPriority"]) == ("a-mail", 1, 2.5)
    assert (row["pyPropensity"], row["SelectionProbability"]) == (0.3, 0.9)
    assert (row["pyDirection"], row["Placement"]) == ("Outbound", "body")


def test_every_outcome_has_a_pega_label() -> None:
    assert set(OUTCOME_LABELS) == set(Outcome)
    assert set(OUTCOME_LABELS.values()) <= {
        *IH.positive_outcome_labels["Engagement"],
        *IH.negative_outcome_labels["Engagement"],
        *IH.positive_outcome_labels["Conversion"],
        "Rejected",
    }


class GrowingStore:
    """A store that records a row between being counted and being read, once."""

    def __init__(self) -> None:
        self.rows = [
            InteractionRow("c1", f"d{i}", "a", "I", "I/G", "web", "accepted", SNAPSHOT + i)
            for i in range(3)
        ]
        self.counted = 0

    def counts(self) -> dict[str, int]:
        self.counted += 1
        n = len(self.rows)
        if self.counted == 1:  # someone writes right after we counted
            self.rows.append(self.rows[-1]._replace(decision_id="d3", ts=SNAPSHOT + 3))
        return {"interactions": n, "decisions": 0}

    def history(self, *, limit: int) -> list[InteractionRow]:
        return self.rows[::-1][:limit]  # newest first, like every store

    def decisions(self, *, limit: int) -> list[StoredDecision]:
        return []


def test_read_history_reads_everything_even_while_rows_arrive() -> None:
    store = GrowingStore()
    rows, decisions = read_history(store)  # type: ignore[arg-type]
    assert [r.decision_id for r in rows] == ["d0", "d1", "d2", "d3"]  # oldest first
    assert decisions == [] and store.counted == 3


def test_a_trained_demo_model_set_loads_in_pdstools_with_our_auc_and_positives(
    tmp_path: Path,
) -> None:
    """The demo bank's engine, trained on ground-truth responses of generated customers,
    exported and read back by pdstools: every model's AUC and positives are ours."""
    import numpy as np

    from nextbest.config.loader import load_config
    from nextbest.decision.engine import DEMO_CONFIG, Engine
    from nextbest.demo.profiles import generate_profiles
    from nextbest.demo.truth import GroundTruth
    from nextbest.learning import AdmModels, model_features
    from nextbest.profile.traits import coerce_traits
    from nextbest.store.memory import MemoryStore
    from nextbest.testing import FixedClock

    config = load_config(DEMO_CONFIG)
    bank = AdmModels(mode="adm", cold_start="none", min_positives=0)
    engine = Engine(MemoryStore(), config, clock=FixedClock(T0), seed=1, models=bank)
    truth = GroundTruth(config, seed=3)
    raw = [t for _, t in generate_profiles(1500, 3)]
    typed = [coerce_traits(config.env.profile, t) for t in raw]
    rng = np.random.default_rng(3)
    chosen = [a.id for a in config.actions if any(t.channel == "web" for t in a.treatments)][:8]
    responses = []
    for _ in range(6000):
        c = int(rng.integers(len(raw)))
        context = {"page": str(rng.choice(["home", "cards", "loans", "travel"]))}
        action = chosen[int(rng.integers(len(chosen)))]
        p = truth.probability(raw[c], action, "web", context)
        responses.append(
            (action, "web", bool(rng.random() < p), model_features(config, typed[c], context))
        )
    bank.learn_many(responses)
    reports = engine.model_reports()
    assert len(reports) == len(chosen)
    assert any(len(r.binning.active) >= 2 for r in reports)  # a trained set, not empty models
    assert any(r.binning.auc > 0.55 for r in reports)
    write_datamart(reports, None, tmp_path)
    dm = load(tmp_path)
    assert dm.model_data is not None
    models = {row["ModelID"]: row for row in dm.model_data.collect().iter_rows(named=True)}
    for report in reports:
        row = models[pega_model_id(report)]
        assert row["Performance"] == pytest.approx(report.binning.auc, abs=1e-9)
        assert row["Positives"] == pytest.approx(report.binning.positives, rel=1e-6)
    # and pdstools' own AUC of the classifier bins agrees with ours
    ranges = {r["ModelID"]: r for r in dm.active_ranges().collect().iter_rows(named=True)}
    for report in reports:
        assert ranges[pega_model_id(report)]["AUC_FullRange"] == pytest.approx(
            report.binning.auc, abs=1e-6
        )


def test_group_models_are_reported_and_exported_under_their_own_configuration(
    tmp_path: Path,
) -> None:
    """The group models behind the hierarchical prior (mode `improved`) are listed beside
    the action models, each under its issue and group with no action, and pdstools loads
    them as a model configuration of their own."""
    import random

    from nextbest.learning import AdmModels, model_features
    from nextbest.testing import make_config

    config = make_config()
    bank = AdmModels(mode="improved", cold_start="hierarchical", pool_channels=False)
    bank.bind(config)
    rng = random.Random(5)
    actions = [a for a in config.actions if any(t.channel == "web" for t in a.treatments)]
    learned = {a.id: 0 for a in actions}
    for i in range(900):
        action = actions[i % len(actions)]
        x = model_features(config, {"age": rng.randint(18, 80)}, {"page": "home"})
        bank.learn_one(action.id, "web", rng.random() < 0.1, x)
        learned[action.id] += 1
    reports = {r.model_id: r for r in bank.reports(0.0)}
    groups = {a.group for a in actions}
    assert {k for k in reports if k.startswith("group/")} == {f"group/{g}@web" for g in groups}
    for group in groups:
        report = reports[f"group/{group}@web"]
        assert (report.issue, report.group, report.action_id) == (*group.split("/"), "")
        assert report.configuration == "nextbest-adm-group"
        # a group model learns every response of its actions on the channel
        assert report.binning.responses == sum(learned[a.id] for a in actions if a.group == group)
    described = {m["model_id"]: m for m in bank.describe()}
    assert described.keys() == reports.keys()
    assert {m["group"] for k, m in described.items() if m["action_id"] is None} == groups

    write_datamart(list(reports.values()), None, tmp_path)
    dm = load(tmp_path)
    assert dm.model_data is not None
    rows = {row["ModelID"]: row for row in dm.model_data.collect().iter_rows(named=True)}
    assert len(rows) == len(reports)
    for report in reports.values():
        row = rows[pega_model_id(report)]
        assert row["Configuration"] == report.configuration
        assert (row["Issue"], row["Group"]) == (report.issue, report.group)
        assert row["ResponseCount"] == report.binning.responses
