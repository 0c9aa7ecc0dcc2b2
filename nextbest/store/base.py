"""Storage protocols, one per concern, and the plain records they exchange.

Backends implement all of them (`Store`); the conformance suite in tests/store runs every
backend through the same checks. Timestamps are UTC epoch seconds (`ts`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol


def subject_digest(customer_id: str) -> str:
    """A customer's key on the suppression list (SHA-256, hex): the list never holds ids."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


class InteractionRow(NamedTuple):
    """One row of the interaction history: an impression or an outcome.

    A named tuple rather than a dataclass: a decision reads a few hundred of these, and
    building them straight from database rows must cost next to nothing."""

    customer_id: str | None
    decision_id: str
    action_id: str
    issue: str
    group: str  # "issue/group"
    channel: str
    outcome: str  # impression | clicked | accepted | rejected | ignored | converted
    ts: float
    value: float | None = None


class ContactRow(NamedTuple):
    """The columns of a history row that contact policies count."""

    action_id: str
    issue: str
    group: str
    channel: str
    outcome: str
    ts: float


@dataclass(frozen=True, slots=True)
class StoredDecision:
    decision_id: str
    ts: float
    customer_id: str | None
    interaction_id: str | None
    channel: str
    direction: str
    config_version: str
    actions: list[dict[str, Any]]  # one dict per returned action (RankedAction fields)
    document: dict[str, Any]  # request, step-up hints, removed actions, seed


@dataclass(frozen=True, slots=True)
class OutcomeRecord:
    decision_id: str
    action_id: str
    outcome: str
    ts: float
    idempotency_key: str
    customer_id: str | None
    issue: str
    group: str
    channel: str
    value: float | None = None

    def as_row(self) -> InteractionRow:
        return InteractionRow(
            customer_id=self.customer_id,
            decision_id=self.decision_id,
            action_id=self.action_id,
            issue=self.issue,
            group=self.group,
            channel=self.channel,
            outcome=self.outcome,
            ts=self.ts,
            value=self.value,
        )


#: per trait, who wrote the value the profile holds and when it was true: [source, ts]
TraitSources = dict[str, list[Any]]


def apply_traits(
    traits: dict[str, Any],
    sources: TraitSources,
    update: Mapping[str, Any],
    source: str,
    ts: float,
    ranks: Mapping[str, int],
) -> None:
    """Trait precedence, in place: each value of `update` (None removes the trait) replaces
    the one held unless that came from a source of higher priority (lower rank; sources
    without a rank rank last), or from one of equal priority with a later time. A value
    with no recorded source yields to any write."""
    rank = ranks.get(source, len(ranks))
    for key, value in update.items():
        held = sources.get(key)
        if held is not None:
            held_rank = ranks.get(held[0], len(ranks))
            if held_rank < rank or (held_rank == rank and held[1] > ts):
                continue
        if value is None:
            traits.pop(key, None)
        else:
            traits[key] = value
        sources[key] = [source, ts]


class ProfileStore(Protocol):
    def get_profile(self, customer_id: str) -> dict[str, Any] | None: ...

    def trait_sources(self, customer_id: str) -> TraitSources:
        """Who wrote each of the profile's traits (and removals), and when."""
        ...

    def upsert_profiles(
        self,
        profiles: Sequence[tuple[str, Mapping[str, Any]]],
        ts: float,
        *,
        source: str | None = None,
        ranks: Mapping[str, int] | None = None,
    ) -> int:
        """Merge traits key by key into existing profiles (creating new ones); one
        transaction. With a `source`, under trait precedence (`apply_traits`, the values
        true at `ts`); without, as given (generated data), recording no source. Customers
        on the suppression list (as of the write itself: see `SubjectStore.set_suppressed`)
        are left out; returns how many profiles were written."""
        ...

    def count_profiles(self) -> int: ...

    def customer_ids(self, limit: int, offset: int = 0) -> list[str]: ...


class ConsentRecord(NamedTuple):
    """One entry of a consent ledger: a purpose's (or, for permissions, a channel's)
    status from `ts` on, until `expires_ts` if set."""

    customer_id: str
    subject: str  # the purpose, or the channel of a contact permission
    status: str  # granted | denied | revoked
    ts: float  # the status time
    expires_ts: float | None = None
    source: str | None = None  # where it was given: "api", "segment", a banner's id …
    policy_version: int | None = None  # of the purpose's policy it was given under


