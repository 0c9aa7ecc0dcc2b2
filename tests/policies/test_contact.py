"""Contact policies: hand-picked cases, and the vectorised counters against a naive reference."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from nextbest.config.compiled import CompiledConfig
from nextbest.policies import HistoryArrays, contact_blocks, quiet_hours_now
from nextbest.store.base import InteractionRow
from nextbest.testing import SMALL_BANK, T0, make_config
from tests.policies.reference import violated_policy

POLICIES = """\
eligibility: age >= 18
contact_policies:
  - {id: web-3-a-day, type: limit, channel: web, level: channel, max: 3, window: 1d}
  - {id: issue-weekly, type: limit, level: issue, max: 2, window: 7d}
  - {id: cards-monthly, type: limit, level: group, group: cards, max: 1, window: 30d}
  - {id: action-daily, type: limit, level: action, max: 1, window: 1d}
  - {id: fatigue, type: suppression, level: action, after: impressions_without_response, count: 2, window: 5d, pause: 3d}
  - {id: group-reject, type: suppression, level: group, channel: web, after: rejections, count: 2, window: 10d, pause: 4d}
"""
CONFIG = make_config({"policies.yaml": POLICIES})
DAY = 86400.0
NOW = T0.timestamp()


def row(action_id: str, outcome: str, days_ago: float, channel: str = "web") -> InteractionRow:
    action = CONFIG.action(action_id)
    return InteractionRow(
        "c1", "d", action_id, action.issue, action.group, channel, outcome, NOW - days_ago * DAY
    )


def only(policy_id: str) -> CompiledConfig:
    """The small bank with just one of the policies above."""
    lines = [
        line for line in POLICIES.splitlines() if "{id:" not in line or f"id: {policy_id}," in line
    ]
    return make_config({"policies.yaml": "\n".join(lines) + "\n"})


def blocked(
    rows: list[InteractionRow], channel: str = "web", config: CompiledConfig = CONFIG
) -> dict[str, str]:
    mask, by = contact_blocks(config, channel, HistoryArrays.build(config, rows), NOW)
    return {config.actions[i].id: by[i] for i in np.flatnonzero(mask)}


def test_no_history_blocks_nothing() -> None:
    assert blocked([]) == {}


def test_channel_limit_counts_impressions_in_the_window() -> None:
    rows = [row("info-tips", "impression", d) for d in (0.1, 0.5, 0.9)]
    assert set(blocked(rows)) == {a.id for a in CONFIG.actions}
    assert blocked(rows, channel="email") == {"info-tips": "issue-weekly"}
    rows[0] = row("info-tips", "impression", 1.0)  # exactly one day ago: outside
    assert "gold-card" not in blocked(rows)


def test_group_limit_only_for_its_group() -> None:
    out = blocked([row("gold-card", "impression", 10)], config=only("cards-monthly"))
    assert out == {"gold-card": "cards-monthly", "student-card": "cards-monthly"}


def test_rejections_pause_the_group_on_its_channel() -> None:
    rows = [row("gold-card", "rejected", 6), row("student-card", "rejected", 2)]
    config = only("group-reject")
    out = blocked(rows, config=config)
    assert out == {"gold-card": "group-reject", "student-card": "group-reject"}
    assert blocked(rows, channel="email", config=config) == {}
    old = [row("gold-card", "rejected", 9), row("student-card", "rejected", 5)]
    assert blocked(old, config=config) == {}  # paused until 5 - 4 = 1 day ago


def test_unanswered_impressions_pause_and_a_response_resets() -> None:
    config = only("fatigue")
    rows = [row("savings-plan", "impression", 4), row("savings-plan", "impression", 2)]
    assert blocked(rows, config=config) == {"savings-plan": "fatigue"}
    rows.append(row("savings-plan", "clicked", 1.5))
    assert blocked(rows, config=config) == {}
    far = [row("savings-plan", "impression", 12), row("savings-plan", "impression", 6)]
    assert blocked(far, config=config) == {}  # six days apart: more than the 5-day window


def test_quiet_hours_wrap_midnight_in_local_time() -> None:
    night = T0.replace(hour=22)  # 23:00 Berlin
    assert quiet_hours_now(CONFIG, "email", night, "Europe/Berlin")
    assert not quiet_hours_now(CONFIG, "email", night, "America/New_York")  # 17:00
    assert quiet_hours_now(CONFIG, "email", T0.replace(hour=6), None)  # default zone: 07:00
    assert not quiet_hours_now(CONFIG, "email", T0, "No/Such_Zone")  # falls back: 13:00
    assert not quiet_hours_now(CONFIG, "web", night, "Europe/Berlin")


history = st.lists(
    st.tuples(
        st.sampled_from([a.id for a in CONFIG.actions]),
        st.sampled_from(["impression", "impression", "rejected", "accepted", "clicked", "ignored"]),
        st.floats(0, 35),
        st.sampled_from(["web", "email"]),
    ),
    max_size=40,
)


@settings(max_examples=1000, deadline=None)
@given(history, st.sampled_from(["web", "email"]))
def test_vectorised_counters_match_the_reference(
    events: list[tuple[str, str, float, str]], channel: str
) -> None:
    rows = [row(a, o, d, ch) for a, o, d, ch in events]
    got = blocked(rows, channel)
    for action in CONFIG.actions:
        expected = violated_policy(CONFIG, action, channel, rows, NOW)
        assert (action.id in got) == (expected is not None), (action.id, expected, got)


def test_history_window_covers_the_longest_policy() -> None:
    assert CONFIG.max_history_window == timedelta(days=30)
    assert make_config(
        {"policies.yaml": SMALL_BANK["policies.yaml"]}
    ).max_history_window == timedelta(days=60)
