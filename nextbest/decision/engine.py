"""The engine: loads a decision's inputs from the store, runs the pipeline, records it,
and learns from outcomes. The one object the shells (CLI, API, simulator) talk to.

A lock serialises an engine's work, so decisions and outcomes from several threads stay
consistent with its in-memory models.

Outcomes are learned from the store's interaction log, in log order, up to a mark saved
with the model states in one transaction (`catch_up`). So learning survives a crash
between an outcome and its learning (the next start catches up), and several processes
on one store stay consistent: one of them learns (`learns=True`), the others only
reload the saved models when the mark moves (`refresh_models`). Should two learners meet
(a CLI command beside the server), each still learns the whole log in order — the
models are deterministic, so both hold the same states at the same mark — and the store
keeps the saves of whichever is ahead.
"""

from __future__ import annotations

import dataclasses
import gc
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nextbest import triggers
from nextbest.clock import Clock, SystemClock
from nextbest.config.compiled import CompiledConfig
from nextbest.config.loader import compile_config, load_config
from nextbest.decision import pipeline, redraw
from nextbest.decision.identity import IdentityMixin
from nextbest.decision.pipeline import DecisionInputs, decide
from nextbest.errors import ConfigError, NotFoundError, Problem, RequestError
from nextbest.learning import RESERVOIR_SUFFIX, AdmModels, PropensityModels, models_for, scoring
from nextbest.learning.report import ModelReport
from nextbest.policies.consent import (
    DIRECT_MARKETING,
    STATUSES,
    Standing,
    permission_standing,
    purpose_standing,
    withhold_traits,
)
from nextbest.privacy import digest, run_regulation
from nextbest.profile.features import rebuild as rebuild_features
from nextbest.profile.features import update as update_features
from nextbest.profile.features import values as feature_values
from nextbest.profile.traits import coerce_traits, validate_traits
from nextbest.store.base import (
    ANONYMOUS,
    ConsentRecord,
    ContactRow,
    EventRecord,
    FeatureState,
    FeatureUpdate,
    IdentityMark,
    InteractionRow,
    OutcomeRecord,
    Quarantined,
    Regulation,
    StaleHistory,
    Store,
    StoredDecision,
    is_anonymous,
)
from nextbest.types import (
    NEGATIVE_OUTCOMES,
    POSITIVE_OUTCOMES,
    Decision,
    DecisionRequest,
    Direction,
    Outcome,
    check_outcome,
    record_dict,
)

DEMO_CONFIG = Path(__file__).resolve().parent.parent / "demo" / "bank"
#: outcomes that teach a model something (the others are only history)
TRAINING_OUTCOMES = POSITIVE_OUTCOMES | NEGATIVE_OUTCOMES
#: log rows learned per transaction while catching up
CATCH_UP_PAGE = 1000
#: how many times a batch's decisions are made again when another process recorded
#: interactions for their customers meanwhile (`decide_many`)
STALE_RETRIES = 3


def default_config_dir() -> Path:
    return DEMO_CONFIG


class Recorded(NamedTuple):
    """What `Engine.record_events` stored: whether each record was new (by messageId), and
    how many records' traits it withheld because they went to a customer other than the
    one they were resolved to, whose consent withholds them."""

    new: list[bool]
    traits_withheld: int