class ConsentStore(Protocol):
    def get_consents(self, customer_id: str) -> dict[str, str]:
        """purpose → latest status (granted | denied | revoked)."""
        ...

    def set_consents(
        self,
        rows: Sequence[ConsentRecord | tuple[str, str, str, float]],
        permissions: Sequence[ConsentRecord] = (),
    ) -> None:
        """Append purpose records (or (customer_id, purpose, status, ts) tuples) and
        contact-permission records (`subject` is the channel), in one transaction; nothing
        is ever updated or removed — the latest by ts wins, ties by the order recorded.
        A suppressed customer's grants are not stored; their refusals and withdrawals
        are (lifting a restriction must not bring back a grant withdrawn meanwhile)."""
        ...

    def consent_ledger(self, customer_id: str) -> list[ConsentRecord]:
        """The customer's purpose records, in the order recorded."""
        ...

    def permission_ledger(self, customer_id: str) -> list[ConsentRecord]:
        """The customer's contact-permission records, in the order recorded."""
        ...


class IdentityMark(NamedTuple):
    """Where the merge journal and the identity links stood (`identity_mark`)."""

    merges: int  # the newest merge's id
    links: int  # the newest identifier link's


class StaleHistory(Exception):
    """What these customers' writes were based on moved on in another process: their
    history (interactions recorded after the history a decision was made on), or their
    anonymous profile (merged into a known customer since, or its anonymous id claimed by
    one): decide, or resolve, again."""

    def __init__(self, customers: set[str]) -> None:
        self.customers = customers
        super().__init__(f"{len(customers)} customers' history moved on")


class HistoryStore(Protocol):
    def history_mark(self) -> int:
        """A mark of the interaction history as it stands: taken before a decision reads
        its history, `record_decisions(seen=mark)` tells whether the history moved on."""
        ...

    def record_decisions(
        self,
        decisions: Sequence[tuple[StoredDecision, Sequence[InteractionRow]]],
        *,
        seen: int | None = None,
    ) -> None:
        """Each decision with its actions and the given history rows, all in one
        transaction: all are stored, or (an id already recorded, say) none — but for those
        of suppressed customers: such a decision is dropped with its actions and history
        rows (as is any history row of a suppressed customer), the others are stored.

        With `seen` (a `history_mark` from before the decisions read their history), the
        transaction first looks for interactions of the decisions' customers recorded since
        — another process's decision or outcome for one of them, which contact limits may
        have had to count — and for anonymous profiles merged into a known customer since;
        if there are any, it raises StaleHistory naming those customers, storing nothing."""
        ...

    def get_decision(self, decision_id: str) -> StoredDecision | None: ...

    def has_outcome(self, idempotency_key: str) -> bool: ...

    def record_outcome(self, outcome: OutcomeRecord) -> bool:
        """Insert the outcome; False (and nothing written) when the idempotency key was
        already recorded, or when the customer is suppressed (the outcome is counted as
        dropped). The models learn it later from the log (`training_rows`)."""
        ...

    def unanswered(
        self, since_ts: float, before_ts: float, outcomes: Sequence[str], limit: int
    ) -> list[tuple[str, str]]:
        """(decision_id, action_id) of actions returned by decisions made in
        [since_ts, before_ts) that have none of `outcomes` yet, oldest first."""
        ...

    def customer_history(self, customer_id: str, since_ts: float) -> list[InteractionRow]: ...

    def contact_history(self, customer_id: str, since_ts: float) -> list[ContactRow]:
        """The customer's rows since `since_ts`, oldest first: what a decision reads."""
        ...

    def history(
        self, *, customer_id: str | None = None, decision_id: str | None = None, limit: int = 50
    ) -> list[InteractionRow]: ...

    def decisions(
        self, *, customer_id: str | None = None, limit: int = 50
    ) -> list[StoredDecision]: ...

    def counts(self) -> dict[str, Any]: ...


class TrainingRow(NamedTuple):
    """An outcome in the interaction log, with its decision's predictor values."""

    row: int  # its position in the log: increasing in commit order
    action_id: str
    channel: str
    outcome: str
    ts: float
    features: dict[str, Any]


