"""Contact policies: limits, suppression and quiet hours, counted from the history.

Semantics (documented in docs/configuration.md):

* **limit** — at most `max` sends to one customer within the rolling `window`, counted per
  `level` (channel, issue, group or action) among `impression` rows (optionally only on
  one channel / for one issue or group). When a counter is full, every action it covers
  is held back on the channel the policy names (all channels when it names none).
* **suppression** — per action (or group): a *tracked event* is a rejection, or an
  impression not yet followed by a positive response (accepted, converted, clicked) for
  the same action/group. When `count` tracked events fall within `window` of each other,
  the action/group pauses for `pause` after the last of them.
* **quiet hours** — outbound decisions on a channel with quiet hours return nothing while
  the customer's local time (profile time zone, else the configured default) is inside
  them.

Everything is vectorised over the customer's history rows (a few hundred at most).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

from nextbest.config.compiled import CompiledConfig, LimitRule, SuppressionRule
from nextbest.store.base import ContactRow, InteractionRow
from nextbest.types import Outcome

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]


_OUTCOME_CODES = {o.value: i for i, o in enumerate(Outcome)}
_IMPRESSION = _OUTCOME_CODES[Outcome.IMPRESSION.value]
_REJECTED = _OUTCOME_CODES[Outcome.REJECTED.value]
_POSITIVE = np.zeros(len(_OUTCOME_CODES) + 1, dtype=bool)  # last slot: unknown outcomes
for _o in (Outcome.ACCEPTED, Outcome.CONVERTED, Outcome.CLICKED):
    _POSITIVE[_OUTCOME_CODES[_o.value]] = True


@dataclass(frozen=True)
class HistoryArrays:
    """A customer's interaction rows as parallel arrays, keyed to the current config.

    Text columns become small integers once (actions, issues, groups, channels by their
    position in the config; -1 for names it no longer has), so every policy works on
    integer arrays."""

    ts: npt.NDArray[np.float64]
    action: IntArray
    issue: IntArray
    group: IntArray
    channel: IntArray
    impression: BoolArray
    rejection: BoolArray
    positive: BoolArray

    @classmethod
    def build(
        cls, config: CompiledConfig, rows: Sequence[ContactRow | InteractionRow]
    ) -> HistoryArrays:
        if rows:
            picked: Iterable[Sequence[Any]] = (
                rows
                if isinstance(rows[0], ContactRow)  # already in this column order
                else ((r.action_id, r.issue, r.group, r.channel, r.outcome, r.ts) for r in rows)
            )
            action, issue, group, channel, outcome, ts = zip(*picked, strict=True)
        else:
            ts = action = issue = group = channel = outcome = ()
        n = len(ts)
        codes = config.codes

        def encode(names: tuple[str, ...], table: dict[str, int]) -> IntArray:
            get = table.get
            return np.fromiter((get(x, -1) for x in names), dtype=np.int64, count=n)

        kinds = encode(outcome, _OUTCOME_CODES)
        return cls(
            ts=np.array(ts, dtype=np.float64),
            action=encode(action, config.action_index),
            issue=encode(issue, codes.issues),
            group=encode(group, codes.groups),
            channel=encode(channel, codes.channels),
            impression=kinds == _IMPRESSION,
            rejection=kinds == _REJECTED,
            positive=_POSITIVE[kinds],
        )


def _limit_blocks(
    config: CompiledConfig, rule: LimitRule, h: HistoryArrays, now: float
) -> BoolArray:
    n = config.n_actions
    rows = h.impression & (h.ts > now - rule.window.total_seconds())
    if rule.channel is not None:
        rows &= h.channel == config.codes.channels.get(rule.channel, -2)
    scope = np.ones(n, dtype=bool)
    if rule.issue is not None:
        issue = config.issues.index(rule.issue)
        rows &= h.issue == issue
        scope &= config.issue_idx == issue
    if rule.group is not None:
        group = config.groups.index(rule.group)
        rows &= h.group == group
        scope &= config.group_idx == group
    if rule.level == "channel":
        return scope if int(rows.sum()) >= rule.max else np.zeros(n, dtype=bool)
    keys, action_keys, size = {
        "issue": (h.issue, config.issue_idx, len(config.issues)),
        "group": (h.group, config.group_idx, len(config.groups)),
        "action": (h.action, np.arange(n, dtype=np.int64), n),
    }[rule.level]
    counted = keys[rows]
    counted = counted[counted >= 0]
    full = np.bincount(counted, minlength=size) >= rule.max
    return np.asarray(scope & full[action_keys], dtype=bool)


def _suppression_blocks(
    config: CompiledConfig, rule: SuppressionRule, h: HistoryArrays, now: float
) -> BoolArray:
    n = config.n_actions
    keys_all, action_keys, size = (
        (h.action, np.arange(n, dtype=np.int64), n)
        if rule.level == "action"
        else (h.group, config.group_idx, len(config.groups))
    )
    on_channel = (
        np.ones(len(h.ts), dtype=bool)
        if rule.channel is None
        else h.channel == config.codes.channels.get(rule.channel, -2)
    )
    valid = on_channel & (keys_all >= 0)
    if rule.after == "rejections":
        tracked = valid & h.rejection
    else:
        # an impression counts only if no positive response for its key came after it
        last_positive = np.full(size, -np.inf)
        pos = valid & h.positive
        np.maximum.at(last_positive, keys_all[pos], h.ts[pos])
        tracked = valid & h.impression
        tracked[tracked] = h.ts[tracked] > last_positive[keys_all[tracked]]
    if not tracked.any():
        return np.zeros(n, dtype=bool)
    keys = keys_all[tracked]
    ts = h.ts[tracked]
    order = np.lexsort((ts, keys))
    keys, ts = keys[order], ts[order]
    paused = np.zeros(size, dtype=bool)
    k = rule.count
    if len(ts) >= k:
        # the event k-1 places earlier, if it is of the same key and within the window,
        # completes a burst of k events ending here
        first_keys = keys[: len(keys) - k + 1]
        first_ts = ts[: len(ts) - k + 1]
        end_keys = keys[k - 1 :]
        end_ts = ts[k - 1 :]
        burst = (first_keys == end_keys) & (end_ts - first_ts <= rule.window.total_seconds())
        active = burst & (now < end_ts + rule.pause.total_seconds())
        paused[end_keys[active]] = True
    return paused[action_keys]


def _in_quiet_hours(local: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # spans midnight


def quiet_hours_now(
    config: CompiledConfig, channel: str, now: datetime, tz_name: str | None
) -> bool:
    spec = config.channels[channel].quiet_hours
    if spec is None:
        return False
    try:
        zone = ZoneInfo(tz_name or config.arbitration.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(config.arbitration.default_timezone)
    local = now.astimezone(zone).time()
    return _in_quiet_hours(local, spec.start, spec.end)


def quiet_hours_end(
    config: CompiledConfig, channel: str, now: datetime, tz_name: str | None
) -> datetime | None:
    """When the channel's quiet hours that hold at `now` end (None: not quiet now)."""
    if not quiet_hours_now(config, channel, now, tz_name):
        return None
    spec = config.channels[channel].quiet_hours
    assert spec is not None
    try:
        zone = ZoneInfo(tz_name or config.arbitration.default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(config.arbitration.default_timezone)
    local = now.astimezone(zone)
    end = datetime.combine(local.date(), spec.end, tzinfo=zone)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def contact_blocks(
    config: CompiledConfig, channel: str, history: HistoryArrays, now: float
) -> tuple[BoolArray, dict[int, str]]:
    """Actions held back by contact policies on `channel`, and (for each) the policy id."""
    blocked = np.zeros(config.n_actions, dtype=bool)
    by_policy: dict[int, str] = {}
    if len(history.ts) == 0:
        return blocked, by_policy
    for rule in config.contact_rules:
        if isinstance(rule, LimitRule):
            if rule.channel is not None and rule.channel != channel:
                continue
            hit = _limit_blocks(config, rule, history, now)
        else:
            if rule.channel is not None and rule.channel != channel:
                continue
            hit = _suppression_blocks(config, rule, history, now)
        for i in np.flatnonzero(hit & ~blocked):
            by_policy[int(i)] = rule.id
        blocked |= hit
    return blocked, by_policy
