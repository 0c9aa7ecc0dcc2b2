"""Segment-spec messages: parsing, validation and what each does to the engine.

The field names are the Segment spec's (`userId`, `anonymousId`, `traits`, `properties`,
`context`, `timestamp`, `sentAt`, `messageId`, `event`, `name`, `previousId`, `groupId`,
`integrations`); fields the spec allows beyond those are kept in the stored payload.

What a message does, for now (identity stitching is the customer-360 issue):
* every message is stored whole, once per `messageId` (a resend changes nothing);
* `identify` with a `userId` merges its declared traits (top-level `traits`, or
  `context.traits` as RudderStack's Python SDK sends them) into the profile whose
  customer_id is that `userId`; with only an `anonymousId`, into the anonymous profile
  `anonymous:<anonymousId>`; traits the schema does not declare stay in the payload only;
* `track` whose properties carry `decision_id`, `action_id` and `outcome` reports that
  outcome (idempotent on the messageId), so tracking code can close the learning loop;
* `context.consent.categoryPreferences` (any message type) appends a consent record, with
  source `segment` at the event's time, for every purpose that lists the category in its
  `segment_categories` (true → granted, false → denied); RudderStack's
  `context.consentManagement` (`allowedConsentIds`, `deniedConsentIds`,
  `resolutionStrategy`) does the same for the purposes' `consent_ids`, source
  `rudderstack`;
* where a `personalization` purpose is configured, traits of a customer without it
  (after the message's own consent preferences) are not merged into the profile; the
  answer counts them as `traits_withheld`.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from nextbest.config.models import PurposeSpec
from nextbest.errors import RequestError
from nextbest.policies.consent import withhold_traits
from nextbest.profile.identity import TRAIT_IDENTIFIERS, normalize
from nextbest.profile.traits import TraitError, validate_traits
from nextbest.store.base import ANONYMOUS, ConsentRecord, EventRecord
from nextbest.types import check_outcome

TYPES = ("identify", "track", "page", "screen", "group", "alias")  # as `Message.type`
#: Segment's limits
MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_BATCH_EVENTS = 2500

Identifier = str | int


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: Literal["identify", "track", "page", "screen", "group", "alias"]
    userId: Identifier | None = None
    anonymousId: Identifier | None = None
    messageId: str | None = Field(default=None, max_length=200)
    timestamp: datetime | None = None
    sentAt: datetime | None = None
    context: dict[str, Any] | None = None
    integrations: dict[str, Any] | None = None
    traits: dict[str, Any] | None = None
    properties: dict[str, Any] | None = None
    event: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)
    previousId: Identifier | None = None
    groupId: Identifier | None = None

    @field_validator("userId", "anonymousId", "previousId", "groupId", mode="before")
    @classmethod
    def _identifier(cls, value: Any) -> Any:
        # before pydantic's own check, which takes true for 1 (a customer "1")
        if isinstance(value, bool):
            raise ValueError("must be a string or an integer, not a boolean")
        if isinstance(value, str):
            value = value.strip()  # " zed " is customer "zed", as an anonymousId is
            if not value:
                raise ValueError("must not be empty")
        if isinstance(value, (str, int)) and len(str(value)) > 320:
            raise ValueError("must be at most 320 characters")
        return value

    @field_validator("timestamp", "sentAt")
    @classmethod
    def _representable(cls, value: datetime | None) -> datetime | None:
        """In UTC (a time without zone is UTC, as Segment's are), within years 1–9999."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the years 1–9999 in UTC") from None

    @model_validator(mode="after")
    def _required(self) -> Message:
        if self.type == "alias":
            if self.previousId is None or self.userId is None:
                raise ValueError("alias needs previousId and userId")
        elif self.userId is None and self.anonymousId is None:
            raise ValueError("needs userId or anonymousId")
        if self.type == "track" and not self.event:
            raise ValueError("track needs event")
        if self.type == "group" and self.groupId is None:
            raise ValueError("group needs groupId")
        return self

    def identify_traits(self) -> dict[str, Any] | None:
        """The traits of an identify: top-level per the spec, or in `context.traits`, where
        RudderStack's Python SDK puts them."""
        if self.traits:
            return self.traits
        nested = (self.context or {}).get("traits")
        return nested if isinstance(nested, dict) and nested else None

    @property
    def customer_id(self) -> str:
        if self.userId is not None:
            return str(self.userId)
        return f"{ANONYMOUS}{_anonymous(self.anonymousId)}"


def parse(items: list[Any], prefix: str) -> list[Message]:
    """Validate raw messages; the first bad one is a RequestError naming its field."""
    messages = []
    for i, item in enumerate(items):
        where = f"{prefix}[{i}]" if prefix else ""
        # as a client sends it: compact UTF-8 (json.dumps' `\u20ac` for `€` counted 6)
        if len(orjson.dumps(item)) > MAX_EVENT_BYTES:
            raise RequestError(
                where or "body", f"an event may be at most {MAX_EVENT_BYTES // 1024} KB"
            )
        try:
            messages.append(Message.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = ".".join(str(p) for p in error.get("loc", ()))
            field = ".".join(p for p in (where, loc) if p) or "body"
            raise RequestError(field, str(error.get("msg"))) from None
    return messages


def _outcome(message: Message) -> tuple[str, str, str] | None:
    props = message.properties or {}
    if message.type != "track" or not {"decision_id", "action_id", "outcome"} <= props.keys():
        return None
    return str(props["decision_id"]), str(props["action_id"]), str(props["outcome"])


def ingest(engine: Any, messages: list[Message], prefix: str = "") -> dict[str, int]:
    """Store and apply messages: every reference is checked before anything is written."""
    now = engine.clock.now()
    records: list[tuple[EventRecord, dict[str, Any] | None]] = []
    # a visitor's events go where its anonymous id now points: the known customer's
    # profile once the visitor was identified (and if another process merges the visitor
    # before the events are written, where it points then: `seen`)
    visitors = [_anonymous(m.anonymousId) for m in messages if m.userId is None]
    seen = engine.store.identity_mark() if visitors else None
    resolved = engine.resolve_anonymous(visitors)
    for i, message in enumerate(messages):
        where = f"{prefix}[{i}]." if prefix else ""
        traits = None
        given = message.identify_traits()
        if message.type == "identify" and given:
            try:
                traits = validate_traits(
                    engine.config.traits,
                    given,
                    allow_unknown=True,
                    source="events",
                    writers=engine.config.trait_writers,
                )
            except TraitError as exc:
                raise RequestError(f"{where}traits.{exc.field}", exc.message) from None
        outcome = _outcome(message)
        if outcome is not None:
            decision_id, action_id, kind = outcome
            check_outcome(kind, None, (f"{where}properties.outcome", f"{where}properties.value"))
            engine.returned_action(
                decision_id,
                action_id,
                fields=(f"{where}properties.decision_id", f"{where}properties.action_id"),
            )
        when = message.timestamp or now
        record = EventRecord(
            message_id=message.messageId or str(uuid.uuid4()),
            type=message.type,
            customer_id=(
                message.customer_id
                if message.userId is not None
                else resolved.get(_anonymous(message.anonymousId), message.customer_id)
            ),
            anonymous_id=None if message.anonymousId is None else str(message.anonymousId),
            name=message.event or message.name,
            ts=when.timestamp(),
            received_ts=now.timestamp(),
            payload=message.model_dump(mode="json", exclude_none=True),
        )
        records.append((record, traits))
    # suppressed subjects (a data-subject request): their events are dropped, and counted
    ids = {r.customer_id for r, _ in records if r.customer_id}
    suppressed = engine.suppressed_among(ids)
    dropped = 0
    if suppressed:
        for customer_id, n in Counter(
            r.customer_id for r, _ in records if r.customer_id in suppressed
        ).items():
            engine.count_dropped(customer_id, n)
        kept = [i for i, (r, _) in enumerate(records) if r.customer_id not in suppressed]
        dropped = len(records) - len(kept)
        messages = [messages[i] for i in kept]
        records = [records[i] for i in kept]
    links = _identity_links(engine, messages, records)
    withheld, ledger = _apply_consents(engine, messages, records)
    new, withheld_later = engine.record_events(records, links, seen=seen, consents=ledger)
    reported = False
    for (record, _), message, fresh in zip(records, messages, new, strict=True):
        outcome = _outcome(message)
        if fresh and outcome is not None:
            reported = True
            engine.record_outcome(
                outcome[0],
                outcome[1],
                outcome[2],
                at=datetime.fromtimestamp(record.ts, UTC),
                idempotency_key=f"event:{record.message_id}",
                learn=False,
            )
    if reported:
        engine.catch_up()  # the batch's outcomes, learned together
    return {
        "received": len(records) + dropped,
        "new": sum(new),
        "duplicates": len(records) - sum(new),
        "dropped_suppressed": dropped,
        "traits_withheld": withheld + withheld_later,
    }


def _anonymous(value: Identifier | None) -> str:
    """An anonymousId as its identifier (normalized: trimmed text)."""
    return str(value).strip()


def _identity_links(
    engine: Any, messages: list[Message], records: list[tuple[EventRecord, dict[str, Any] | None]]
) -> list[tuple[str, object, str]]:
    """The (namespace, value, customer) identifiers the messages link, linked with the
    events in their transaction: each message's `userId` and `anonymousId` (an alias: its
    `previousId` as an anonymous id), and an identify's `email` and `phone` traits. A trait
    value that is no e-mail address or phone number stays a trait but links nothing."""
    region = engine.config.identity.default_region
    links: list[tuple[str, object, str]] = []
    for message, (event, traits) in zip(messages, records, strict=True):
        cid = event.customer_id
        if not cid:
            continue
        if message.userId is not None:
            links.append(("user_id", message.userId, cid))
        if message.anonymousId is not None:
            links.append(("anonymous_id", message.anonymousId, cid))
        if message.type == "alias" and message.previousId is not None:
            links.append(("anonymous_id", message.previousId, cid))
        for name in TRAIT_IDENTIFIERS:
            value = (traits or {}).get(name)
            if value is not None:
                try:
                    normalize(name, value, region)
                except RequestError:
                    continue
                links.append((name, value, cid))
    return links


def consent_records(
    purposes: Mapping[str, PurposeSpec], message: Message, customer_id: str, ts: float
) -> list[ConsentRecord]:
    """What a message's consent context says about each purpose: Segment's
    `context.consent.categoryPreferences` (source `segment`) and RudderStack's
    `context.consentManagement` (source `rudderstack`), as the same ledger records."""
    context = message.context or {}
    consent = context.get("consent")
    preferences = consent.get("categoryPreferences") if isinstance(consent, dict) else None
    out = []
    if isinstance(preferences, dict):
        for name, spec in purposes.items():
            said = [preferences[c] for c in spec.segment_categories if c in preferences]
            if said and all(isinstance(v, bool) for v in said):
                # a purpose fed by several categories is granted only if every one of them is
                status = "granted" if all(said) else "denied"
                out.append(ConsentRecord(customer_id, name, status, ts, source="segment"))
    managed = context.get("consentManagement")
    if isinstance(managed, dict):
        allowed, denied = (_ids(managed.get(k)) for k in ("allowedConsentIds", "deniedConsentIds"))
        any_of = str(managed.get("resolutionStrategy", "and")).lower() == "or"
        for name, spec in purposes.items():
            ids = set(spec.consent_ids)
            if not ids & (allowed | denied):
                continue  # the message says nothing about this purpose
            # RudderStack's resolution: `and` — every id allowed; `or` — any one
            granted = bool(ids & allowed) if any_of else ids <= allowed
            status = "granted" if granted else "denied"
            out.append(ConsentRecord(customer_id, name, status, ts, source="rudderstack"))
    return out


def _ids(value: object) -> set[str]:
    """A RudderStack consent id list (ids as text; anything else: none)."""
    if not isinstance(value, list):
        return set()
    return {str(v) for v in value if isinstance(v, str | int) and not isinstance(v, bool)}


def _apply_consents(
    engine: Any, messages: list[Message], records: list[tuple[EventRecord, dict[str, Any] | None]]
) -> tuple[int, list[ConsentRecord]]:
    """Append the messages' consent preferences (before the events: a resent message adds
    the same records again, which changes nothing, where the other order could lose them
    to a crash), then withhold the traits of customers without `personalization`.
    Returns how many messages' traits were withheld, and the records appended."""
    config = engine.config
    ledger = []
    for (event, _), message in zip(records, messages, strict=True):
        if event.customer_id:
            ledger += consent_records(config.purposes, message, event.customer_id, event.ts)
    engine.add_consents(ledger)
    withheld = withhold_traits(config.purposes, engine.store.consent_ledger, records)
    return withheld, ledger