class Engine(IdentityMixin):
    def __init__(
        self,
        store: Store,
        config: CompiledConfig,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        models: PropensityModels | None = None,
        learns: bool = True,
    ) -> None:
        self.store = store
        self.clock = clock or SystemClock()
        self.learns = learns
        self._rng = np.random.default_rng(seed)
        self._lock = threading.RLock()
        # built from the config: rebuilt on a reload that changes the learning settings
        self._own_models = models is None
        self.models: PropensityModels = models or models_for(config)
        self._mark = self._load_saved(self.models)
        self.config = config
        self._activate(config)
        # kept for replay (a reload saves it with its activation; a followed one is stored)
        store.save_config_version(config.version, config.files, self.clock.now().timestamp())
        # a reload before this engine started is not news: it runs the config it was given
        activation = store.last_activation()
        self._activation = activation[0] if activation else 0
        # compiled kernels (numba) loaded before the first decision, not in it
        redraw.warm_up()
        scoring.warm_up()
        pipeline.warm_up()
        if learns:
            self.catch_up()  # what was recorded but not learned before a crash

    @classmethod
    def open(
        cls,
        db: str,
        config_dir: str | Path | None = None,
        *,
        clock: Clock | None = None,
        seed: int | None = None,
        learns: bool = True,
        shared: bool = False,
    ) -> Engine:
        """`shared`: other processes write the store too (see `open_store`)."""
        from nextbest.store import open_store

        config = load_config(config_dir or DEMO_CONFIG)
        return cls(open_store(db, shared=shared), config, clock=clock, seed=seed, learns=learns)

    def close(self) -> None:
        self.store.close()

    def _activate(self, config: CompiledConfig) -> None:
        """Make `config` live (under the lock). New learning settings get a new bank,
        loaded from the store's saved states; otherwise the bank is only bound."""
        # a compiled config is thousands of long-lived objects; moving them out of the
        # cyclic collector's reach keeps its pauses out of the decision latency tail
        gc.collect()
        gc.freeze()
        if self._own_models and self._bank_settings(config) != self._bank_settings(self.config):
            if self.learns:
                # the store has each reservoir as of its model's last analysis; the rows
                # learned since are only in this bank: saved, the new bank loads them too
                states = self.models.to_state()
                reservoirs = {k: v for k, v in states.items() if k.endswith(RESERVOIR_SUFFIX)}
                self.store.save_learning(reservoirs, self._mark)
            models = models_for(config)
            mark = self._load_saved(models)
            models.bind(config)
            self.models, self._mark = models, mark
        else:
            self.models.bind(config)
        self.config = config

    def reload(self, config_dir: str | Path) -> CompiledConfig:
        """Load a new configuration and make it live here and, through the store's
        activation record, in every engine that follows it (`follow_config`: the other
        workers of a server). On any problem raise ConfigError and keep the old one."""
        config = load_config(config_dir)
        with self._lock:
            self._activation = self.store.record_activation(
                config.version, config.files, self.clock.now().timestamp()
            )
            self._activate(config)
        return config

    def follow_config(self) -> bool:
        """Take the configuration another engine on this store made live (`reload`) since
        this one last looked — what the workers of a server run now and then. True if this
        engine's configuration changed. The version is compiled from the files the store
        keeps, outside the lock; a version that does not compile here (another release of
        nextbest) raises ConfigError once and is passed over: the running one stays."""
        activation = self.store.last_activation()
        if activation is None or activation[0] <= self._activation:
            return False
        number, version = activation
        if version == self.config.version:
            self._activation = number
            return False
        files = self.store.get_config_version(version)
        if files is None:  # recorded with its files in one transaction: cannot happen
            raise ConfigError([Problem(version, None, "activated version not stored")])
        try:
            config = compile_config(files)
        except ConfigError:
            self._activation = number  # it would fail again every round
            raise
        with self._lock:
            if number <= self._activation:  # this engine reloaded meanwhile
                return False
            self._activation = number
            self._activate(config)
        return True

    # --- profiles and consents -------------------------------------------------------

    def upsert_profile(self, customer_id: str, traits: dict[str, Any], source: str = "api") -> None:
        """Validate and write traits from `source` (under trait precedence: see
        `store.base.apply_traits`, ranked by schema.yaml `sources:`)."""
        if self.is_suppressed(customer_id):
            raise RequestError("customer_id", "the subject is suppressed (a data-subject request)")
        config = self.config
        self.check_source(source)
        clean = validate_traits(config.traits, traits, source=source, writers=config.trait_writers)
        with self._lock:
            self.store.upsert_profiles(
                [(customer_id, clean)],
                self.clock.now().timestamp(),
                source=source,
                ranks=config.trait_ranks,
            )

    def quarantine(
        self, source: str, position: str | None, field: str, reason: str, record: Any
    ) -> None:
        """Keep a record that could not be accepted, with where it came from and why."""
        self.store.quarantine(
            [Quarantined(self.clock.now().timestamp(), source, position, field, reason, record)]
        )

    def check_source(self, source: str) -> None:
        """RequestError naming `source` unless it is a declared or built-in trait source."""
        known = self.config.schema.known_sources
        if source not in known:
            raise RequestError(
                "source",
                f"unknown trait source `{source}` (one of: {', '.join(known)})",
            )

    def set_consent(self, customer_id: str, purpose: str, status: str) -> None:
        self.add_consents([self.consent_record(customer_id, status, purpose=purpose)])

    def consent_record(
        self,
        customer_id: str,
        status: str,
        *,
        purpose: str | None = None,
        channel: str | None = None,
        at: datetime | None = None,
        expires: datetime | None = None,
        source: str | None = None,
        policy_version: int | None = None,
    ) -> ConsentRecord:
        """A checked record for the customer's purpose ledger (`purpose`) or contact
        permissions (`channel`); RequestError naming the field otherwise. Nothing is
        written: `add_consents` does."""
        if (purpose is None) == (channel is None):
            raise RequestError("purpose", "give either a purpose or a channel")
        if (
            purpose is not None
            and purpose not in self.config.purposes
            and purpose != DIRECT_MARKETING
        ):
            known = ", ".join([*self.config.purposes, DIRECT_MARKETING])
            raise RequestError("purpose", f"unknown purpose `{purpose}` (one of: {known})")
        if channel is not None and channel not in self.config.channels:
            raise RequestError("channel", f"unknown channel `{channel}`")
        if status not in STATUSES:
            raise RequestError("status", "must be granted, denied or revoked")
        if channel is not None and policy_version is not None:
            raise RequestError("policy_version", "contact permissions have no policy version")
        ts = (at or self.clock.now()).timestamp()
        if expires is not None and expires.timestamp() <= ts:
            raise RequestError("expires_at", "must be after the status time")
        return ConsentRecord(
            customer_id,
            purpose or channel or "",
            status,
            ts,
            None if expires is None else expires.timestamp(),
            source,
            policy_version,
        )

    def add_consents(
        self, purposes: Sequence[ConsentRecord], permissions: Sequence[ConsentRecord] = ()
    ) -> None:
        """Append checked records to the ledgers, in one transaction; they count from the
        next decision on."""
        if purposes or permissions:
            with self._lock:
                self.store.set_consents(purposes, permissions)

    # --- event triggers and the outbox ----------------------------------------------

    def run_outbox(self, limit: int = 1000) -> int:
        """Decide the outbox messages that waited for quiet hours to end."""
        with self._lock:
            return triggers.run_due(self, limit)

    # --- data-subject rights ---------------------------------------------------------

    def is_suppressed(self, customer_id: str) -> bool:
        return bool(self.store.suppressed([digest(customer_id)]))

    def suppressed_among(self, customer_ids: Iterable[str]) -> set[str]:
        """Those of the customers who are suppressed (a data-subject request)."""
        ids = {digest(c): c for c in customer_ids}
        return {ids[d] for d in self.store.suppressed(ids)}

    def count_dropped(self, customer_id: str, n: int) -> None:
        """Count events dropped for a suppressed subject."""
        with self._lock:
            self.store.count_dropped(digest(customer_id), n)

    def export_subject(self, customer_id: str) -> dict[str, Any]:
        """Everything every store holds about the customer (GDPR Art. 15 and 20), and in
        `merged_visitors` what is still stored under each anonymous profile merged into
        theirs (a merge moves no consent records): theirs too, erased with them."""
        with self._lock:
            data = self.store.subject_data(customer_id)
            visitors = {
                m.from_id: self.store.subject_data(m.from_id)
                for m in self.store.merges(customer_id)
                if m.into_id == customer_id and m.status == "merged"
            }
        return {
            "customer_id": customer_id,
            "suppressed": self.is_suppressed(customer_id),
            **data,
            "merged_visitors": visitors,
        }

    def regulate(self, kind: str, customer_ids: list[str]) -> Regulation:
        """Run a data-subject regulation (see nextbest.privacy) and return its record."""
        with self._lock:
            return run_regulation(self.store, kind, customer_ids, self.clock.now().timestamp())

    def purge(self, *, limit: int = 10_000) -> dict[str, int]:
        """Apply `retention` (nextbest.yaml): delete what each store keeps past its time,
        remove trait values older than their field's `retention` (schema.yaml), and erase
        up to `limit` customers whose profile has been inactive too long."""
        retention = self.config.retention
        now = self.clock.now().timestamp()
        before = {
            store: now - ttl.total_seconds()
            for store in ("events", "decisions", "interactions", "outbox", "quarantine", "merges")
            if (ttl := getattr(retention, store)) is not None
        }
        traits = {
            name: now - spec.retention.total_seconds()
            for name, spec in self.config.schema.profile.items()
            if spec.retention is not None
        }
        with self._lock:
            counts = self.store.purge(before) if before else {}
            if traits:
                counts["traits"] = self.store.expire_traits(traits)
            if retention.profiles_inactive is not None:
                cutoff = now - retention.profiles_inactive.total_seconds()
                gone = self.store.inactive_profiles(cutoff, limit)
                for customer_id in gone:
                    self.store.erase_subject(customer_id)
                counts["profiles_inactive"] = len(gone)
        return counts

    def get_regulation(self, regulation_id: str) -> Regulation:
        found = self.store.get_regulation(regulation_id)
        if found is None:
            raise NotFoundError("regulation_id", f"no regulation `{regulation_id}`")
        return found

    def consent_standing(
        self, customer_id: str, at: datetime | None = None
    ) -> tuple[dict[str, Standing], dict[str, Standing]]:
        """Every purpose's and every channel's standing for the customer, now or `at`."""
        ts = (at or self.clock.now()).timestamp()
        config = self.config
        purposes = purpose_standing(config.purposes, self.store.consent_ledger(customer_id), ts)
        needs = [c for c, spec in config.channels.items() if spec.permission]
        channels = permission_standing(needs, self.store.permission_ledger(customer_id), ts)
        return purposes, channels

    def record_events(
        self,
        records: Sequence[tuple[EventRecord, Mapping[str, Any] | None]],
        identities: Iterable[tuple[str, object, str]] = (),
        *,
        seen: IdentityMark | None = None,
        consents: Sequence[ConsentRecord] = (),
    ) -> Recorded:
        """Link the (namespace, value, customer) identifiers, store ingested events (new
        ones only, by messageId), merge their traits and update the customers' real-time
        features, in one transaction; then run the event triggers the new events meet
        (nextbest.triggers). See nextbest.events.segment.

        `seen`: the store's `identity_mark` from before the records' anonymous ids were
        resolved. A visitor another process merged into a known customer since (or, new to
        the store, identified since) gets its records, links and (given as `consents`,
        already added) consent records moved to that customer, as if resolved after the
        merge (up to `STALE_RETRIES` times), their traits checked again against that
        customer's consent."""
        with self._lock:
            config = self.config
            links = self._normalized_links(identities)
            withheld = 0
            for attempt in range(STALE_RETRIES + 1):
                states: dict[str, FeatureState] = {}  # the batch's customers', as derived
                derive = self._feature_update(config, states) if config.features else None
                try:
                    new = self.store.record_events(
                        records,
                        self.clock.now().timestamp(),
                        derive,
                        identities=links,
                        ranks=config.trait_ranks,
                        rebuild=self._rebuild(config),
                        seen=seen if attempt < STALE_RETRIES else None,
                    )
                except StaleHistory as stale:
                    seen = self.store.identity_mark()
                    into = self._merged_into(stale.customers)
                    records = [
                        (r._replace(customer_id=into.get(r.customer_id or "", r.customer_id)), t)
                        for r, t in records
                    ]
                    links = [(ns, v, into.get(c, c)) for ns, v, c in links]
                    consents = [
                        c._replace(customer_id=into[c.customer_id])
                        for c in consents
                        if c.customer_id in into
                    ]
                    self.add_consents(consents)  # before the events, as the first time
                    # the traits now go to the customer: theirs is the consent that counts
                    withheld += withhold_traits(config.purposes, self.store.consent_ledger, records)
                    continue
                break
            if config.triggers:
                fresh = [r for (r, _), is_new in zip(records, new, strict=True) if is_new]
                triggers.fire(self, fresh, states if config.features else None)
            return Recorded(new, withheld)

    def _merged_into(self, visitors: set[str]) -> dict[str, str]:
        """The known customer each anonymous profile's records go to now: the one it is
        merged into, or the one its anonymous id belongs to (a visitor new to the store,
        identified while its first events were being written)."""
        into = {}
        for visitor in visitors:
            for merge in self.store.merges(visitor):
                if merge.from_id == visitor and merge.status == "merged":
                    into[visitor] = merge.into_id
        rest = {v.removeprefix(ANONYMOUS): v for v in visitors if v not in into}
        for aid, owner in self.resolve_anonymous(rest).items():
            if not is_anonymous(owner):
                into[rest[aid]] = owner
        return into

    def _feature_update(
        self, config: CompiledConfig, states: dict[str, FeatureState]
    ) -> FeatureUpdate:
        def derive(events: Sequence[EventRecord]) -> dict[str, FeatureState]:
            mine = [e for e in events if e.customer_id]
            states.update(self.store.feature_states({e.customer_id for e in mine if e.customer_id}))
            changed: dict[str, FeatureState] = {}
            for event in mine:
                cid = event.customer_id or ""
                state = states.setdefault(cid, {})
                if update_features(state, config.features, event):
                    changed[cid] = state
            return changed

        return derive

    def features_of(self, customer_id: str, at: datetime | None = None) -> dict[str, Any]:
        """The customer's real-time features now (or at `at`)."""
        config = self.config
        if not config.features:
            return {}
        state = self.store.feature_states([customer_id]).get(customer_id, {})
        return feature_values(state, config.features, (at or self.clock.now()).timestamp())

    def rebuild_features(self) -> dict[str, int]:
        """Recompute every customer's feature state from the stored events and replace the
        saved states; returns how many customers have one and how many of them differed
        (by value, now) from the incrementally kept state — 0 unless something is wrong."""
        config = self.config
        with self._lock:
            rebuilt = rebuild_features(config.features, self.store.all_events())
            now = self.clock.now().timestamp()
            kept = self.store.feature_states(rebuilt)
            differ = sum(
                feature_values(kept.get(cid, {}), config.features, now)
                != feature_values(state, config.features, now)
                for cid, state in rebuilt.items()
            )
            self.store.replace_feature_states(rebuilt, now)
        return {"customers": len(rebuilt), "differed": differ}

    # --- decisions -------------------------------------------------------------------

    def decide(self, request: DecisionRequest) -> Decision:
        (result,) = self.decide_many([request])
        if isinstance(result, Exception):
            raise result
        return result

    def decide_many(self, requests: Sequence[DecisionRequest]) -> list[Decision | Exception]:
        """Decide each request in turn and record the decisions together: one transaction,
        unless a customer comes again — their earlier decision is committed before the
        next is made, so its impressions count against the contact limits as they would
        one request at a time. In each request's place its decision, or the exception that
        deciding or writing it raised (nothing of a failed write is stored); the others are
        unaffected. A decision is returned only once it is committed.

        Another process (a server's other worker) may record a decision or an outcome for
        one of the customers between the history a decision read and its write, or merge a
        visitor into a known customer: then the write stores nothing, and those requests
        are recognized and decided again (up to `STALE_RETRIES` times; the last write takes
        them as they are)."""
        results: list[Decision | Exception] = []
        batch: list[tuple[StoredDecision, list[InteractionRow]]] = []
        # each decision in `batch`: its place in `results` and the request as it came
        waiting: list[tuple[int, DecisionRequest]] = []
        customers: set[str] = set()
        mark = 0  # the history as it stood before the batch's first decision read it

        def write() -> None:
            for attempt in range(STALE_RETRIES + 1):
                try:
                    self.store.record_decisions(
                        batch, seen=mark if attempt < STALE_RETRIES else None
                    )
                except StaleHistory as stale:
                    again(stale.customers)
                    continue
                except Exception as exc:  # each waiting request answers with it
                    for i, _ in waiting:
                        results[i] = exc
                break
            batch.clear()
            waiting.clear()
            customers.clear()

        def again(stale: set[str]) -> None:
            nonlocal mark
            mark = self.store.history_mark()
            for j in reversed(range(len(batch))):
                if batch[j][0].customer_id not in stale:
                    continue
                i, request = waiting[j]
                try:  # recognized again: a visitor may have become a known customer
                    decided, decision = self._decide(config, self.recognize(request))
                except Exception as exc:
                    results[i] = exc
                    del batch[j], waiting[j]
                    continue
                results[i] = decision
                batch[j] = self._stored(config, decided, decision)

        with self._lock:
            config = self.config
            for given in requests:
                try:
                    request = self.recognize(given)
                    if request.customer_id in customers:
                        write()
                    if not batch:
                        mark = self.store.history_mark()
                    decided, decision = self._decide(config, request)
                except Exception as exc:  # this request's problem, not its neighbours'
                    results.append(exc)
                    continue
                if decision.customer_id:
                    customers.add(decision.customer_id)
                waiting.append((len(results), given))
                results.append(decision)
                batch.append(self._stored(config, decided, decision))
            if batch:
                write()
        return results

    def _decide(
        self, config: CompiledConfig, request: DecisionRequest
    ) -> tuple[DecisionRequest, Decision]:
        """The decision for a recognized request, not yet recorded, and the request as
        decided (a restricted customer's without the customer)."""
        now = self.clock.now()
        raw: dict[str, Any] = {}
        consents: list[ConsentRecord] = []
        permissions: list[ConsentRecord] = []
        history: list[ContactRow] = []
        live: dict[str, Any] = {}
        customer = request.customer_id
        if customer:
            with self.store.snapshot():  # the inputs as of one committed state
                if self.is_suppressed(customer):
                    # restricted: decided as for an anonymous visitor — nothing of
                    # theirs is read or written
                    request = dataclasses.replace(request, customer_id=None)
                else:
                    raw = self.store.get_profile(customer) or {}
                    consents = self.store.consent_ledger(customer)
                    spec = config.channels.get(request.channel)  # unknown: pipeline says
                    if spec is not None and spec.permission:
                        permissions = self.store.permission_ledger(customer)
                    since = now.timestamp() - config.max_history_window.total_seconds()
                    history = self.store.contact_history(customer, since)
                    live = self.features_of(customer, now)
        profile = coerce_traits(config.traits, raw)
        if live:
            profile, raw = {**profile, **live}, {**raw, **live}
        inputs = DecisionInputs(
            request=request,
            profile=profile,
            raw_profile=raw,
            consents=consents,
            permissions=permissions,
            history=history,
            now=now,
            seed=int(self._rng.integers(2**63 - 1)),
            decision_id=_decision_id(now, self._rng),
        )
        return request, decide(config, self.models, inputs)

    def _stored(
        self, config: CompiledConfig, request: DecisionRequest, decision: Decision
    ) -> tuple[StoredDecision, list[InteractionRow]]:
        """The decision as the store records it, and its impressions."""
        channel = config.channels[decision.channel]
        counts = channel.count_returned_as_impression
        if counts is None:
            counts = decision.direction is Direction.OUTBOUND
        ts = decision.time.timestamp()
        impressions = [
            InteractionRow(
                customer_id=decision.customer_id,
                decision_id=decision.decision_id,
                action_id=a.action_id,
                issue=a.issue,
                group=f"{a.issue}/{a.group}",
                channel=a.channel,
                outcome=Outcome.IMPRESSION.value,
                ts=ts,
            )
            for a in decision.actions
            if counts and decision.customer_id
        ]
        document = {
            "request": _request_document(request),
            "step_up": [record_dict(s) for s in decision.step_up],
            "removed": [record_dict(r) for r in decision.removed],
            "seed": decision.seed,
            # decision-time predictor values: a late outcome trains on what was known then
            "features": dict(decision.features),
            "model_control_group": decision.model_control_group,
            "reconsent_required": list(decision.reconsent_required),
        }
        return StoredDecision(
            decision_id=decision.decision_id,
            ts=ts,
            customer_id=decision.customer_id,
            interaction_id=decision.interaction_id,
            channel=decision.channel,
            direction=decision.direction.value,
            config_version=decision.config_version,
            actions=[record_dict(a) for a in decision.actions],
            document=document,
        ), impressions

    def returned_action(
        self,
        decision_id: str,
        action_id: str,
        *,
        fields: tuple[str, str] = ("decision_id", "action_id"),
    ) -> tuple[StoredDecision, dict[str, Any]]:
        """The stored decision and the action it returned; NotFoundError naming `fields`
        (the caller's names for the two ids) when either is missing."""
        stored = self.store.get_decision(decision_id)
        if stored is None:
            raise NotFoundError(fields[0], f"no decision `{decision_id}`")
        returned = next((a for a in stored.actions if a["action_id"] == action_id), None)
        if returned is None:
            raise NotFoundError(
                fields[1], f"action `{action_id}` was not returned by decision `{decision_id}`"
            )
        return stored, returned

    def get_decision(self, decision_id: str) -> StoredDecision:
        stored = self.store.get_decision(decision_id)
        if stored is None:
            raise NotFoundError("decision_id", f"no decision `{decision_id}`")
        return stored

    # --- outcomes --------------------------------------------------------------------

    def record_outcome(
        self,
        decision_id: str,
        action_id: str,
        outcome: str,
        *,
        value: float | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
        learn: bool = True,
    ) -> bool:
        """Record one outcome and (a learning engine, unless `learn=False`, which leaves it
        to the next `catch_up`) learn from it; False if it was already recorded."""
        kind = check_outcome(outcome, value)
        with self._lock:
            stored, returned = self.returned_action(decision_id, action_id)
            if stored.customer_id and self.is_suppressed(stored.customer_id):
                self.store.count_dropped(digest(stored.customer_id), 1)
                return False  # restricted: neither recorded nor learned
            key = idempotency_key or f"{decision_id}:{action_id}:{kind.value}"
            if self.store.has_outcome(key):
                return False
            record = OutcomeRecord(
                decision_id=decision_id,
                action_id=action_id,
                outcome=kind.value,
                ts=(at or self.clock.now()).timestamp(),
                idempotency_key=key,
                customer_id=stored.customer_id,
                issue=returned["issue"],
                group=f"{returned['issue']}/{returned['group']}",
                channel=stored.channel,
                value=value,
            )
            inserted = self.store.record_outcome(record)
            if inserted and learn and kind in TRAINING_OUTCOMES:
                self.catch_up()
            return inserted

    def catch_up(self) -> int:
        """Learn every outcome of the log past the mark, in log order; save the states and
        the new mark together. Returns how many outcomes were learned (0 for an engine
        that does not learn)."""
        if not self.learns:
            return 0
        trains = [o.value for o in TRAINING_OUTCOMES]
        learned = 0
        with self._lock:
            while True:
                rows, through = self.store.training_rows(self._mark, trains, CATCH_UP_PAGE)
                # rows that train nothing (impressions) are stepped over only in bulk: not
                # worth a write each time, but not to be scanned again and again either
                if not rows and through - self._mark < CATCH_UP_PAGE:
                    return learned
                states: dict[str, Any] = {}
                for row in rows:
                    states.update(
                        self.models.learn_one(
                            row.action_id,
                            row.channel,
                            positive=Outcome(row.outcome) in POSITIVE_OUTCOMES,
                            x=row.features,
                            at=row.ts,
                        )
                    )
                # False: a learner ahead of this one saved already (the same states)
                self.store.save_learning(states, through)
                self._mark = through
                learned += len(rows)

    def refresh_models(self) -> bool:
        """Take the saved models if a learner has moved the mark since — what an engine
        that does not learn runs now and then; True if they changed. The new bank is built
        outside the lock and swapped in, so decisions do not wait for it. (An engine given
        its `models` by the caller keeps them: it has no config to build new ones from.)"""
        if not self._own_models or self.store.learned_through() == self._mark:
            return False
        config = self.config
        models = models_for(config)
        mark = self._load_saved(models)
        models.bind(config)
        with self._lock:
            if self.config is not config:  # reloaded meanwhile
                if self._bank_settings(self.config) != self._bank_settings(config):
                    return False  # the reload built its own bank, of the new settings
                models.bind(self.config)
            self.models = models
            self._mark = mark
        return True

    def _load_saved(self, models: PropensityModels) -> int:
        """Load the store's saved model states into `models`; returns the mark they have
        learned through. Each bank passes over the states of another model kind (left by
        a reload that switched `learning.model`): its own kind starts fresh."""
        # reservoirs serve learning only; an engine that does not learn skips their load
        states, mark = self.store.load_learning(
            skip_suffix=None if self.learns else RESERVOIR_SUFFIX
        )
        models.load_state(states)
        return mark

    @staticmethod
    def _bank_settings(config: CompiledConfig) -> dict[str, Any]:
        """The learning settings a model bank is built with (`models_for`): all but
        those the pipeline reads at each decision or `bind` applies (a change of only
        these keeps the bank)."""
        outside = {
            "control_group", "response_timeout", "timeout_outcome", "maturity",
            "exclude_predictors",
        }  # fmt: skip
        return config.learning.model_dump(exclude=outside)

    def expire_responses(self, *, limit: int = 100_000) -> int:
        """Record `learning.timeout_outcome` for every returned action whose decision is
        older than `learning.response_timeout` and still has no positive or negative
        outcome (Pega's response timeout); the models learn it. Returns how many.

        Looks back two timeouts; run it at least that often (a response that comes later
        still counts, as its own outcome)."""
        spec = self.config.learning
        if spec.response_timeout is None:
            return 0
        now = self.clock.now().timestamp()
        timeout = spec.response_timeout.total_seconds()
        answers = [o.value for o in TRAINING_OUTCOMES]
        pending = self.store.unanswered(now - 2 * timeout, now - timeout, answers, limit)
        recorded = 0
        for decision_id, action_id in pending:
            recorded += self.record_outcome(
                decision_id,
                action_id,
                spec.timeout_outcome,
                idempotency_key=f"{decision_id}:{action_id}:timeout",
                learn=False,
            )
        self.catch_up()
        return recorded

    def model_reports(self) -> list[ModelReport]:
        """Every adaptive model with its binning (empty for non-ADM model banks)."""
        if not isinstance(self.models, AdmModels):
            return []
        with self._lock:
            return self.models.reports(self.clock.now().timestamp())


def _decision_id(now: datetime, rng: np.random.Generator) -> str:
    """A UUIDv7 (RFC 9562): the time in ms, then 74 random bits. Decisions are written in
    the order of their ids, so the stores' indexes on them grow at one end instead of
    touching a random page each (and the ids sort by time)."""
    ms = int(now.timestamp() * 1000) & (1 << 48) - 1
    high, low = rng.bit_generator.random_raw(2).tolist()  # a third of rng.bytes' time
    rand_a, rand_b = high & (1 << 12) - 1, low & (1 << 62) - 1
    return str(uuid.UUID(int=ms << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b))


def _request_document(request: DecisionRequest) -> dict[str, Any]:
    return {
        "customer_id": request.customer_id,
        "anonymous_ids": dict(request.anonymous_ids),
        "channel": request.channel,
        "direction": request.direction.value if request.direction else None,
        "placements": [{"name": p.name, "count": p.count} for p in request.placements],
        "context": dict(request.context),
        "assurance_level": request.assurance_level,
        "interaction_id": request.interaction_id,
        "explain": request.explain,
        "candidates": list(request.candidates),
        "recognized_by": request.recognized_by,
    }
