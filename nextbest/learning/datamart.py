"""Pega-datamart-compatible exports of the adaptive models and the interaction history.

Three tables, with the column names, types and scales of a Pega CDH dataset export, so that
pdstools (and anything else written against Pega's ADM datamart) reads them unchanged:

* ModelSnapshot (`Data-Decision-ADM-ModelSnapshot`): one row per model;
* PredictorBinningSnapshot (`Data-Decision-ADM-PredictorBinningSnapshot`): one row per bin
  of every predictor and of the classifier;
* Interaction History (`Data-pxStrategyResult_pxInteractionHistory`): one row per
  impression or outcome.

The frame builders are pure functions of plain records (`nextbest.learning.report` and
`nextbest.store.base`); `write_datamart` names the Parquet files like a dataset export so
that `pdstools.ADMDatamart.from_ds_export(base_path=folder)` finds the newest pair.

Scales: `pyPerformance` is written on the 0.5–1 AUC scale. Pega's exports come in either
(50–100 in recent dataset exports, 0.5–1 in older database tables); pdstools divides values
above 1 by 100 and leaves the others alone, so 0.5–1 loads as exactly our AUC, where 50–100
would come back one bit off for about one value in seven. Percentages
(`pyBin*Percentage`) are 0–100, as in Pega.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import polars as pl

from nextbest.learning.report import ALL_CHANNELS, Bin, ModelReport, PredictorBinning
from nextbest.store.base import HistoryStore, InteractionRow, StoredDecision
from nextbest.types import Outcome

MODEL_TECHNIQUE = "NaiveBayes"
APPLIES_TO_CLASS = "nextbest"  # Pega's class of the decision subject; we have no class tree
CLASSIFIER = "Classifier"  # pyPredictorName and pyEntryType of the classifier's bins

#: our outcomes → Pega's standard outcome labels, as pdstools' IH class counts them
#: (Impression/NoResponse negative, Clicked/Accepted positive, Conversion for conversion)
OUTCOME_LABELS: Mapping[Outcome, str] = {
    Outcome.IMPRESSION: "Impression",
    Outcome.CLICKED: "Clicked",
    Outcome.ACCEPTED: "Accepted",
    Outcome.REJECTED: "Rejected",
    Outcome.IGNORED: "NoResponse",
    Outcome.CONVERTED: "Conversion",
}

MODEL_SNAPSHOT_SCHEMA: Mapping[str, pl.DataType] = {
    "pyModelID": pl.String(),
    "pyConfigurationName": pl.String(),
    "pyAppliesToClass": pl.String(),
    "pySnapshotTime": pl.Datetime("us"),
    "pyIssue": pl.String(),
    "pyGroup": pl.String(),
    "pyName": pl.String(),
    "pyChannel": pl.String(),
    "pyDirection": pl.String(),
    "pyTreatment": pl.String(),
    "pyPerformance": pl.Float64(),
    "pySuccessRate": pl.Float64(),
    "pyResponseCount": pl.Float64(),
    "pyPositives": pl.Float64(),
    "pyNegatives": pl.Float64(),
    "pyActivePredictors": pl.UInt16(),
    "pyTotalPredictors": pl.UInt16(),
    "pyModelTechnique": pl.String(),
    "pyModelVersion": pl.String(),
}

PREDICTOR_BINNING_SCHEMA: Mapping[str, pl.DataType] = {
    "pyModelID": pl.String(),
    "pySnapshotTime": pl.Datetime("us"),
    "pyPredictorName": pl.String(),
    "pyType": pl.String(),
    "pyEntryType": pl.String(),
    "pyGroupIndex": pl.UInt32(),
    "pyPerformance": pl.Float64(),
    "pyPositives": pl.Float64(),
    "pyNegatives": pl.Float64(),
    "pyResponseCount": pl.Float64(),
    "pyTotalBins": pl.UInt16(),
    "pyContents": pl.String(),
    "pyBinIndex": pl.UInt16(),
    "pyBinType": pl.String(),
    "pyBinSymbol": pl.String(),
    "pyBinLowerBound": pl.Float64(),
    "pyBinUpperBound": pl.Float64(),
    "pyBinPositives": pl.Float64(),
    "pyBinNegatives": pl.Float64(),
    "pyBinResponseCount": pl.Float64(),
    "pyBinPositivesPercentage": pl.Float64(),
    "pyBinNegativesPercentage": pl.Float64(),
    "pyBinResponseCountPercentage": pl.Float64(),
    "pyLift": pl.Float64(),
    "pyZRatio": pl.Float64(),
}

INTERACTION_HISTORY_SCHEMA: Mapping[str, pl.DataType] = {
    "pxInteractionID": pl.String(),  # the decision_id: one Pega interaction = one decision
    # Pega's text timestamps: pdstools' IH reader parses pxOutcomeTime from this format
    "pxDecisionTime": pl.String(),
    "pxOutcomeTime": pl.String(),
    "pySubjectID": pl.String(),
    "pyIssue": pl.String(),
    "pyGroup": pl.String(),
    "pyName": pl.String(),
    "pyTreatment": pl.String(),
    "pyChannel": pl.String(),
    "pyDirection": pl.String(),
    "pyOutcome": pl.String(),
    "pxRank": pl.Int32(),
    "pxPriority": pl.Float64(),
    "pyPropensity": pl.Float64(),  # the (sampled) propensity arbitration used
    # ours, unprefixed like Pega's custom IH properties:
    "ModelPropensity": pl.Float64(),  # the model's posterior mean
    "SelectionProbability": pl.Float64(),  # P(action returned there), for off-policy work
    "Placement": pl.String(),
    "OutcomeValue": pl.Float64(),  # revenue reported with the outcome
}

# Dataset-export file names, which pdstools' `from_ds_export` searches a folder for
MODEL_FILE = "Data-Decision-ADM-ModelSnapshot_pyModelSnapshots_{stamp}_GMT.parquet"
PREDICTOR_FILE = (
    "Data-Decision-ADM-PredictorBinningSnapshot_pyADMPredictorSnapshots_{stamp}_GMT.parquet"
)
HISTORY_FILE = "Data-pxStrategyResult_pxInteractionHistory_{stamp}_GMT.parquet"

# fixed for good: another namespace would rename every model in every export
_MODEL_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "models.nextbest")


def pega_model_id(report: ModelReport) -> str:
    """The model's `pyModelID`: a UUID that is the same in every export of the model."""
    return str(uuid.uuid5(_MODEL_ID_NAMESPACE, f"{report.configuration}/{report.model_id}"))