class ModelStateStore(Protocol):
    def load_model_states(self, *, skip_suffix: str | None = None) -> dict[str, dict[str, Any]]:
        """Every saved model state (but those whose key ends with `skip_suffix`)."""
        ...

    def save_model_states(self, states: Mapping[str, Mapping[str, Any]]) -> None: ...

    def learned_through(self) -> int:
        """The last log row the saved model states have learned (0: none)."""
        ...

    def load_learning(
        self, *, skip_suffix: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], int]:
        """The saved model states and the mark they have learned through, read together
        (no learner's save falls between them)."""
        ...

    def training_rows(
        self, after: int, outcomes: Sequence[str], limit: int
    ) -> tuple[list[TrainingRow], int]:
        """Up to `limit` log rows after `after` whose outcome is one of `outcomes`, oldest
        first, and the row the mark may move to once they are learned (past rows that
        train nothing, so they are not read again)."""
        ...

    def save_learning(self, states: Mapping[str, Mapping[str, Any]], through: int) -> bool:
        """Save the states and move the mark to `through`, in one transaction — unless
        another learner already saved past `through`: then nothing is written (its states
        are the newer ones) and the answer is False. The mark never moves back.
        """
        ...


class EventRecord(NamedTuple):
    """One ingested event as received (the whole payload kept), keyed by its messageId."""

    message_id: str
    type: str  # identify | track | page | screen | group | alias
    customer_id: str | None
    anonymous_id: str | None
    name: str | None  # track: the event; page/screen: the name
    ts: float  # when it happened (the event's timestamp)
    received_ts: float
    payload: dict[str, Any]


#: a customer's real-time feature state: feature → [[ts, value], …]
FeatureState = dict[str, list[list[Any]]]
#: what turns the new events of a batch into the feature states to save (customer → state)
FeatureUpdate = Callable[[Sequence["EventRecord"]], Mapping[str, FeatureState]]


class EventStore(Protocol):
    def record_events(
        self,
        events: Sequence[tuple[EventRecord, Mapping[str, Any] | None]],
        ts: float,
        features: FeatureUpdate | None = None,
        identities: Sequence[tuple[str, str, str]] = (),
        ranks: Mapping[str, int] | None = None,
        rebuild: FeatureUpdate | None = None,
        *,
        seen: IdentityMark | None = None,
    ) -> list[bool]:
        """Insert the events not seen before (by message_id) and, for each new one, merge
        its traits (if any) into its customer's profile (source `events`, true at the
        event's time, under trait precedence with `ranks`: `apply_traits`); save the feature states `features`
        derives from the new events; then link the (namespace, value, customer)
        identifiers (as `link_identifiers`, with `rebuild`: a merge it makes takes the
        batch's events, traits and windows along) — all in one transaction. Returns, per event, whether it
        was new. (Identifiers are linked for resent events too: linking again changes
        nothing.) The events of suppressed customers are dropped — reported as not new and
        counted (`SubjectStore.count_dropped`) — and nothing of theirs is written: no
        traits, feature state or identifiers.

        With `seen` (an `identity_mark` from before the batch's anonymous ids were
        resolved), the transaction first looks for anonymous profiles among the events' and
        links' customers that were merged into a known customer since, or whose own
        anonymous id (`anonymous:<id>`'s) a known customer claimed since — a visitor new to
        the store, identified meanwhile; if there are any, it raises StaleHistory naming
        them, storing nothing."""
        ...

    def identity_mark(self) -> IdentityMark:
        """A mark of the merge journal and the identifier links as they stand: taken before
        an ingestion resolves its anonymous ids, `record_events(seen=mark)` tells whether
        one of them was merged or claimed meanwhile."""
        ...

    def customer_events(self, customer_id: str, limit: int) -> list[EventRecord]:
        """The customer's most recent events, newest first."""
        ...

    def all_events(self) -> Iterator[EventRecord]:
        """Every stored event, in the order stored (streamed)."""
        ...

    def feature_states(self, customer_ids: Iterable[str]) -> dict[str, FeatureState]:
        """The saved feature states of these customers (those that have one)."""
        ...

    def replace_feature_states(self, states: Mapping[str, FeatureState], ts: float) -> None:
        """Replace every saved feature state by `states`, in one transaction (a rebuild)."""
        ...


