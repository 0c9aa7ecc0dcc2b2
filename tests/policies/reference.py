"""A deliberately naive reference of the contact-policy semantics, for property tests."""

from __future__ import annotations

from collections.abc import Sequence

from nextbest.config.compiled import Action, CompiledConfig, LimitRule, SuppressionRule
from nextbest.store.base import InteractionRow

POSITIVE = {"accepted", "converted", "clicked"}


def violated_policy(
    config: CompiledConfig, action: Action, channel: str, rows: Sequence[InteractionRow], now: float
) -> str | None:
    """The id of a contact policy that forbids showing `action` on `channel` now, if any."""
    for rule in config.contact_rules:
        if rule.channel is not None and rule.channel != channel:
            continue
        if isinstance(rule, LimitRule):
            if rule.issue is not None and action.issue != rule.issue:
                continue
            if rule.group is not None and action.group != rule.group:
                continue
            count = 0
            for r in rows:
                if r.outcome != "impression" or not (r.ts > now - rule.window.total_seconds()):
                    continue
                if rule.channel is not None and r.channel != rule.channel:
                    continue
                if rule.issue is not None and r.issue != rule.issue:
                    continue
                if rule.group is not None and r.group != rule.group:
                    continue
                same = {
                    "channel": True,
                    "issue": r.issue == action.issue,
                    "group": r.group == action.group,
                    "action": r.action_id == action.id,
                }[rule.level]
                if same:
                    count += 1
            if count >= rule.max:
                return rule.id
        else:

            def key(r: InteractionRow, rule: SuppressionRule = rule) -> bool:
                if rule.channel is not None and r.channel != rule.channel:
                    return False
                if r.action_id not in config.action_index:
                    return False
                return (
                    r.action_id == action.id if rule.level == "action" else r.group == action.group
                )

            mine = sorted((r for r in rows if key(r)), key=lambda r: r.ts)
            if rule.after == "rejections":
                tracked = [r.ts for r in mine if r.outcome == "rejected"]
            else:
                last_positive = max(
                    (r.ts for r in mine if r.outcome in POSITIVE), default=float("-inf")
                )
                tracked = [r.ts for r in mine if r.outcome == "impression" and r.ts > last_positive]
            k = rule.count
            for j in range(k - 1, len(tracked)):
                if (
                    tracked[j] - tracked[j - k + 1] <= rule.window.total_seconds()
                    and now < tracked[j] + rule.pause.total_seconds()
                ):
                    return rule.id
    return None
