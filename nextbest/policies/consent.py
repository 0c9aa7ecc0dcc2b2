"""The consent ledger, read at a moment: which purposes and channels a decision may use.

Two append-only ledgers per customer, kept apart (as the GDPR and ePrivacy rules are):

* **purposes** — processing purposes (`marketing`, `service`, `personalization`, …), each
  with a legal basis in the configuration. A purpose on `consent` needs a grant (default
  deny); one on `legitimate_interest` holds unless the customer objected (denied or
  revoked). A grant counts only from its status time until its expiry, and only if it
  was given under the purpose's current `policy_version` — an older grant means the
  customer must be asked again (`reconsent_required`).
* **permissions** — per-channel contact permissions (may we e-mail, text, push). A channel
  with `permission: true` returns nothing to a customer without a current grant.

The reserved purpose `direct_marketing` records an objection to direct marketing (GDPR
Art. 21(2)): denied or revoked, it switches off every purpose flagged `direct_marketing`,
on every channel, whatever their own grants say. The latest record at or before the
moment wins; ties go to the one recorded last.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from nextbest.config.models import PurposeSpec
from nextbest.store.base import ConsentRecord, EventRecord

#: the purpose whose denial is an objection to all direct marketing
DIRECT_MARKETING = "direct_marketing"
#: the purpose without which a decision uses only the request's context
PERSONALIZATION = "personalization"
STATUSES = ("granted", "denied", "revoked")
OBJECTIONS = ("denied", "revoked")

Traits = TypeVar("Traits", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Standing:
    """One purpose's or channel's standing at a moment."""

    allowed: bool
    status: str | None  # the current record's status (None: no current record)
    reason: str  # why (not) allowed, for explanations and the consents API
    reconsent_required: bool = False


def current(records: Iterable[ConsentRecord], at: float) -> dict[str, ConsentRecord]:
    """Each subject's latest record at or before `at` (records in the order recorded)."""
    latest: dict[str, ConsentRecord] = {}
    for r in records:
        if r.ts <= at and (r.subject not in latest or r.ts >= latest[r.subject].ts):
            latest[r.subject] = r
    return latest


def _live(record: ConsentRecord, at: float) -> bool:
    return record.expires_ts is None or at < record.expires_ts


def purpose_standing(
    purposes: Mapping[str, PurposeSpec], records: Iterable[ConsentRecord], at: float
) -> dict[str, Standing]:
    """Every configured purpose's standing at `at`, from the purpose ledger."""
    now = current(records, at)
    objection = now.get(DIRECT_MARKETING)
    objected = objection is not None and objection.status in OBJECTIONS and _live(objection, at)
    out: dict[str, Standing] = {}
    for name, spec in purposes.items():
        record = now.get(name)
        status = record.status if record is not None else None
        if objected and spec.direct_marketing:
            out[name] = Standing(False, status, "objection to direct marketing")
        elif spec.basis == "legitimate_interest":
            if record is not None and status in OBJECTIONS and _live(record, at):
                out[name] = Standing(False, status, f"objected ({status})")
            else:
                out[name] = Standing(True, status, "legitimate interest")
        elif record is None or status != "granted":
            out[name] = Standing(False, status, "no consent" if record is None else status or "")
        elif not _live(record, at):
            out[name] = Standing(False, status, "consent expired", reconsent_required=True)
        elif (record.policy_version or 1) < spec.policy_version:
            out[name] = Standing(
                False,
                status,
                f"consent given under policy version {record.policy_version or 1}, "
                f"current is {spec.policy_version}",
                reconsent_required=True,
            )
        else:
            out[name] = Standing(True, status, "consent granted")
    return out


def withhold_traits(
    purposes: Mapping[str, PurposeSpec],
    ledger: Callable[[str], Sequence[ConsentRecord]],
    records: MutableSequence[tuple[EventRecord, Traits | None]],
) -> int:
    """Drop, in place, the traits of records whose customer lacks `personalization` at the
    event's time (`ledger(customer)` reads a purpose ledger, once a customer); returns how
    many records' traits were dropped. Without the purpose configured, nothing is."""
    if PERSONALIZATION not in purposes:
        return 0
    withheld = 0
    ledgers: dict[str, Sequence[ConsentRecord]] = {}
    for i, (event, traits) in enumerate(records):
        if not traits or not event.customer_id:
            continue
        if event.customer_id not in ledgers:
            ledgers[event.customer_id] = ledger(event.customer_id)
        standing = purpose_standing(purposes, ledgers[event.customer_id], event.ts)
        if not standing[PERSONALIZATION].allowed:
            records[i] = (event, None)
            withheld += 1
    return withheld


def permission_standing(
    channels: Iterable[str], records: Iterable[ConsentRecord], at: float
) -> dict[str, Standing]:
    """Each channel's contact permission at `at`, from the permission ledger."""
    now = current(records, at)
    out: dict[str, Standing] = {}
    for channel in channels:
        record = now.get(channel)
        if record is None:
            out[channel] = Standing(False, None, "no contact permission")
        elif record.status != "granted":
            out[channel] = Standing(False, record.status, f"contact permission {record.status}")
        elif not _live(record, at):
            out[channel] = Standing(
                False, record.status, "contact permission expired", reconsent_required=True
            )
        else:
            out[channel] = Standing(True, record.status, "contact permission granted")
    return out