def model_snapshot_frame(reports: Iterable[ModelReport]) -> pl.DataFrame:
    """The ModelSnapshot table: one row per model."""
    model_version = version("nextbest")  # the engine release that built the model
    rows = []
    for report in reports:
        binning = report.binning
        responses = binning.responses
        rows.append(
            {
                "pyModelID": pega_model_id(report),
                "pyConfigurationName": report.configuration,
                "pyAppliesToClass": APPLIES_TO_CLASS,
                "pySnapshotTime": _utc(report.snapshot_time),
                "pyIssue": report.issue,
                "pyGroup": _group_name(report.group),
                "pyName": report.action_id,
                # a pooled model has no channel in its context: Pega leaves both empty
                "pyChannel": "" if report.channel == ALL_CHANNELS else report.channel,
                "pyDirection": report.direction.capitalize(),
                "pyTreatment": None,  # models are per action (× channel), not per treatment
                "pyPerformance": binning.auc,
                "pySuccessRate": binning.positives / responses if responses else 0.0,
                "pyResponseCount": responses,
                "pyPositives": binning.positives,
                "pyNegatives": binning.negatives,
                "pyActivePredictors": len(binning.active),
                "pyTotalPredictors": len(binning.predictors),
                "pyModelTechnique": MODEL_TECHNIQUE,
                "pyModelVersion": model_version,
            }
        )
    return pl.DataFrame(rows, schema=MODEL_SNAPSHOT_SCHEMA)


