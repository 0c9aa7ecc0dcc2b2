"""What a model shows of itself: its binning, counts and performance.

Plain records, shared by `nextbest models report`, the Pega-datamart export and the docs.
The vocabulary follows Pega's ADM datamart (see docs/learning.md): a predictor's bins are
`MISSING`, `RESIDUAL` (unseen or rare symbols) or `EQUIBEHAVIOR` (an interval or a group
of symbols that behave alike); a predictor is `Active` or `Inactive`; the model's own
score binning is the `Classifier` entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Bin:
    index: int  # 1-based, in display order
    type: str  # MISSING | RESIDUAL | EQUIBEHAVIOR
    symbol: str  # "<54.04", "[54.04, 82.2>", ">=111.32", "HomeLoans, CreditCards", "MISSING"
    lower: float | None  # numeric bins: lower bound (None for the first and for symbols)
    upper: float | None  # numeric bins: upper bound (None for the last and for symbols)
    positives: float
    negatives: float
    log_odds: float  # this bin's contribution (0 for classifier bins)
    propensity: float | None = None  # classifier bins only

    @property
    def responses(self) -> float:
        return self.positives + self.negatives


@dataclass(frozen=True, slots=True)
class PredictorBinning:
    name: str
    type: str  # numeric | symbolic
    entry_type: str  # Active | Inactive | Classifier
    performance: float  # univariate AUC, 0.5–1
    bins: tuple[Bin, ...]
    group_index: int = 0  # predictors in one correlation group share it
    contents: str = ""  # numeric: "Range : [lo, hi]"; symbolic: number of symbols seen
    importance: float = 0.0  # response-weighted mean |log odds|

    @property
    def positives(self) -> float:
        return sum(b.positives for b in self.bins)

    @property
    def negatives(self) -> float:
        return sum(b.negatives for b in self.bins)


@dataclass(frozen=True, slots=True)
class ModelBinning:
    """A model's full binning: every predictor plus the classifier (entry_type Classifier)."""

    positives: float
    negatives: float
    auc: float  # 0.5–1, from the classifier bins
    predictors: tuple[PredictorBinning, ...] = ()
    classifier: PredictorBinning | None = None

    @property
    def responses(self) -> float:
        return self.positives + self.negatives

    @property
    def active(self) -> tuple[PredictorBinning, ...]:
        return tuple(p for p in self.predictors if p.entry_type == "Active")


#: a pooled model's channel, its model context: "<action>@*" learns from every channel
ALL_CHANNELS = "*"
#: the datamart's `pyConfigurationName` of the action models and of the group models (the
#: pooled responses of an issue/group on a channel that give a new action its prior)
ACTION_CONFIGURATION = "nextbest-adm"
GROUP_CONFIGURATION = "nextbest-adm-group"


@dataclass(frozen=True, slots=True)
class ModelReport:
    """One model of the bank, with the business context it belongs to."""

    model_id: str  # "action@channel", "action@*" when channels are pooled; group models
    # "group/<issue>/<group>@channel"
    action_id: str  # "" for a group model
    issue: str
    group: str
    channel: str  # ALL_CHANNELS when pooled
    direction: str  # "" when pooled
    binning: ModelBinning
    snapshot_time: float  # epoch seconds UTC
    configuration: str = ACTION_CONFIGURATION
    extra: dict[str, float] = field(default_factory=dict)
