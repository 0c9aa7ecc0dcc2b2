"""Data-subject rights: export, suppression (restriction), erasure.

A regulation (`suppress`, `suppress_with_delete`, `delete_only`, `unsuppress` — Segment's
and RudderStack's names) runs over a list of customer ids and records where it stands
(`initialized` → `running` → `finished` | `failed`). Suppression keeps the data but takes
the subject out of processing: their events are dropped and counted, their decisions are
made as for an anonymous visitor, their outcomes are not recorded or learned. Erasure
deletes them from every store, leaving no bytes behind in the SQLite file. The suppression
list holds SHA-256 digests of customer ids, so an erased subject's id is not kept.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from nextbest.errors import RequestError
from nextbest.store.base import Regulation, Store, subject_digest

TYPES = ("suppress", "suppress_with_delete", "delete_only", "unsuppress")


digest = subject_digest


def run_regulation(store: Store, kind: str, customer_ids: list[str], now: float) -> Regulation:
    """Run a regulation to its end, saving its status at every step."""
    if kind not in TYPES:
        raise RequestError("type", f"unknown regulation type `{kind}` (one of: {', '.join(TYPES)})")
    if not customer_ids:
        raise RequestError("customer_ids", "name at least one customer")
    regulation = Regulation(
        "reg_" + uuid.uuid4().hex[:16], kind, len(customer_ids), "initialized", now, now, {}
    )
    store.save_regulation(regulation)
    regulation = regulation._replace(status="running")
    store.save_regulation(regulation)
    erased: Counter[str] = Counter()
    try:
        digests = [digest(c) for c in dict.fromkeys(customer_ids)]
        if kind in ("suppress", "suppress_with_delete"):
            store.set_suppressed(digests, regulation.regulation_id, now)
        if kind in ("suppress_with_delete", "delete_only"):
            for customer_id in dict.fromkeys(customer_ids):
                erased.update(store.erase_subject(customer_id))
        detail: dict[str, Any] = {"erased": dict(erased)} if erased else {}
        if kind == "unsuppress":
            detail["unsuppressed"] = store.unsuppress(digests)
        regulation = regulation._replace(status="finished", detail=detail)
    except Exception as exc:  # the request is recorded as failed, not lost
        regulation = regulation._replace(status="failed", detail={"error": type(exc).__name__})
    store.save_regulation(regulation)
    return regulation