def predictor_binning_frame(reports: Iterable[ModelReport]) -> pl.DataFrame:
    """The PredictorBinningSnapshot table: every bin of every predictor and the classifier."""
    rows: list[dict[str, Any]] = []
    for report in reports:
        common = {
            "pyModelID": pega_model_id(report),
            "pySnapshotTime": _utc(report.snapshot_time),
        }
        binning = report.binning
        for predictor in binning.predictors:
            rows += _bin_rows(common, predictor, predictor.name, predictor.entry_type, None)
        if binning.classifier is not None:
            # the classifier's performance is the model's: both tables must agree on it
            rows += _bin_rows(common, binning.classifier, CLASSIFIER, CLASSIFIER, binning.auc)
    return pl.DataFrame(rows, schema=PREDICTOR_BINNING_SCHEMA)


def _bin_rows(
    common: Mapping[str, Any],
    predictor: PredictorBinning,
    name: str,
    entry_type: str,
    performance: float | None,
) -> list[dict[str, Any]]:
    positives, negatives = predictor.positives, predictor.negatives
    responses = positives + negatives
    classifier = entry_type == CLASSIFIER
    head = {
        **common,
        "pyPredictorName": name,
        "pyType": predictor.type,
        "pyEntryType": entry_type,
        "pyGroupIndex": predictor.group_index,
        "pyPerformance": predictor.performance if performance is None else performance,
        "pyPositives": positives,
        "pyNegatives": negatives,
        "pyResponseCount": responses,
        "pyTotalBins": len(predictor.bins),
        "pyContents": predictor.contents,
    }
    rows = []
    for b in predictor.bins:
        lower, upper = b.lower, b.upper
        if classifier:
            # pdstools' active_ranges() finds the classifier bin of a score by counting lower
            # bounds at or below it, so every classifier bin needs one: open ends are ±inf
            lower = -math.inf if lower is None else lower
            upper = math.inf if upper is None else upper
        rows.append(
            {
                **head,
                "pyBinIndex": b.index,
                "pyBinType": b.type,
                "pyBinSymbol": b.symbol,
                "pyBinLowerBound": lower,
                "pyBinUpperBound": upper,
                "pyBinPositives": b.positives,
                "pyBinNegatives": b.negatives,
                "pyBinResponseCount": b.responses,
                "pyBinPositivesPercentage": _percent(b.positives, positives),
                "pyBinNegativesPercentage": _percent(b.negatives, negatives),
                "pyBinResponseCountPercentage": _percent(b.responses, responses),
                "pyLift": _lift(b, positives, responses),
                "pyZRatio": _z_ratio(b, positives, negatives),
            }
        )
    return rows


def _percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def _lift(b: Bin, positives: float, responses: float) -> float | None:
    """The bin's propensity over the predictor's (1 = average), as Pega's pyLift."""
    if not b.responses or not positives:
        return None
    return (b.positives / b.responses) / (positives / responses)


def _z_ratio(b: Bin, positives: float, negatives: float) -> float | None:
    """How many standard errors the bin's share of positives lies above its share of
    negatives — Pega's pyZRatio (pdstools `cdh_utils.z_ratio`)."""
    if not positives or not negatives:
        return None
    pos, neg = b.positives / positives, b.negatives / negatives
    variance = pos * (1 - pos) / positives + neg * (1 - neg) / negatives
    return (pos - neg) / math.sqrt(variance) if variance > 0 else None