class IdentityStore(Protocol):
    def link_identifiers(
        self,
        links: Sequence[tuple[str, str, str]],
        ts: float,
        rebuild: FeatureUpdate | None = None,
    ) -> list[tuple[str, str, str]]:
        """Point each (namespace, value) at its customer, in order, in one transaction: an
        unowned identifier, or one on an anonymous profile (`anonymous:…`), moves to the
        customer (merging the profile: see MergeStore; `rebuild` recomputes the merged
        profile's feature state from its events); one on another known customer's profile
        stays there. The claims of known customers on identifiers another one owns after
        the batch are kept apart and returned as (namespace, value, customer). Links to
        suppressed customers are left out."""
        ...

    def owner(self, namespace: str, value: str) -> str | None: ...

    def identifiers_of(self, customer_id: str) -> list[tuple[str, str]]: ...

    def claimants(self, namespace: str, value: str) -> list[str]:
        """The known customers who claimed an identifier another one owns."""
        ...

    def owners(self, namespace: str, values: Iterable[str]) -> dict[str, tuple[str, int]]:
        """For each of the values that has an owner: (owner, how many other known customers
        claimed it)."""
        ...


#: the prefix of an anonymous profile's customer id: `anonymous:<anonymousId>`
ANONYMOUS = "anonymous:"


def is_anonymous(customer_id: str) -> bool:
    """An anonymous profile (`anonymous:<anonymousId>`): no known person yet."""
    return customer_id.startswith(ANONYMOUS)


def take_identifiers(
    owners: dict[tuple[str, str], str], links: Sequence[tuple[str, str, str]]
) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """Apply the links to `owners` in place, in order — an unowned identifier is taken, an
    anonymous profile gives way, a known owner keeps its own — and return the moves:
    (from an anonymous profile, to the taker) → the identifiers it took (each a merge)."""
    moves: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for namespace, value, customer_id in links:
        current = owners.get((namespace, value))
        if current is None or current == customer_id or is_anonymous(current):
            if current is not None and current != customer_id:
                moves.setdefault((current, customer_id), []).append((namespace, value))
            owners[(namespace, value)] = customer_id
    return moves


class Merge(NamedTuple):
    """An anonymous profile merged into a known customer's, as journaled."""

    merge_id: int
    ts: float
    from_id: str  # the anonymous profile, gone while merged
    into_id: str  # the known customer
    status: str  # merged | unmerged
    unmerged_ts: float | None
    moved: dict[str, int]  # what moved: events, decisions, interactions, outbox, identifiers


#: what a merge moves, as journaled (the counts in `Merge.moved`)
MOVED = ("events", "decisions", "interactions", "outbox", "identifiers")


def moved_counts(journal: Mapping[str, Any]) -> dict[str, int]:
    """`Merge.moved` from a merge's journal (a purged journal: none)."""
    return {k: len(journal.get(k, ())) for k in MOVED}


def merged_profile(
    into: Mapping[str, Any] | None, other: Mapping[str, Any] | None, ts: float
) -> dict[str, Any]:
    """Two profile rows (`{"traits", "sources", "updated_ts"}`) as one: the other's traits
    fill the gaps of `into`'s, whose own win; with the sources of the values kept."""
    empty: dict[str, Any] = {"traits": {}, "sources": {}}
    a, b = into or empty, other or empty
    return {
        "traits": {**b["traits"], **a["traits"]},
        "sources": {**b["sources"], **a["sources"]},
        "updated_ts": into["updated_ts"] if into else ts,
    }


def restored_visitor(now: Mapping[str, Any] | None, journal: Mapping[str, Any]) -> dict[str, Any]:
    """The anonymous profile an unmerge brings back: as journaled — under the traits of a
    profile made for it since, which win."""
    back = dict(journal["from_profile"])
    return back if now is None else merged_profile(now, back, back["updated_ts"])


