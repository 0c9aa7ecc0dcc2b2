"""Real-time features: sliding windows kept incrementally equal a direct computation over
all events, at any moment at or after the newest one, and a rebuild from stored events."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.profile.features import Feature, rebuild, update, values
from nextbest.store.base import EventRecord

FEATURES = (
    Feature("pays_1h", "track", "Pay", "amount", "sum", 3600.0),
    Feature("pays_n_1h", "track", "Pay", None, "count", 3600.0),
    Feature("abroad_10m", "track", "Pay", "amount", "max", 600.0, (("abroad", True),)),
    Feature("low_1d", "track", "Pay", "amount", "min", 86400.0),
    Feature("mean_1d", "track", "Pay", "amount", "avg", 86400.0),
    Feature("country", "track", "Pay", "country", "last", 86400.0),
    Feature("pages", "page", None, "path", "distinct", 1800.0),
    Feature("cards_seen", "page", "Cards", None, "count", 60.0),
)

# moments around every window's length, so pairs sit exactly at, just inside and just
# outside each other's windows
EDGES = sorted({0, *(w + d for w in (60, 600, 1800, 3600, 86400) for d in (-1, 0, 1))})
moments = st.one_of(st.sampled_from(EDGES), st.integers(0, 20_000)).map(float)

events = st.lists(
    st.one_of(
        st.builds(
            lambda ts, amount, abroad, country: (
                "track",
                "Pay",
                ts,
                {"amount": amount, "abroad": abroad, "country": country},
            ),
            moments,
            st.one_of(st.integers(-50, 500), st.floats(0, 100, allow_nan=False), st.just("x")),
            st.booleans(),
            st.sampled_from(["DE", "FR", "US"]),
        ),
        st.builds(
            lambda ts, name, path: ("page", name, ts, {"path": path}),
            moments,
            st.sampled_from(["Cards", "Home"]),
            st.sampled_from(["/", "/cards", "/loans"]),
        ),
    ),
    max_size=40,
)


def record(i: int, kind: str, name: str, ts: float, props: dict[str, Any]) -> EventRecord:
    return EventRecord(f"m{i}", kind, "c1", None, name, ts, ts, {"properties": props})


def direct(feature: Feature, stream: list[EventRecord], at: float) -> Any:
    """The feature computed from scratch, over every event, without any kept state."""
    live = []
    for e in stream:
        ok, value = feature.value_of(e)
        if ok and at - feature.window < e.ts <= at:
            live.append((e.ts, value))
    if feature.aggregate == "count":
        return len(live)
    if feature.aggregate == "distinct":
        return len({v for _, v in live})
    if feature.aggregate == "sum":
        return math.fsum(v for _, v in live)
    if not live:
        return None
    numbers = [v for _, v in live]
    if feature.aggregate == "last":
        latest = max(ts for ts, _ in live)
        return [v for ts, v in live if ts == latest][-1]
    return {"min": min, "max": max, "avg": lambda xs: math.fsum(xs) / len(xs)}[feature.aggregate](
        numbers
    )


@settings(max_examples=400, deadline=None)
@given(
    raw=events,
    later=st.lists(
        st.sampled_from([0.0, 1.0, 59.0, 60.0, 599.0, 600.0, 3600.0, 90_000.0]),
        min_size=1,
        max_size=4,
    ),
)
def test_kept_state_equals_the_direct_computation(raw: list[Any], later: list[float]) -> None:
    stream = [record(i, *e) for i, e in enumerate(raw)]  # arrival order: any ts order
    state: dict[str, list[list[Any]]] = {}
    for e in stream:
        update(state, FEATURES, e)
    newest = max((e.ts for e in stream), default=0.0)
    for offset in later:  # at, and after, the newest event: window edges included
        at = newest + offset
        assert values(state, FEATURES, at) == {f.name: direct(f, stream, at) for f in FEATURES}
    # a rebuild from the stored events gives the same state
    assert rebuild(FEATURES, stream) == ({"c1": state} if state else {})


def test_window_edges_are_exact() -> None:
    f = Feature("n", "track", "Pay", None, "count", 60.0)
    state: dict[str, list[list[Any]]] = {}
    update(state, (f,), record(0, "track", "Pay", 100.0, {}))
    assert values(state, (f,), 100.0) == {"n": 1}  # counts from its own moment
    assert values(state, (f,), 159.999) == {"n": 1}
    assert values(state, (f,), 160.0) == {"n": 0}  # (t − window, t]: out exactly a window on
    assert values(state, (f,), 99.0) == {"n": 0}  # not before it happened
