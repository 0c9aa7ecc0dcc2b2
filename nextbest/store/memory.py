"""An in-memory store: dicts and lists. For unit tests, simulations and users' own tests."""

from __future__ import annotations

import copy
import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from nextbest.store.base import (
    ANONYMOUS,
    MOVED,
    ApiKey,
    ConsentRecord,
    ContactRow,
    EventRecord,
    FeatureState,
    FeatureUpdate,
    IdentityMark,
    InteractionRow,
    Merge,
    OutboxRow,
    OutcomeRecord,
    Quarantined,
    Regulation,
    StaleHistory,
    StoredDecision,
    TrainingRow,
    TraitSources,
    apply_traits,
    is_anonymous,
    merged_profile,
    moved_counts,
    restored_visitor,
    subject_digest,
    take_identifiers,
    unmerged_traits,
)


class MemoryStore:
    def __init__(self) -> None:
        self._profiles: dict[str, dict[str, Any]] = {}
        self._ledgers: dict[str, list[ConsentRecord]] = {}  # purposes, append-only
        self._permissions: dict[str, list[ConsentRecord]] = {}  # channels, append-only
        self._decisions: dict[str, StoredDecision] = {}
        self._history: dict[str | None, list[InteractionRow]] = {}
        self._all: list[InteractionRow] = []
        self._keys: set[str] = set()
        self._models: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, dict[str, str]] = {}
        self._activations: list[str] = []  # version ids, oldest first
        self._keys_by_digest: dict[str, ApiKey] = {}
        self._events: dict[str, EventRecord] = {}
        self._learned = 0  # log rows the saved model states have learned
        self._features: dict[str, FeatureState] = {}
        self._suppressed: dict[str, int] = {}  # customer-id digest → events dropped
        self._dropped_gone = 0  # dropped for digests since unsuppressed
        self._regulations: dict[str, Regulation] = {}
        self._outbox: dict[str, OutboxRow] = {}
        self._identities: dict[tuple[str, str], str] = {}
        self._linked: dict[tuple[str, str], int] = {}  # identifier → when first linked
        self._links = 0  # identifiers linked so far
        self._quarantine: list[Quarantined] = []
        self._profile_ts: dict[str, float] = {}
        self._sources: dict[str, TraitSources] = {}
        self._claims: dict[tuple[str, str], dict[str, float]] = {}
        self._merges: list[Merge | None] = []  # merge_id n is self._merges[n - 1]
        self._journals: list[dict[str, Any]] = []

    def close(self) -> None:
        pass

    def snapshot(self) -> AbstractContextManager[None]:
        return nullcontext()  # in memory, a read is never of an older state

    def _suppressed_ids(self, customer_ids: Iterable[str | None]) -> set[str]:
        """Those of the customers on the suppression list: a write stores nothing of
        theirs (as SQLiteStore, which checks inside its write transaction)."""
        if not self._suppressed:
            return set()
        return {c for c in set(customer_ids) if c and subject_digest(c) in self._suppressed}

    def _count_dropped(self, customer_ids: Iterable[str | None]) -> None:
        for c in customer_ids:
            if c:
                self.count_dropped(subject_digest(c), 1)

    # events
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
        new = []
        checked = {e.customer_id for e, _ in events} | {c for _, _, c in identities}
        if seen is not None:  # a visitor merged or claimed since it was resolved
            moved = self._merged_visitors(checked, since=seen.merges)
            moved |= self._claimed_visitors(checked, since=seen.links)
            if moved:
                raise StaleHistory(moved)
        suppressed = self._suppressed_ids(checked)
        for event, traits in events:
            if event.customer_id in suppressed:  # dropped: not new, counted
                self._count_dropped([event.customer_id])
                new.append(False)
                continue
            fresh = event.message_id not in self._events
            new.append(fresh)
            if fresh:
                self._events[event.message_id] = event
                if traits and event.customer_id:
                    self._write_traits(event.customer_id, traits, "events", event.ts, ranks or {})
                    self._profile_ts[event.customer_id] = ts
        if features is not None:
            fresh_events = [e for (e, _), f in zip(events, new, strict=True) if f]
            states = features(fresh_events)
            gone = suppressed | self._suppressed_ids(c for c in states if c not in checked)
            for cid, state in states.items():
                if cid not in gone:
                    self._features[cid] = copy.deepcopy(state)
        if identities:  # last: a merge takes the batch's events and windows with it
            self.link_identifiers(identities, ts, rebuild)
        return new

    def identity_mark(self) -> IdentityMark:
        return IdentityMark(len(self._merges), self._links)

    def _merged_visitors(self, customer_ids: Iterable[str | None], since: int = 0) -> set[str]:
        """Those of the customers merged away by a merge after `since` (an `identity_mark`'s
        merges)."""
        merged = {m.from_id for m in self._merges[since:] if m and m.status == "merged"}
        return {c for c in customer_ids if c in merged}

    def _claimed_visitors(self, customer_ids: Iterable[str | None], since: int) -> set[str]:
        """Those of the customers whose own anonymous id a known customer claimed by a link
        after `since` (an `identity_mark`'s links)."""
        out = set()
        for c in customer_ids:
            if not c or not is_anonymous(c):
                continue
            key = ("anonymous_id", c.removeprefix(ANONYMOUS))
            owner = self._identities.get(key)
            if owner and not is_anonymous(owner) and self._linked.get(key, 0) > since:
                out.add(c)
        return out

    def customer_events(self, customer_id: str, limit: int) -> list[EventRecord]:
        mine = [e for e in self._events.values() if e.customer_id == customer_id]
        return sorted(mine, key=lambda e: e.ts, reverse=True)[:limit]

    def all_events(self) -> Iterator[EventRecord]:
        yield from list(self._events.values())

    def feature_states(self, customer_ids: Iterable[str]) -> dict[str, FeatureState]:
        return {c: copy.deepcopy(self._features[c]) for c in customer_ids if c in self._features}

    def replace_feature_states(self, states: Mapping[str, FeatureState], ts: float) -> None:
        self._features = copy.deepcopy(dict(states))

    # api keys
    def add_key(self, key: ApiKey, digest: str) -> None:
        if digest in self._keys_by_digest or any(
            k.key_id == key.key_id for k in self._keys_by_digest.values()
        ):
            raise ValueError("key already exists")
        self._keys_by_digest[digest] = key

    def find_key(self, digest: str) -> ApiKey | None:
        return self._keys_by_digest.get(digest)

    def revoke_key(self, key_id: str, ts: float) -> bool:
        for digest, key in self._keys_by_digest.items():
            if key.key_id == key_id and key.revoked_ts is None:
                self._keys_by_digest[digest] = key._replace(revoked_ts=ts)
                return True
        return False

    def list_keys(self) -> list[ApiKey]:
        return sorted(self._keys_by_digest.values(), key=lambda k: (k.created_ts, k.key_id))

    # profiles
    def get_profile(self, customer_id: str) -> dict[str, Any] | None:
        found = self._profiles.get(customer_id)
        return dict(found) if found is not None else None  # shallow: callers never mutate

    def upsert_profiles(
        self,
        profiles: Sequence[tuple[str, Mapping[str, Any]]],
        ts: float,
        *,
        source: str | None = None,
        ranks: Mapping[str, int] | None = None,
    ) -> int:
        suppressed = self._suppressed_ids(c for c, _ in profiles)
        written = 0
        for customer_id, traits in profiles:
            if customer_id in suppressed:
                continue
            self._write_traits(customer_id, traits, source, ts, ranks or {})
            self._profile_ts[customer_id] = ts
            written += 1
        return written

    def _write_traits(
        self,
        customer_id: str,
        traits: Mapping[str, Any],
        source: str | None,
        when: float,
        ranks: Mapping[str, int],
    ) -> None:
        mine = self._profiles.setdefault(customer_id, {})
        sources = self._sources.setdefault(customer_id, {})
        if source is not None:
            apply_traits(mine, sources, copy.deepcopy(dict(traits)), source, when, ranks)
            return
        for key, value in traits.items():  # like JSON merge-patch: null removes a trait
            sources.pop(key, None)
            if value is None:
                mine.pop(key, None)
            else:
                mine[key] = copy.deepcopy(value)

    def trait_sources(self, customer_id: str) -> TraitSources:
        return copy.deepcopy(self._sources.get(customer_id, {}))

    def count_profiles(self) -> int:
        return len(self._profiles)

    def customer_ids(self, limit: int, offset: int = 0) -> list[str]:
        return sorted(self._profiles)[offset : offset + limit]

    # consents
    def get_consents(self, customer_id: str) -> dict[str, str]:
        latest: dict[str, ConsentRecord] = {}
        for r in self._ledgers.get(customer_id, []):
            if r.subject not in latest or r.ts >= latest[r.subject].ts:
                latest[r.subject] = r
        return {p: r.status for p, r in latest.items()}

    def set_consents(
        self,
        rows: Sequence[ConsentRecord | tuple[str, str, str, float]],
        permissions: Sequence[ConsentRecord] = (),
    ) -> None:
        suppressed = self._suppressed_ids(r[0] for r in (*rows, *permissions))
        for ledgers, records in ((self._ledgers, rows), (self._permissions, permissions)):
            for row in records:
                record = ConsentRecord(*row)
                if record.customer_id not in suppressed or record.status != "granted":
                    ledgers.setdefault(record.customer_id, []).append(record)

    def consent_ledger(self, customer_id: str) -> list[ConsentRecord]:
        return list(self._ledgers.get(customer_id, []))

    def permission_ledger(self, customer_id: str) -> list[ConsentRecord]:
        return list(self._permissions.get(customer_id, []))

    # history
    def _append(self, row: InteractionRow) -> None:
        self._history.setdefault(row.customer_id, []).append(row)
        self._all.append(row)

    def history_mark(self) -> int:
        return len(self._all)

    def record_decisions(
        self,
        decisions: Sequence[tuple[StoredDecision, Sequence[InteractionRow]]],
        *,
        seen: int | None = None,
    ) -> None:
        if seen is not None:
            deciding = {d.customer_id for d, _ in decisions if d.customer_id}
            moved = {
                r.customer_id
                for r in self._all[seen:]
                if r is not _ERASED and r.customer_id in deciding
            }
            moved |= self._merged_visitors(deciding)
            if moved:
                raise StaleHistory({c for c in moved if c})
        suppressed = self._suppressed_ids(
            c for d, rows in decisions for c in (d.customer_id, *(r.customer_id for r in rows))
        )
        if suppressed:  # a suppressed subject's decisions are dropped, with their rows
            decisions = [
                (d, [r for r in rows if r.customer_id not in suppressed])
                for d, rows in decisions
                if d.customer_id not in suppressed
            ]
        ids: set[str] = set()
        for decision, _ in decisions:  # all checked before any is stored
            if decision.decision_id in self._decisions or decision.decision_id in ids:
                raise ValueError(f"decision {decision.decision_id} already recorded")
            ids.add(decision.decision_id)
        for decision, impressions in decisions:
            self._decisions[decision.decision_id] = decision
            for row in impressions:
                self._append(row)

    def get_decision(self, decision_id: str) -> StoredDecision | None:
        return self._decisions.get(decision_id)  # frozen; shared, as callers only read

    def has_outcome(self, idempotency_key: str) -> bool:
        return idempotency_key in self._keys

    def record_outcome(self, outcome: OutcomeRecord) -> bool:
        if self._suppressed_ids([outcome.customer_id]):
            self._count_dropped([outcome.customer_id])
            return False  # a suppressed subject's outcomes are not recorded
        if outcome.idempotency_key in self._keys:
            return False
        self._keys.add(outcome.idempotency_key)
        self._append(outcome.as_row())
        return True

    def unanswered(
        self, since_ts: float, before_ts: float, outcomes: Sequence[str], limit: int
    ) -> list[tuple[str, str]]:
        wanted = set(outcomes)
        answered = {(r.decision_id, r.action_id) for r in self._all if r.outcome in wanted}
        found = [
            (d.ts, d.decision_id, a["action_id"])
            for d in self._decisions.values()
            if since_ts <= d.ts < before_ts
            for a in d.actions
            if (d.decision_id, a["action_id"]) not in answered
        ]
        return [(decision, action) for _, decision, action in sorted(found)[:limit]]

    def customer_history(self, customer_id: str, since_ts: float) -> list[InteractionRow]:
        rows = [r for r in self._history.get(customer_id, []) if r.ts >= since_ts]
        return sorted(rows, key=lambda r: r.ts)

    def contact_history(self, customer_id: str, since_ts: float) -> list[ContactRow]:
        return [
            ContactRow(r.action_id, r.issue, r.group, r.channel, r.outcome, r.ts)
            for r in self.customer_history(customer_id, since_ts)
        ]

    def history(
        self, *, customer_id: str | None = None, decision_id: str | None = None, limit: int = 50
    ) -> list[InteractionRow]:
        rows = (
            self._history.get(customer_id, [])
            if customer_id is not None
            else [r for r in self._all if r is not _ERASED]
        )
        if decision_id is not None:
            rows = [r for r in rows if r.decision_id == decision_id]
        indexed = sorted(enumerate(rows), key=lambda ir: (ir[1].ts, ir[0]), reverse=True)
        return [r for _, r in indexed[:limit]]

    def decisions(self, *, customer_id: str | None = None, limit: int = 50) -> list[StoredDecision]:
        found = [
            d
            for d in self._decisions.values()
            if customer_id is None or d.customer_id == customer_id
        ]
        return sorted(found, key=lambda d: d.ts, reverse=True)[:limit]

    def counts(self) -> dict[str, Any]:
        return {
            "profiles": len(self._profiles),
            "decisions": len(self._decisions),
            "interactions": sum(r is not _ERASED for r in self._all),
            "outcomes_by_type": dict(Counter(r.outcome for r in self._all if r is not _ERASED)),
        }

    # models and config versions
    def load_model_states(self, *, skip_suffix: str | None = None) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(
            {k: v for k, v in self._models.items() if not (skip_suffix and k.endswith(skip_suffix))}
        )

    def save_model_states(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        for key, state in states.items():
            self._models[key] = dict(state)

    def learned_through(self) -> int:
        return self._learned

    def load_learning(
        self, *, skip_suffix: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], int]:
        return self.load_model_states(skip_suffix=skip_suffix), self._learned

    def training_rows(
        self, after: int, outcomes: Sequence[str], limit: int
    ) -> tuple[list[TrainingRow], int]:
        wanted = set(outcomes)
        rows: list[TrainingRow] = []
        for position in range(after, len(self._all)):  # row n is self._all[n - 1]
            r = self._all[position]
            if r.outcome not in wanted:
                continue
            decision = self._decisions.get(r.decision_id)
            features = dict(decision.document.get("features") or {}) if decision else {}
            rows.append(
                TrainingRow(position + 1, r.action_id, r.channel, r.outcome, r.ts, features)
            )
            if len(rows) == limit:
                return rows, position + 1
        return rows, len(self._all)

    def save_learning(self, states: Mapping[str, Mapping[str, Any]], through: int) -> bool:
        if self._learned > through:
            return False
        self.save_model_states(states)
        self._learned = through
        return True

    def save_config_version(self, version_id: str, files: Mapping[str, str], ts: float) -> None:
        self._configs.setdefault(version_id, dict(files))

    def get_config_version(self, version_id: str) -> dict[str, str] | None:
        found = self._configs.get(version_id)
        return dict(found) if found is not None else None

    def record_activation(self, version_id: str, files: Mapping[str, str], ts: float) -> int:
        self.save_config_version(version_id, files, ts)
        self._activations.append(version_id)
        return len(self._activations)

    def last_activation(self) -> tuple[int, str] | None:
        return (len(self._activations), self._activations[-1]) if self._activations else None

    # quarantine
    def quarantine(self, rows: Sequence[Quarantined]) -> None:
        self._quarantine.extend(copy.deepcopy(list(rows)))

    def quarantined(self, *, source: str | None = None, limit: int = 100) -> list[Quarantined]:
        rows = [r for r in reversed(self._quarantine) if source is None or r.source == source]
        return rows[:limit]

    # identities
    def link_identifiers(
        self,
        links: Sequence[tuple[str, str, str]],
        ts: float,
        rebuild: FeatureUpdate | None = None,
    ) -> list[tuple[str, str, str]]:
        suppressed = self._suppressed_ids(c for _, _, c in links)
        if suppressed:  # no identifier is linked to a suppressed subject
            links = [link for link in links if link[2] not in suppressed]
        taken = take_identifiers(self._identities, links)
        for n, v, _ in links:
            if (n, v) in self._identities and (n, v) not in self._linked:
                self._links += 1
                self._linked[(n, v)] = self._links
        for (src, dst), moved in taken.items():
            if any(m and m.status == "unmerged" and (m.from_id, m.into_id) == (src, dst)
                   for m in self._merges):  # fmt: skip
                for key in moved:  # undone once: the identifiers stay where they were
                    if self._identities[key] == dst:
                        self._identities[key] = src
            else:
                self._merge(src, dst, ts, moved, rebuild)
        # claims on identifiers that, after the batch, another customer owns
        apart = list(
            dict.fromkeys(
                (n, v, c)
                for n, v, c in links
                if self._identities.get((n, v)) != c and not is_anonymous(c)
            )
        )
        for n, v, c in apart:
            self._claims.setdefault((n, v), {})[c] = ts
        return apart

    def owners(self, namespace: str, values: Iterable[str]) -> dict[str, tuple[str, int]]:
        out = {}
        for value in values:
            owner = self._identities.get((namespace, value))
            if owner is not None:
                out[value] = (owner, len(self._claims.get((namespace, value), {})))
        return out

    # merges
    def _profile_row(self, customer_id: str) -> dict[str, Any] | None:
        if customer_id not in self._profiles:
            return None
        return copy.deepcopy(
            {
                "traits": self._profiles[customer_id],
                "sources": self._sources.get(customer_id, {}),
                "updated_ts": self._profile_ts[customer_id],
            }
        )

    def _set_profile_row(self, customer_id: str, row: Mapping[str, Any] | None) -> None:
        if row is None:
            self._profiles.pop(customer_id, None)
            self._sources.pop(customer_id, None)
            self._profile_ts.pop(customer_id, None)
        else:
            self._profiles[customer_id] = copy.deepcopy(dict(row["traits"]))
            self._sources[customer_id] = copy.deepcopy(dict(row["sources"]))
            self._profile_ts[customer_id] = row["updated_ts"]

    def _move(self, src: str, dst: str, keep: Callable[[str, Any], bool]) -> None:
        """Give `dst` the rows of `src` for which keep(kind, key) holds."""
        for k, e in self._events.items():
            if e.customer_id == src and keep("events", k):
                self._events[k] = e._replace(customer_id=dst)
        for k, d in self._decisions.items():
            if d.customer_id == src and keep("decisions", k):
                self._decisions[k] = dataclasses.replace(d, customer_id=dst)
        for k, o in self._outbox.items():
            if o.customer_id == src and keep("outbox", k):
                self._outbox[k] = o._replace(customer_id=dst)
        for key, c in self._identities.items():
            if c == src and keep("identifiers", list(key)):
                self._identities[key] = dst
        for i, r in enumerate(self._all):
            if r is not _ERASED and r.customer_id == src and keep("interactions", i + 1):
                self._all[i] = r._replace(customer_id=dst)
        for c in (src, dst):
            self._history[c] = [r for r in self._all if r is not _ERASED and r.customer_id == c]

    def _rebuild_features(self, customers: Sequence[str], rebuild: FeatureUpdate | None) -> None:
        for c in customers:
            self._features.pop(c, None)
        if rebuild is not None:
            mine = [e for e in self._events.values() if e.customer_id in customers]
            self._features.update(copy.deepcopy(dict(rebuild(mine))))

    def _merge(
        self,
        src: str,
        dst: str,
        ts: float,
        taken: Sequence[tuple[str, str]],
        rebuild: FeatureUpdate | None,
    ) -> None:
        journal: dict[str, Any] = {
            "from_profile": self._profile_row(src),
            "into_profile": self._profile_row(dst),
            "events": [k for k, e in self._events.items() if e.customer_id == src],
            "decisions": [k for k, d in self._decisions.items() if d.customer_id == src],
            "interactions": [
                i + 1 for i, r in enumerate(self._all) if r is not _ERASED and r.customer_id == src
            ],
            "outbox": [k for k, o in self._outbox.items() if o.customer_id == src],
            "identifiers": [list(k) for k in taken]
            + [list(k) for k, c in self._identities.items() if c == src],
        }
        if journal["from_profile"] is None and not any(journal[k] for k in MOVED):
            return  # nothing left of it (merged earlier in the same batch)
        merged = merged_profile(journal["into_profile"], journal["from_profile"], ts)
        journal["merged_traits"] = copy.deepcopy(merged["traits"])
        if journal["from_profile"] or journal["into_profile"]:
            self._set_profile_row(dst, merged)
        self._set_profile_row(src, None)
        self._move(src, dst, lambda kind, key: True)
        self._rebuild_features((src, dst), rebuild)
        self._merges.append(Merge(len(self._merges) + 1, ts, src, dst, "merged", None, {}))
        self._journals.append(journal)

    def merges(self, customer_id: str) -> list[Merge]:
        return [
            self._counted(m) for m in self._merges if m and customer_id in (m.from_id, m.into_id)
        ]

    def _counted(self, merge: Merge) -> Merge:
        journal = self._journals[merge.merge_id - 1]
        return merge._replace(moved=moved_counts(journal))

    def get_merge(self, merge_id: int) -> Merge | None:
        merge = self._merges[merge_id - 1] if 0 < merge_id <= len(self._merges) else None
        return None if merge is None else self._counted(merge)

    def unmerge(self, merge_id: int, ts: float, rebuild: FeatureUpdate | None) -> Merge | None:
        merge = self.get_merge(merge_id)
        if merge is None or merge.status != "merged":
            return merge
        src, dst, journal = merge.from_id, merge.into_id, self._journals[merge_id - 1]
        self._set_profile_row(dst, unmerged_traits(journal, self._profile_row(dst)))
        if journal["from_profile"] is not None:
            self._set_profile_row(src, restored_visitor(self._profile_row(src), journal))
        listed = {kind: {_hashable(k) for k in journal[kind]} for kind in MOVED}
        anonymous_ids = {v for n, v in journal["identifiers"] if n == "anonymous_id"}

        def back_home(kind: str, key: Any) -> bool:
            if _hashable(key) in listed[kind]:
                return True
            event = self._events.get(key) if kind == "events" else None
            return (
                event is not None
                and event.received_ts >= merge.ts
                and event.payload.get("userId") is None
                and event.anonymous_id in anonymous_ids
            )

        self._move(dst, src, back_home)
        self._rebuild_features((src, dst), rebuild)
        self._merges[merge_id - 1] = merge._replace(status="unmerged", unmerged_ts=ts)
        return self.get_merge(merge_id)

    def owner(self, namespace: str, value: str) -> str | None:
        return self._identities.get((namespace, value))

    def identifiers_of(self, customer_id: str) -> list[tuple[str, str]]:
        return sorted(k for k, c in self._identities.items() if c == customer_id)

    def claimants(self, namespace: str, value: str) -> list[str]:
        return sorted(self._claims.get((namespace, value), {}))

    # outbox
    def put_outbox(self, rows: Sequence[OutboxRow]) -> None:
        for r in rows:
            self._outbox[r.outbox_id] = r

    def outbox(self, *, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
        rows = [r for r in self._outbox.values() if status is None or r.status == status]
        return sorted(rows, key=lambda r: r.created_ts, reverse=True)[:limit]

    def lease_due(self, now: float, until: float, limit: int) -> list[OutboxRow]:
        rows = [r for r in self._outbox.values() if r.status == "waiting" and r.due_ts <= now]
        due = sorted(rows, key=lambda r: r.due_ts)[:limit]
        for row in due:
            self._outbox[row.outbox_id] = row._replace(due_ts=until)
        return due

    def last_fired(self, trigger_id: str, customer_id: str) -> float | None:
        fired = [
            r.created_ts
            for r in self._outbox.values()
            if r.trigger_id == trigger_id and r.customer_id == customer_id
        ]
        return max(fired, default=None)

    def claim_firing(self, row: OutboxRow, cooldown: float) -> bool:
        last = self.last_fired(row.trigger_id, row.customer_id)
        if last is not None and row.created_ts - last < cooldown:
            return False
        self._outbox[row.outbox_id] = row
        return True

    # data-subject rights
    def subject_data(self, customer_id: str) -> dict[str, Any]:
        return {
            "profile": copy.deepcopy(self._profiles.get(customer_id)),
            "trait_sources": self.trait_sources(customer_id),
            "consents": [r._asdict() for r in self._ledgers.get(customer_id, [])],
            "permissions": [r._asdict() for r in self._permissions.get(customer_id, [])],
            "events": [e._asdict() for e in self._events.values() if e.customer_id == customer_id],
            "decisions": [
                dataclasses.asdict(d)
                for d in self._decisions.values()
                if d.customer_id == customer_id
            ],
            "history": [r._asdict() for r in self._history.get(customer_id, [])],
            "features": copy.deepcopy(self._features.get(customer_id, {})),
            "outbox": [r._asdict() for r in self._outbox.values() if r.customer_id == customer_id],
            "identifiers": [list(k) for k in self.identifiers_of(customer_id)],
            "merges": [m._asdict() for m in self.merges(customer_id)],
        }

    def erase_subject(self, customer_id: str) -> dict[str, int]:
        merged_away = {
            m.from_id
            for m in self._merges
            if m and m.into_id == customer_id and m.status == "merged"
        }
        counts = self._erase_rows(customer_id)
        mine = [m for m in self._merges if m and customer_id in (m.from_id, m.into_id)]
        counts["merges"] = len(mine)
        for m in mine:  # the journal holds the profiles' traits: it goes too
            self._merges[m.merge_id - 1] = None
            self._journals[m.merge_id - 1] = {}
        for visitor in merged_away:
            for table, n in self._erase_rows(visitor).items():
                counts[table] += n
        return counts

    def _erase_rows(self, customer_id: str) -> dict[str, int]:
        """One subject's rows in every table but the merge journal; rows removed per table."""
        decisions = [k for k, d in self._decisions.items() if d.customer_id == customer_id]
        events = [k for k, e in self._events.items() if e.customer_id == customer_id]
        history = self._history.pop(customer_id, [])
        self._profile_ts.pop(customer_id, None)
        self._sources.pop(customer_id, None)
        counts = {
            "profiles": int(self._profiles.pop(customer_id, None) is not None),
            "consents": len(self._ledgers.pop(customer_id, [])),
            "permissions": len(self._permissions.pop(customer_id, [])),
            "events": len(events),
            "decisions": len(decisions),
            "interactions": len(history),
            "feature_state": int(self._features.pop(customer_id, None) is not None),
            "outbox": sum(r.customer_id == customer_id for r in self._outbox.values()),
        }
        self._outbox = {k: r for k, r in self._outbox.items() if r.customer_id != customer_id}
        kept = {k: c for k, c in self._identities.items() if c != customer_id}
        counts["identities"] = len(self._identities) - len(kept)
        self._identities = kept
        self._linked = {k: n for k, n in self._linked.items() if k in kept}
        for claims in self._claims.values():
            claims.pop(customer_id, None)
        for k in decisions:
            del self._decisions[k]
        for k in events:
            del self._events[k]
        gone = {id(r) for r in history}
        # the log keeps its positions (the learning mark counts them): rows become holes
        self._all = [r if id(r) not in gone else _ERASED for r in self._all]
        return counts

    def set_suppressed(self, digests: Sequence[str], regulation_id: str, ts: float) -> None:
        for d in digests:
            self._suppressed.setdefault(d, 0)

    def unsuppress(self, digests: Sequence[str]) -> int:
        lifted = 0
        for d in digests:
            if d in self._suppressed:
                self._dropped_gone += self._suppressed.pop(d)
                lifted += 1
        return lifted

    def suppressed(self, digests: Iterable[str]) -> set[str]:
        return {d for d in digests if d in self._suppressed}

    def count_dropped(self, digest: str, n: int) -> None:
        if digest in self._suppressed:
            self._suppressed[digest] += n

    def dropped(self) -> int:
        return sum(self._suppressed.values()) + self._dropped_gone

    def expire_traits(self, before: Mapping[str, float]) -> int:
        gone = 0
        for customer_id, traits in self._profiles.items():
            sources = self._sources.get(customer_id, {})
            for name, cut in before.items():
                if name not in traits:
                    continue
                held = sources.get(name)
                if (held[1] if held else self._profile_ts[customer_id]) < cut:
                    del traits[name]
                    sources.pop(name, None)
                    gone += 1
        return gone

    def purge(self, before: Mapping[str, float]) -> dict[str, int]:
        counts: dict[str, int] = {}
        if "events" in before:
            old = [k for k, e in self._events.items() if e.ts < before["events"]]
            for k in old:
                del self._events[k]
            counts["events"] = len(old)
        if "decisions" in before:
            old = [k for k, d in self._decisions.items() if d.ts < before["decisions"]]
            for k in old:
                del self._decisions[k]
            counts["decisions"] = len(old)
        if "interactions" in before:
            cut = before["interactions"]
            counts["interactions"] = sum(r is not _ERASED and r.ts < cut for r in self._all)
            self._all = [r if r is _ERASED or r.ts >= cut else _ERASED for r in self._all]
            self._history = {
                c: [r for r in rows if r.ts >= cut] for c, rows in self._history.items()
            }
        if "outbox" in before:
            kept = {k: r for k, r in self._outbox.items() if r.created_ts >= before["outbox"]}
            counts["outbox"] = len(self._outbox) - len(kept)
            self._outbox = kept
        if "quarantine" in before:
            kept_q = [r for r in self._quarantine if r.ts >= before["quarantine"]]
            counts["quarantine"] = len(self._quarantine) - len(kept_q)
            self._quarantine = kept_q
        if "merges" in before:
            counts["merges"] = 0
            for i, m in enumerate(self._merges):
                if m is not None and m.ts < before["merges"]:
                    self._journals[i] = {}
                    if m.status == "merged":
                        self._merges[i] = None
                        counts["merges"] += 1
        return counts

    def inactive_profiles(self, before: float, limit: int) -> list[str]:
        return sorted(c for c in self._profiles if self._profile_ts.get(c, 0.0) < before)[:limit]

    def save_regulation(self, regulation: Regulation) -> None:
        self._regulations[regulation.regulation_id] = regulation

    def get_regulation(self, regulation_id: str) -> Regulation | None:
        return self._regulations.get(regulation_id)


#: what an erased subject's rows become in the in-memory log (no one's, trains nothing)
def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


_ERASED = InteractionRow(None, "", "", "", "", "", "erased", 0.0)