def unmerged_traits(
    journal: Mapping[str, Any], current: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The known profile row (`{"traits", "sources", "updated_ts"}`) once a merge is
    undone, from its journal (`into_profile` before, `merged_traits` after) and the row
    now; None: no profile. A trait the merge set that nobody changed since goes back to its
    value before (or away), with its source; one changed since keeps its new value."""
    if current is None:
        return None
    before, merged = journal["into_profile"], journal["merged_traits"]
    if current["traits"] == merged:
        return None if before is None else dict(before)
    traits, sources = dict(current["traits"]), dict(current["sources"])
    for key, value in merged.items():
        if key in traits and traits[key] == value:
            if before is not None and key in before["traits"]:
                traits[key] = before["traits"][key]
                sources[key] = before["sources"].get(key)
            else:
                del traits[key]
                sources.pop(key, None)
    sources = {k: v for k, v in sources.items() if v is not None}
    return {"traits": traits, "sources": sources, "updated_ts": current["updated_ts"]}


class MergeStore(Protocol):
    """The merge journal. Merges happen while identifiers are linked
    (`IdentityStore.link_identifiers`, `EventStore.record_events`): when an identifier
    of an anonymous profile moves to a known customer, the whole anonymous profile merges
    into the known one in the same transaction — its traits fill the known profile's gaps
    (the known customer's own values win), its events, decisions, history rows, outbox
    rows and identifiers become the customer's, the customer's feature state is recomputed
    from all its events now (the link's `rebuild`; exactly what `nextbest features rebuild`
    would give), and the journal keeps what it takes to undo exactly that. A pair once unmerged does
    not merge again on its own: the identifiers stay on the anonymous profile and the
    customer's claim is kept apart, as for a shared identifier."""

    def merges(self, customer_id: str) -> list[Merge]:
        """The merges into or from this profile, oldest first."""
        ...

    def get_merge(self, merge_id: int) -> Merge | None: ...

    def unmerge(self, merge_id: int, ts: float, rebuild: FeatureUpdate | None) -> Merge | None:
        """Undo a merge, in one transaction: the anonymous profile comes back with its
        traits; the known profile's traits that the merge set and nobody changed since go
        back to what they were; events, decisions, history and outbox rows and identifiers
        return (events that arrived since with only the anonymous profile's anonymous id
        too); both customers' feature states are recomputed by `rebuild` from their events
        in stored order. None if there is no such merge; a merge already undone is
        returned unchanged."""
        ...


class Quarantined(NamedTuple):
    """A record that could not be accepted, kept with why."""

    ts: float
    source: str  # e.g. `import:events:clicks.jsonl`
    position: str | None  # where in the source: a line or row number
    field: str  # the offending field
    reason: str
    record: Any  # the record as received (JSON-able; unparsable text as a string)


class QuarantineStore(Protocol):
    def quarantine(self, rows: Sequence[Quarantined]) -> None: ...

    def quarantined(self, *, source: str | None = None, limit: int = 100) -> list[Quarantined]:
        """Newest first."""
        ...


class OutboxRow(NamedTuple):
    """A message an event trigger chose (or will choose, after quiet hours)."""

    outbox_id: str
    customer_id: str
    trigger_id: str
    event_id: str  # the messageId of the event that fired it
    status: str  # waiting (quiet hours: decided when due) | queued | nothing (no message)
    # | firing (claimed, its message being decided)
    channel: str | None
    due_ts: float  # when it may go out
    created_ts: float  # when the trigger fired
    decision_id: str | None = None
    action_id: str | None = None
    content: str | None = None


class OutboxStore(Protocol):
    def put_outbox(self, rows: Sequence[OutboxRow]) -> None:
        """Insert or replace (by id)."""
        ...

    def outbox(self, *, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
        """Newest first."""
        ...

    def lease_due(self, now: float, until: float, limit: int) -> list[OutboxRow]:
        """Waiting rows whose time has come (`due_ts` ≤ `now`), oldest first, as they were —
        leased: in the same transaction their `due_ts` moves to `until`, so another
        process's outbox run passes them by, and if this one stops before it decides them,
        they come due again then."""
        ...

    def last_fired(self, trigger_id: str, customer_id: str) -> float | None:
        """When the trigger last fired for the customer (for its cool-down)."""
        ...

    def claim_firing(self, row: OutboxRow, cooldown: float) -> bool:
        """Insert `row` (status `firing`, replaced once its message is decided) unless its
        trigger fired for its customer less than `cooldown` seconds before its
        `created_ts`: the check and the insert in one write transaction, so of two
        processes firing at once only one wins. True if the row was inserted."""
        ...


class Regulation(NamedTuple):
    """A data-subject request and where it stands."""

    regulation_id: str
    type: str  # suppress | suppress_with_delete | delete_only | unsuppress
    subjects: int
    status: str  # initialized | running | finished | failed
    created_ts: float
    updated_ts: float
    detail: dict[str, Any]  # what was erased per store, or why it failed


class SubjectStore(Protocol):
    def subject_data(self, customer_id: str) -> dict[str, Any]:
        """Everything stored about the customer, from every table, as JSON-able data."""
        ...

    def erase_subject(self, customer_id: str) -> dict[str, int]:
        """Delete everything stored about the customer from every table, in one
        transaction, leaving no trace in the file (SQLite: secure delete, then the WAL is
        checkpointed); rows removed per table. What is still stored under an anonymous
        profile merged into the customer (a write that raced the merge, say) is theirs and
        goes too; a merge undone gave the visitor back its own data, which stays."""
        ...

    def set_suppressed(self, digests: Sequence[str], regulation_id: str, ts: float) -> None:
        """Put customer-id digests on the suppression list. From its commit on, the writes
        of a customer's personal data (profiles, consents, events with their traits,
        feature state and identifiers, decisions, history rows, outcomes) store nothing of
        a listed customer: each write looks the list up inside its own transaction, so a
        write already under way in another process cannot bring an erased subject back."""
        ...

    def unsuppress(self, digests: Sequence[str]) -> int: ...

    def suppressed(self, digests: Iterable[str]) -> set[str]:
        """Those of the digests that are on the suppression list."""
        ...

    def count_dropped(self, digest: str, n: int) -> None:
        """Count `n` events dropped for a suppressed subject."""
        ...

    def dropped(self) -> int:
        """Events dropped for suppressed subjects, in all."""
        ...

    def save_regulation(self, regulation: Regulation) -> None:
        """Insert or update (by id)."""
        ...

    def get_regulation(self, regulation_id: str) -> Regulation | None: ...

    def purge(self, before: Mapping[str, float]) -> dict[str, int]:
        """Delete the records older than each store's cutoff (`events`, `decisions` with
        their actions, `interactions`, `outbox`, `quarantine`, `merges` → epoch seconds), in
        one transaction; rows removed per store. A merge's journal past its time goes (the
        merge can no longer be undone); an undone merge keeps its row without the journal,
        so the pair still does not merge again."""
        ...

    def expire_traits(self, before: Mapping[str, float]) -> int:
        """Remove each named trait (and its source) from every profile where it was
        written before its cutoff (a value with no recorded source counts as written at
        the profile's last update), in one transaction; how many values went."""
        ...

    def inactive_profiles(self, before: float, limit: int) -> list[str]:
        """Customers whose profile was last updated before `before`."""
        ...


class ApiKey(NamedTuple):
    key_id: str
    name: str
    role: str
    created_ts: float
    revoked_ts: float | None = None


class KeyStore(Protocol):
    """API keys by the SHA-256 digest of the secret (the secret itself is never stored)."""

    def add_key(self, key: ApiKey, digest: str) -> None: ...

    def find_key(self, digest: str) -> ApiKey | None: ...

    def revoke_key(self, key_id: str, ts: float) -> bool:
        """False when there is no such key (or it was revoked already)."""
        ...

    def list_keys(self) -> list[ApiKey]: ...


class ConfigVersionStore(Protocol):
    def save_config_version(self, version_id: str, files: Mapping[str, str], ts: float) -> None:
        """Keep a version's files (the first save of a version id is kept)."""
        ...

    def get_config_version(self, version_id: str) -> dict[str, str] | None: ...

    def record_activation(self, version_id: str, files: Mapping[str, str], ts: float) -> int:
        """Save the version (if new) and record that it went live, in one transaction;
        returns the activation's number, higher than every earlier one."""
        ...

    def last_activation(self) -> tuple[int, str] | None:
        """The newest activation's (number, version id); None before the first."""
        ...


class Store(
    ProfileStore,
    ConsentStore,
    HistoryStore,
    ModelStateStore,
    ConfigVersionStore,
    KeyStore,
    EventStore,
    SubjectStore,
    OutboxStore,
    IdentityStore,
    QuarantineStore,
    MergeStore,
    Protocol,
):
    def close(self) -> None: ...

    def snapshot(self) -> AbstractContextManager[None]:
        """Reads inside see one committed state of the store (a decision's inputs are
        read together); nothing may be written inside."""
        ...
