"""Vocabulary shared by every layer: channels, directions, outcomes, requests and decisions.

Plain frozen dataclasses: the domain passes these around, the shells (API, CLI) convert
them from and to JSON.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from nextbest.errors import RequestError


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Outcome(StrEnum):
    IMPRESSION = "impression"
    CLICKED = "clicked"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    IGNORED = "ignored"
    CONVERTED = "converted"


#: outcomes that teach a model "yes" / "no"; impressions and clicks do not train.
POSITIVE_OUTCOMES = frozenset({Outcome.ACCEPTED, Outcome.CONVERTED})
NEGATIVE_OUTCOMES = frozenset({Outcome.REJECTED, Outcome.IGNORED})


@dataclass(frozen=True, slots=True)
class Placement:
    name: str
    count: int = 1


@dataclass(frozen=True, slots=True)
class DecisionRequest:
    """What a channel asks: who, where, in which context, how well identified."""

    channel: str
    placements: tuple[Placement, ...]
    customer_id: str | None = None
    anonymous_ids: Mapping[str, str] = field(default_factory=dict)
    direction: Direction | None = None  # None: the channel's configured direction
    context: Mapping[str, Any] = field(default_factory=dict)
    assurance_level: int = 0
    interaction_id: str | None = None
    explain: bool = False
    # only these actions may be returned (an event trigger's); empty: any
    candidates: tuple[str, ...] = ()
    # the namespace of the anonymous identifier the customer was recognized by (set by the
    # engine when the request named no customer_id)
    recognized_by: str | None = None


@dataclass(frozen=True, slots=True)
class Removal:
    """Why one candidate action fell out of a decision (recorded when `explain` is set)."""

    action_id: str
    stage: str
    reason: str
    rule: str | None = None


@dataclass(frozen=True, slots=True)
class RankedAction:
    action_id: str
    treatment_id: str
    issue: str
    group: str
    channel: str
    placement: str
    rank: int
    content: str
    propensity: float  # the (sampled) propensity used for priority
    model_propensity: float  # the model's posterior mean
    value: float
    lever: float
    context_weight: float
    priority: float
    selection_probability: float  # P(this action is returned here) under the policy
    fallback: bool = False
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StepUp:
    """An action left out because the session is not verified enough."""

    action_id: str
    required_level: int


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    time: datetime
    config_version: str
    customer_id: str | None
    interaction_id: str | None
    channel: str
    direction: Direction
    actions: tuple[RankedAction, ...]
    step_up: tuple[StepUp, ...] = ()
    removed: tuple[Removal, ...] = ()
    seed: int = 0
    features: Mapping[str, Any] = field(default_factory=dict)  # the models' inputs
    model_control_group: bool = False  # scored with random propensities
    # purposes whose consent expired or was given under an older policy: ask again
    reconsent_required: tuple[str, ...] = ()

    def placement(self, name: str) -> tuple[RankedAction, ...]:
        return tuple(a for a in self.actions if a.placement == name)

    def to_document(self) -> dict[str, Any]:
        """The decision as JSON-able data (what the CLI prints and the API returns)."""
        doc = record_dict(self)
        doc["time"] = self.time.isoformat()
        doc["direction"] = self.direction.value
        doc["features"] = dict(self.features)
        for name in ("actions", "step_up", "removed"):
            doc[name] = [record_dict(r) for r in doc[name]]
        return doc


def record_dict(record: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, its tuples as lists — one level deep
    (`dataclasses.asdict` deep-copies everything, several times slower)."""
    return {
        name: list(v) if isinstance(v := getattr(record, name), tuple) else v
        for name in _field_names(type(record))
    }


def _field_names(cls: type) -> tuple[str, ...]:
    # `fields()` builds its tuple anew at every call: a third of record_dict's time
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def check_outcome(
    outcome: str, value: float | None, fields: tuple[str, str] = ("outcome", "value")
) -> Outcome:
    """The outcome kind; RequestError naming `fields` (the caller's names for the two)
    for an unknown kind or a value that is not a finite number."""
    try:
        kind = Outcome(outcome)
    except ValueError:
        allowed = ", ".join(o.value for o in Outcome)
        raise RequestError(fields[0], f"unknown outcome `{outcome}` (one of: {allowed})") from None
    if value is not None and not math.isfinite(value):
        raise RequestError(fields[1], "must be a finite number")
    return kind
