"""Event triggers: an ingested event that meets a trigger (policies.yaml `triggers:`) runs
an outbound decision for the customer, and the chosen message goes to the outbox.

* the event must match the trigger (`on`, `event`, `where`) and its rule (`when`, over the
  profile and real-time features as they are after the event) must hold;
* a trigger fires at most once per customer per `cooldown` (a firing that found nothing
  to send counts too), across processes: the firing is claimed (an outbox row `firing`,
  replaced once its message is decided) in one transaction with the cool-down check;
* the channel is the customer's preferred one (the trait `preferred_channel`, when the
  schema has it and the trigger allows it), else the trigger's channels in order — the
  first on which the customer gave a contact permission, where the channel needs one;
* in the channel's quiet hours the message waits (`waiting`, due when they end) and is
  decided then (`Engine.run_outbox`, `nextbest outbox run`), under the policies of then;
* the decision may return only the trigger's actions; what it returns is `queued` for a
  delivery adapter, and when it returns nothing the row says `nothing`;
* a decision that fails (the store busy past its timeout, say) leaves the message
  `waiting`, due at once: the next outbox run decides it. The event stays ingested and the
  firing claimed; the failure is logged with the trigger, never the customer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nextbest.config.compiled import Trigger
from nextbest.policies.consent import permission_standing
from nextbest.policies.contact import quiet_hours_end
from nextbest.profile.features import matching_properties
from nextbest.profile.features import values as feature_values
from nextbest.profile.traits import coerce_traits
from nextbest.rules import Scope
from nextbest.store.base import EventRecord, FeatureState, OutboxRow
from nextbest.types import DecisionRequest, Placement

if TYPE_CHECKING:
    from nextbest.decision.engine import Engine

#: the trait that names a customer's preferred channel, if the schema declares it
PREFERRED = "preferred_channel"
#: how long an outbox run holds the due messages it took (others pass them by); one that
#: stopped before deciding them has them come due again after it
LEASE_SECONDS = 300.0

log = logging.getLogger(__name__)


def matches(trigger: Trigger, event: EventRecord) -> bool:
    return matching_properties(event, trigger.on, trigger.event, trigger.where) is not None


def fire(
    engine: Engine, events: list[EventRecord], states: Mapping[str, FeatureState] | None = None
) -> int:
    """Run the triggers the events meet; returns how many fired. `states`: the customers'
    feature states as the ingestion just saved them (else they are read)."""
    config = engine.config
    rows: list[OutboxRow] = []
    fired: set[tuple[str, str]] = set()  # (trigger, customer) fired in this batch
    profiles: dict[str, dict[str, Any]] = {}  # the customers' profiles with features
    for event in events:
        cid = event.customer_id
        if not cid:
            continue
        for trigger in config.triggers:
            if not matches(trigger, event) or (trigger.id, cid) in fired:
                continue
            now = engine.clock.now()
            last = engine.store.last_fired(trigger.id, cid)
            if last is not None and now.timestamp() - last < trigger.cooldown:
                continue
            if trigger.rule is not None:
                if cid not in profiles:  # once per customer and batch
                    raw = engine.store.get_profile(cid) or {}
                    typed = coerce_traits(config.traits, raw)
                    live = (
                        feature_values(states.get(cid, {}), config.features, now.timestamp())
                        if states is not None
                        else engine.features_of(cid, now)
                    )
                    profiles[cid] = {**typed, **live}
                scope = Scope(profile=profiles[cid], context={}, now=now)
                if not config.rules[trigger.rule].test(scope):
                    continue
            row = OutboxRow(
                "out_" + uuid.uuid4().hex[:16], cid, trigger.id, event.message_id,
                "firing", None, now.timestamp(), now.timestamp(),
            )  # fmt: skip
            fired.add((trigger.id, cid))
            # the cool-down again, with the row, in one transaction: another process may
            # have fired it since the check above
            if not engine.store.claim_firing(row, trigger.cooldown):
                continue
            rows.append(_sent_or_waiting(engine, trigger, row._replace(status="waiting"), now))
    engine.store.put_outbox(rows)  # the batch's messages, in one transaction
    return len(rows)


def _sent_or_waiting(engine: Engine, trigger: Trigger, row: OutboxRow, now: datetime) -> OutboxRow:
    """`send`, or — if deciding fails — the row waiting, due now, for the next outbox run."""
    try:
        return send(engine, trigger, row, now)
    except Exception as exc:
        log.warning(
            "trigger %s: deciding its message failed (%s); it waits for the next outbox run",
            trigger.id,
            type(exc).__name__,
        )
        return row._replace(status="waiting", due_ts=min(row.due_ts, now.timestamp()))


def send(engine: Engine, trigger: Trigger, row: OutboxRow, now: datetime) -> OutboxRow:
    """Decide the row's message now — or, in quiet hours, leave it waiting until they end."""
    config = engine.config
    cid = row.customer_id
    profile = engine.store.get_profile(cid) or {}
    channel = preferred_channel(engine, trigger, cid, profile.get(PREFERRED), now)
    if channel is None:
        return row._replace(status="nothing", channel=None)
    tz = profile.get(config.arbitration.timezone_field)
    end = quiet_hours_end(config, channel, now, tz if isinstance(tz, str) else None)
    if end is not None:
        return row._replace(status="waiting", channel=channel, due_ts=end.timestamp())
    placement = next(iter(config.channels[channel].placements))
    decision = engine.decide(
        DecisionRequest(
            channel=channel,
            placements=(Placement(placement),),
            customer_id=cid,
            context={"trigger": trigger.id} if "trigger" in config.env.context else {},
            assurance_level=trigger.assurance_level,
            candidates=trigger.actions,
        )
    )
    if not decision.actions:
        return row._replace(status="nothing", channel=channel, decision_id=decision.decision_id)
    chosen = decision.actions[0]
    return row._replace(
        status="queued",
        channel=channel,
        due_ts=now.timestamp(),
        decision_id=decision.decision_id,
        action_id=chosen.action_id,
        content=chosen.content,
    )


def preferred_channel(
    engine: Engine, trigger: Trigger, customer_id: str, preferred: object, now: datetime
) -> str | None:
    config = engine.config
    order = list(trigger.channels)
    if isinstance(preferred, str) and preferred in order and PREFERRED in config.traits:
        order.remove(preferred)
        order.insert(0, preferred)
    needs = [c for c in order if config.channels[c].permission]
    permits = permission_standing(
        needs, engine.store.permission_ledger(customer_id), now.timestamp()
    )
    for channel in order:
        if channel not in permits or permits[channel].allowed:
            return channel
    return None


def run_due(engine: Engine, limit: int = 1000) -> int:
    """Decide the waiting messages whose quiet hours are over; returns how many were
    decided (one whose decision fails stays waiting, due now). The messages are leased
    first (`Store.lease_due`): two runs at once — a server's and a cron job's — decide
    each message once."""
    now = engine.clock.now()
    by_id = {t.id: t for t in engine.config.triggers}
    done = 0
    ts = now.timestamp()
    for row in engine.store.lease_due(ts, ts + LEASE_SECONDS, limit):
        trigger = by_id.get(row.trigger_id)
        if trigger is None:  # the trigger left the configuration meanwhile
            engine.store.put_outbox([row._replace(status="nothing")])
            done += 1
        else:
            decided = _sent_or_waiting(engine, trigger, row, now)
            engine.store.put_outbox([decided])
            done += decided.status != "waiting"
    return done
