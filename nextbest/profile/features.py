"""Real-time features: aggregates of a customer's events over sliding time windows.

Declared in schema.yaml under `features:` — e.g. `failed_logins_1d: {event: Login Failed,
aggregate: count, window: 1d}` — and read by rules and models like profile fields.

State per customer and feature is the window's matching events as `[ts, value]` pairs,
kept as events arrive (`update`) and pruned once they can no longer fall in the window.
A feature's value at time `t` aggregates the pairs with `t − window < ts ≤ t` (`values`):
exact at the window's edges, whatever the order the events came in. Rebuilding from the
stored events (`rebuild`) gives the same values as the state kept incrementally.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nextbest.store.base import EventRecord, FeatureState

AGGREGATES = ("count", "sum", "min", "max", "avg", "last", "distinct")
#: `on` values: which kind of event a feature counts
KINDS = ("track", "page", "screen", "identify")


def matching_properties(
    event: EventRecord, on: str, name: str | None, where: Sequence[tuple[str, Any]]
) -> dict[str, Any] | None:
    """The event's properties (an identify's traits) if it is of kind `on`, named `name`
    (None: any) and its properties equal `where`; else None. Features and event triggers
    select events alike."""
    if event.type != on or (name is not None and event.name != name):
        return None
    props = event.payload.get("properties") or event.payload.get("traits") or {}
    if not isinstance(props, dict) or any(props.get(k) != v for k, v in where):
        return None
    return props


@dataclass(frozen=True)
class Feature:
    name: str
    on: str  # track | page | screen | identify
    event: str | None  # the track event, page or screen name; None: any
    property: str | None  # whose value is aggregated (count needs none)
    aggregate: str
    window: float  # seconds
    where: tuple[tuple[str, Any], ...] = ()  # properties that must equal these values

    def value_of(self, event: EventRecord) -> tuple[bool, Any]:
        """(matches, the value it contributes) for one event."""
        props = matching_properties(event, self.on, self.event, self.where)
        if props is None:
            return False, None
        if self.property is None:
            return True, 1
        value = props.get(self.property)
        if value is None:
            return False, None
        if self.aggregate in ("sum", "min", "max", "avg"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False, None
            try:  # an int too large for a float (10**400) is no usable number either
                finite = math.isfinite(value)
            except OverflowError:
                finite = False
            if not finite:
                return False, None
        elif not isinstance(value, str | int | float | bool):
            return False, None  # last / distinct: scalars only
        return True, value


_INDEX: dict[int, tuple[Sequence[Feature], dict[tuple[str, str | None], list[Feature]]]] = {}


def _by_event(features: Sequence[Feature]) -> dict[tuple[str, str | None], list[Feature]]:
    """The features an event of (kind, name) can match: those of that name, and those of
    any name of its kind — so an event is tried against two or three, not all. Kept per
    feature list (a configuration's, so by identity)."""
    cached = _INDEX.get(id(features))
    if cached is not None and cached[0] is features:
        return cached[1]
    keys = {(f.on, f.event) for f in features} | {(f.on, None) for f in features}
    index = {
        key: [f for f in features if f.on == key[0] and f.event in (None, key[1])] for key in keys
    }
    if len(_INDEX) > 64:
        _INDEX.clear()
    _INDEX[id(features)] = (features, index)
    return index


def update(state: FeatureState, features: Sequence[Feature], event: EventRecord) -> bool:
    """Add one event to a customer's state; True if any feature took it."""
    took = False
    index = _by_event(features)
    candidates = index.get((event.type, event.name)) or index.get((event.type, None), [])
    for f in candidates:
        matched, value = f.value_of(event)
        if not matched:
            continue
        pairs = state.setdefault(f.name, [])
        pairs.append([event.ts, value])
        # a pair older than the newest one by a whole window is out of every later window
        newest = max(ts for ts, _ in pairs)
        state[f.name] = [p for p in pairs if p[0] > newest - f.window]
        took = True
    return took


def values(
    state: Mapping[str, Sequence[Sequence[Any]]], features: Sequence[Feature], at: float
) -> dict[str, Any]:
    """Every feature's value at `at`: over the pairs with `at − window < ts ≤ at`. Counts
    and sums of an empty window are 0; min, max, avg and last are then missing (None)."""
    out: dict[str, Any] = {}
    for f in features:
        live = [(ts, v) for ts, v in state.get(f.name, ()) if at - f.window < ts <= at]
        out[f.name] = _aggregate(f.aggregate, live)
    return out


def _aggregate(kind: str, live: list[tuple[float, Any]]) -> Any:
    if kind == "count":
        return len(live)
    if kind == "distinct":
        return len({v for _, v in live})
    if kind == "sum":
        return math.fsum(v for _, v in live)
    if not live:
        return None
    if kind == "min":
        return min(v for _, v in live)
    if kind == "max":
        return max(v for _, v in live)
    if kind == "avg":
        return math.fsum(v for _, v in live) / len(live)
    # last: the latest event's value (the later-arrived one on a tie)
    best = live[0]
    for pair in live[1:]:
        if pair[0] >= best[0]:
            best = pair
    return best[1]


def rebuild(features: Sequence[Feature], events: Iterable[EventRecord]) -> dict[str, FeatureState]:
    """Every customer's state, recomputed from stored events (in the order stored).

    Pruning keeps what any moment at or after the newest matching event needs; a value
    asked for at an earlier moment (an event stamped in the future) may miss pairs."""
    states: dict[str, FeatureState] = {}
    for event in events:
        if event.customer_id is None:
            continue
        state = states.setdefault(event.customer_id, {})
        update(state, features, event)
    return {cid: s for cid, s in states.items() if s}
