"""The engine's identity work: linking identifiers, looking profiles up, merges and
unmerges, and recognizing a visitor in a decision request. A mixin of `Engine`, kept apart
so the engine module stays about decisions and outcomes; see docs/identity.md."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from nextbest.clock import Clock
from nextbest.config.compiled import CompiledConfig
from nextbest.errors import ConflictError, NotFoundError, RequestError
from nextbest.profile.features import rebuild as rebuild_features
from nextbest.profile.identity import normalize as normalize_identifier
from nextbest.store.base import (
    ANONYMOUS,
    EventRecord,
    FeatureState,
    FeatureUpdate,
    Merge,
    Store,
    is_anonymous,
)
from nextbest.types import DecisionRequest


class IdentityMixin:
    # provided by Engine
    store: Store
    config: CompiledConfig
    clock: Clock
    _lock: threading.RLock

    def link_identity(
        self, customer_id: str, identifiers: Iterable[tuple[str, object]]
    ) -> list[tuple[str, str]]:
        """Point the (namespace, value) identifiers at the customer's profile; see
        `link_identities`."""
        return self.link_identities([(ns, v, customer_id) for ns, v in identifiers])

    def link_identities(self, links: Iterable[tuple[str, object, str]]) -> list[tuple[str, str]]:
        """Point each (namespace, value) identifier, normalized, at its customer's profile,
        in one transaction (see `Store.link_identifiers`); RequestError naming the
        namespace for a value that is not one. Returns the identifiers shared by more known
        people than `identity.max_people_per_identifier` allows — kept on their first
        owner, flagged."""
        normalized = self._normalized_links(links)
        if not normalized:
            return []
        with self._lock:
            apart = self.store.link_identifiers(
                normalized, self.clock.now().timestamp(), self._rebuild(self.config)
            )
            return [(ns, v) for ns, v, _ in apart if self._shared(len(self.store.claimants(ns, v)))]

    def _normalized_links(
        self, links: Iterable[tuple[str, object, str]]
    ) -> list[tuple[str, str, str]]:
        region = self.config.identity.default_region
        normalized = dict.fromkeys(
            (ns, normalize_identifier(ns, v, region), c) for ns, v, c in links
        )
        # a user id is the customer id: that link holds without being stored
        return [(ns, v, c) for ns, v, c in normalized if not (ns == "user_id" and v == c)]

    def lookup(self, namespace: str, value: object) -> str:
        """The customer an identifier belongs to; NotFoundError naming the namespace."""
        normalized = normalize_identifier(namespace, value, self.config.identity.default_region)
        owner = self.store.owner(namespace, normalized)
        if owner is None and namespace == "user_id":
            owner = normalized  # a user id is the customer id
        if owner is None:
            raise NotFoundError(namespace, f"no profile has this {namespace}")
        return owner

    def resolve_anonymous(self, anonymous_ids: Iterable[str]) -> dict[str, str]:
        """The profile each anonymous id's events belong to: its owner's (a known customer
        once the visitor was identified) — unless more known people claim it than
        `identity.max_people_per_identifier` allows (a shared device), whose events stay
        with no known person. Ids without an owner are left out."""
        owners = self.store.owners("anonymous_id", anonymous_ids)
        return {
            aid: owner
            for aid, (owner, others) in owners.items()
            if is_anonymous(owner) or not self._shared(others)
        }

    def shared_identifiers(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's identifiers that other known people claim too, beyond
        `identity.max_people_per_identifier`: flagged (a shared device or mailbox), kept
        on this profile, never merged."""
        out = []
        for namespace, value in self.store.identifiers_of(customer_id):
            others = self.store.claimants(namespace, value)
            if self._shared(len(others)):
                out.append({"namespace": namespace, "value": value, "claimants": others})
        return out

    def merges(self, customer_id: str) -> list[Merge]:
        """The journaled merges into or from a profile, oldest first."""
        return self.store.merges(customer_id)

    def unmerge(self, merge_id: int) -> Merge:
        """Undo a merge (see `MergeStore.unmerge`): both profiles as they were, their
        events, history and identifiers back, their feature windows rebuilt. NotFoundError
        for no such merge; ConflictError for one already undone."""
        with self._lock:
            before = self.store.get_merge(merge_id)
            if before is None:
                raise NotFoundError("merge_id", f"no merge {merge_id}")
            if before.status != "merged":
                raise ConflictError("merge_id", f"merge {merge_id} is already undone")
            done = self.store.unmerge(
                merge_id, self.clock.now().timestamp(), self._rebuild(self.config)
            )
            assert done is not None
            return done

    def identifiers_of(self, customer_id: str) -> list[tuple[str, str]]:
        """The identifiers that point at the customer's profile (a known customer's own
        id among them)."""
        stored = self.store.identifiers_of(customer_id)
        if is_anonymous(customer_id) or ("user_id", customer_id) in stored:
            return stored
        return sorted([*stored, ("user_id", customer_id)])

    def recognize(self, request: DecisionRequest) -> DecisionRequest:
        """A request with no `customer_id` but anonymous identifiers, for the profile they
        point at: the first of `anonymous_id`, `device_id`, then the others by name, that
        has an owner — not one shared by more known people than
        `identity.max_people_per_identifier` allows. Else, with an `anonymous_id`, the
        visitor's own anonymous profile (its decisions then follow it into a merge); else
        unchanged. RequestError naming `anonymous_ids.<namespace>` for a bad value."""
        if request.customer_id or not request.anonymous_ids:
            return request
        region = self.config.identity.default_region
        given: dict[str, str] = {}
        for namespace, raw in request.anonymous_ids.items():
            if namespace == "user_id":
                raise RequestError("anonymous_ids.user_id", "a user id is the customer_id")
            try:
                given[namespace] = normalize_identifier(namespace, raw, region)
            except RequestError as exc:
                raise RequestError(f"anonymous_ids.{namespace}", exc.message) from None
        first = ("anonymous_id", "device_id")
        for namespace in sorted(given, key=lambda n: (first.index(n) if n in first else 2, n)):
            found = self.store.owners(namespace, [given[namespace]]).get(given[namespace])
            if found is None:
                continue
            owner, others = found  # owner and claimants in one read
            if not is_anonymous(owner) and self._shared(others):
                continue  # shared: it tells who is there no better than nothing
            return dataclasses.replace(request, customer_id=owner, recognized_by=namespace)
        if "anonymous_id" in given:
            visitor = f"{ANONYMOUS}{given['anonymous_id']}"
            return dataclasses.replace(request, customer_id=visitor, recognized_by="anonymous_id")
        return request

    def _shared(self, others: int) -> bool:
        """Whether an identifier that `others` more known people claimed is shared: more
        people than `identity.max_people_per_identifier` allows."""
        return others + 1 > self.config.identity.max_people_per_identifier

    @staticmethod
    def _rebuild(config: CompiledConfig) -> FeatureUpdate | None:
        """What recomputes profiles' feature states from their events (a merge's, an
        unmerge's); None without features."""
        if not config.features:
            return None

        def rebuild(events: Sequence[EventRecord]) -> dict[str, FeatureState]:
            return rebuild_features(config.features, events)

        return rebuild
