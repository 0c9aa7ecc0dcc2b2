"""A loaded configuration, compiled for fast decisions.

Per-action facts live in numpy arrays indexed by action position, so a decision filters
and scores a whole library of actions with a handful of vector operations. Rules are
deduplicated: `rules[i]` is evaluated at most once per decision, and `stage_matrix` says
which actions each rule guards in each stage, so the failed rules knock out their actions
in one sparse matrix-vector product for all stages.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal

import jinja2
import numpy as np
import numpy.typing as npt
from scipy import sparse

from nextbest.config.models import (
    ArbitrationSpec,
    ChannelSpec,
    IdentitySpec,
    LearningSpec,
    PurposeSpec,
    RetentionSpec,
    SchemaFile,
)
from nextbest.profile.features import Feature
from nextbest.rules import CompiledRule, RuleType, TypeEnv

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: the filter stages of the pipeline, in order; explanations name them
STAGES = (
    "candidates",
    "validity",
    "consent",
    "eligibility",
    "applicability",
    "suitability",
    "contact_policy",
    "assurance",
    "maturity",
    "arbitration",
)
ENGAGEMENT_STAGES = ("eligibility", "applicability", "suitability")


@dataclass(frozen=True, slots=True)
class Treatment:
    id: str
    action_id: str
    channel: str
    placement: str
    content: str
    template: jinja2.Template | None  # None when the content has no `{{ }}` tokens


@dataclass(frozen=True, slots=True)
class Action:
    index: int
    id: str
    name: str
    issue: str
    group: str
    purpose: str
    min_assurance: int
    tags: tuple[str, ...]
    enabled: bool
    value: float | None  # None: computed by `value_rule`
    value_rule: int | None  # index into CompiledConfig.rules
    lever: float  # issue × group × action lever
    stage_rules: dict[str, tuple[int, ...]]  # stage → rule indices, all-actions level first
    treatments: tuple[Treatment, ...]


@dataclass(frozen=True, slots=True)
class LimitRule:
    id: str
    level: Literal["channel", "issue", "group", "action"]
    channel: str | None
    issue: str | None
    group: str | None  # "issue/group" key
    max: int
    window: timedelta


@dataclass(frozen=True, slots=True)
class SuppressionRule:
    id: str
    level: Literal["action", "group"]
    channel: str | None
    after: Literal["impressions_without_response", "rejections"]
    count: int
    window: timedelta
    pause: timedelta


ContactRule = LimitRule | SuppressionRule


@dataclass(frozen=True, slots=True)
class ContextWeight:
    rule: int
    weight: float
    applies: BoolArray  # which actions it weighs


@dataclass(frozen=True)
class Trigger:
    id: str
    on: str
    event: str | None
    where: tuple[tuple[str, Any], ...]
    rule: int | None  # into `rules`; None: always
    cooldown: float  # seconds
    actions: tuple[str, ...]
    channels: tuple[str, ...]  # outbound, in preference order
    assurance_level: int


@dataclass(frozen=True, slots=True)
class Codes:
    """Positions of names in the config, for turning stored text into array indices."""

    issues: dict[str, int]
    groups: dict[str, int]
    channels: dict[str, int]


@dataclass(frozen=True, eq=False)  # identity hash: configs key per-config caches
class CompiledConfig:
    version: str
    files: dict[str, str]
    name: str
    schema: SchemaFile
    env: TypeEnv
    channels: dict[str, ChannelSpec]
    purposes: dict[str, PurposeSpec]
    arbitration: ArbitrationSpec
    learning: LearningSpec
    actions: tuple[Action, ...]
    rules: tuple[CompiledRule, ...]
    contact_rules: tuple[ContactRule, ...]
    context_weights: tuple[ContextWeight, ...]
    issues: tuple[str, ...]
    groups: tuple[str, ...]  # "issue/group"
    # --- arrays over actions ---
    issue_idx: IntArray
    group_idx: IntArray
    lever: FloatArray
    min_assurance: IntArray
    valid_from: FloatArray  # epoch seconds, -inf when open
    valid_until: FloatArray  # epoch seconds, +inf when open
    enabled: BoolArray
    purpose_idx: IntArray
    purpose_names: tuple[str, ...]
    value_const: FloatArray  # NaN where the value is a rule
    # sparse (stages · actions × rules): row s·n + a is 1 where rule r guards action a in
    # the s-th of ENGAGEMENT_STAGES
    stage_matrix: sparse.csr_matrix
    # (channel, placement) → action indices with a treatment there
    candidates: dict[tuple[str, str], IntArray]
    # (channel, placement, action index) → the treatment variants
    treatments: dict[tuple[str, str, int], tuple[Treatment, ...]]
    action_index: dict[str, int] = field(default_factory=dict)
    treatment_index: dict[str, Treatment] = field(default_factory=dict)
    # channel → distinct engagement rules any candidate of that channel might need
    channel_rules: dict[str, IntArray] = field(default_factory=dict)
    # real-time features (schema.yaml `features:`), read like profile fields
    features: tuple[Feature, ...] = ()
    # event triggers (policies.yaml `triggers:`)
    triggers: tuple[Trigger, ...] = ()
    identity: IdentitySpec = field(default_factory=IdentitySpec)
    retention: RetentionSpec = field(default_factory=RetentionSpec)

    @cached_property
    def traits(self) -> Mapping[str, RuleType]:
        """The profile fields that are traits (stored, written by events, imports and the
        API): the rule environment's profile fields without the real-time features."""
        if not self.features:
            return self.env.profile
        names = {f.name for f in self.features}
        return {k: v for k, v in self.env.profile.items() if k not in names}

    max_history_window: timedelta = timedelta(0)

    @cached_property
    def trait_ranks(self) -> Mapping[str, int]:
        """Trait precedence: source → rank (0 wins over 1); unlisted sources rank last."""
        return {name: i for i, name in enumerate(self.schema.sources)}

    @cached_property
    def trait_writers(self) -> Mapping[str, frozenset[str]]:
        """The traits only some sources may write, and those sources."""
        return {
            name: frozenset(spec.sources)
            for name, spec in self.schema.profile.items()
            if spec.sources is not None
        }

    @cached_property
    def codes(self) -> Codes:
        return Codes(
            issues={name: i for i, name in enumerate(self.issues)},
            groups={name: i for i, name in enumerate(self.groups)},
            channels={name: i for i, name in enumerate(self.channels)},
        )

    @property
    def n_actions(self) -> int:
        return len(self.actions)

    def action(self, action_id: str) -> Action:
        return self.actions[self.action_index[action_id]]