def interaction_history_frame(
    rows: Iterable[InteractionRow], decisions: Iterable[StoredDecision] = ()
) -> pl.DataFrame:
    """The interaction history in Pega's IH shape, oldest first.

    `rows` are the store's impressions and outcomes; `decisions` supply what a row does not
    carry (decision time, direction, treatment, rank, priority, propensities, placement).
    A row whose decision is not given keeps those columns empty."""
    returned: dict[tuple[str, str], tuple[StoredDecision, Mapping[str, Any]]] = {}
    for decision in decisions:
        for shown in decision.actions:
            returned.setdefault((decision.decision_id, shown["action_id"]), (decision, shown))
    records = []
    for row in sorted(rows, key=lambda r: r.ts):  # stable: equal times keep their order
        made: StoredDecision | None = None
        action: Mapping[str, Any] = {}
        if found := returned.get((row.decision_id, row.action_id)):
            made, action = found
        records.append(
            {
                "pxInteractionID": row.decision_id,
                "pxDecisionTime": None if made is None else _pega_time(made.ts),
                "pxOutcomeTime": _pega_time(row.ts),
                "pySubjectID": row.customer_id,
                "pyIssue": row.issue,
                "pyGroup": _group_name(row.group),
                "pyName": row.action_id,
                "pyTreatment": action.get("treatment_id"),
                "pyChannel": row.channel,
                "pyDirection": None if made is None else made.direction.capitalize(),
                "pyOutcome": OUTCOME_LABELS[Outcome(row.outcome)],
                "pxRank": action.get("rank"),
                "pxPriority": action.get("priority"),
                "pyPropensity": action.get("propensity"),
                "ModelPropensity": action.get("model_propensity"),
                "SelectionProbability": action.get("selection_probability"),
                "Placement": action.get("placement"),
                "OutcomeValue": row.value,
            }
        )
    return pl.DataFrame(records, schema=INTERACTION_HISTORY_SCHEMA)


def read_history(store: HistoryStore) -> tuple[list[InteractionRow], list[StoredDecision]]:
    """Every history row and every decision of a store, oldest first.

    The store protocol reads newest first up to a limit, so we ask for one more than the
    store counts: getting it means rows arrived meanwhile (and the oldest fell off), and we
    count again."""
    while True:
        n = int(store.counts()["interactions"])
        rows = store.history(limit=n + 1)
        if len(rows) <= n:
            break
    while True:
        n = int(store.counts()["decisions"])
        decisions = store.decisions(limit=n + 1)
        if len(decisions) <= n:
            break
    return rows[::-1], decisions[::-1]


def write_datamart(
    reports: Iterable[ModelReport],
    history: pl.DataFrame | None,
    out_dir: Path,
    *,
    exported_at: float | None = None,
) -> list[Path]:
    """Write the model, predictor-binning and (if given) interaction-history tables as
    Parquet files into `out_dir` (created if missing); returns their paths.

    The file names carry the export time the way Pega's do (default: the newest snapshot
    time, so the same models export to the same names; 1970 when there are none), so a
    folder can hold several exports and `from_ds_export(base_path=out_dir)` takes the newest."""
    reports = list(reports)
    if exported_at is None:
        exported_at = max((r.snapshot_time for r in reports), default=0.0)
    stamp = datetime.fromtimestamp(exported_at, UTC).strftime("%Y%m%dT%H%M%S")
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = [
        (MODEL_FILE, model_snapshot_frame(reports)),
        (PREDICTOR_FILE, predictor_binning_frame(reports)),
    ]
    if history is not None:
        tables.append((HISTORY_FILE, history))
    paths = []
    for name, frame in tables:
        path = out_dir / name.format(stamp=stamp)
        frame.write_parquet(path)
        paths.append(path)
    return paths


def _utc(ts: float) -> datetime:
    # naive UTC, like pdstools' parsed Pega "GMT" timestamps
    return datetime.fromtimestamp(ts, UTC).replace(tzinfo=None)


def _pega_time(ts: float) -> str:
    """Pega's text timestamp, e.g. `20260302T120000.000 GMT`."""
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d} GMT"


def _group_name(group: str) -> str:
    # history rows carry "issue/group"; Pega's pyGroup is the group alone
    return group.rpartition("/")[2]
