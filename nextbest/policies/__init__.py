"""Engagement and contact policies."""

from nextbest.policies.contact import HistoryArrays, contact_blocks, quiet_hours_now

__all__ = ["HistoryArrays", "contact_blocks", "quiet_hours_now"]
