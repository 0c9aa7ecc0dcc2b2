"""The embedded store: one SQLite file in WAL mode.

SQLAlchemy creates the engine and Alembic runs the named migrations; the statements
themselves go straight to the `sqlite3` connection underneath, because SQLAlchemy's
per-statement overhead (~50 µs) would be a large share of a decision's budget. The SQL is
plain and portable; the PostgreSQL backend will go through SQLAlchemy Core where the
driver overhead matters less than the network.

One long-lived connection serves the hot path (a decision reads a profile, consents and
recent history, and writes one transaction). Every write commits before it returns, so
an acknowledged record survives a crash of the process (WAL with `synchronous=NORMAL`
loses nothing on a process crash; only a power cut can cost the last transactions).
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine

from nextbest.errors import StoreError
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

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
LOCK_RETRIES = 60  # ≈ 1.8 s of back-off in all
ERASE_CHECKPOINT_TRIES = 500  # × 10 ms
WAL_LIMIT = 16 * 1024 * 1024  # bytes of WAL kept when it starts over
RESTART_WAIT_MS = 20  # how long a checkpoint holding writers back waits for old readers
#: the page cache (KiB): alone on the file, history reads stay in memory
CACHE_KIB = 64 * 1024
#: the page cache when other processes write the file too (`shared`). SQLite empties a
#: connection's cache at the start of every transaction after another connection has
#: committed, and emptying it scans the cache's whole hash table, which is sized by the
#: most pages it ever held. With two API workers that is nearly every transaction; at
#: 64 MiB the scan was SQLite's hottest loop (5 % of a decision's time with two processes
#: deciding on one file) and 2,000 KiB (SQLite's default) gave the HTTP benchmark ~5 %.
SHARED_CACHE_KIB = 2000
#: the two consent ledgers: table → (subject column, policy version column or NULL)
_LEDGERS = {"consents": ("purpose", "policy_version"), "permissions": ("channel", "NULL")}
_ACTION_COLUMNS = (
    "placement", "rank", "action_id", "treatment_id", "issue", "group", "channel", "propensity",
    "model_propensity", "value", "lever", "context_weight", "priority", "selection_probability",
    "fallback",
)  # fmt: skip
_INSERT_ACTIONS = (
    "INSERT INTO decision_actions (decision_id, "
    + ", ".join("group_name" if c == "group" else c for c in _ACTION_COLUMNS)
    + f") VALUES ({', '.join('?' * (len(_ACTION_COLUMNS) + 1))})"
)
_INSERT_DECISION = (
    "INSERT INTO decisions (decision_id, ts, customer_id, interaction_id, channel, direction, "
    "config_version, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_INTERACTIONS = (
    "INSERT INTO interactions (customer_id, decision_id, action_id, issue, group_name, "
    "channel, outcome, ts, value, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_EVENT_COLUMNS = "message_id, type, customer_id, anonymous_id, name, ts, received_ts, payload"
_INTERACTIONS_SINCE = "SELECT DISTINCT customer_id FROM interactions WHERE id > ?"
_LAST_FIRED = "SELECT max(created_ts) FROM outbox WHERE customer_id = :c AND trigger_id = :t"
#: the suppressed among up to 500 digests: a search of the primary key's index each
_SUPPRESSED = "SELECT digest FROM suppressions WHERE digest IN ({})"
#: (table, rows of subject `:c`) that `erase_subject` deletes, in this order
_ERASED_ROWS = (
    ("decision_actions",
     "decision_id IN (SELECT decision_id FROM decisions WHERE customer_id = :c)"),
    ("decisions", "customer_id = :c"),
    ("interactions", "customer_id = :c"),
    ("events", "customer_id = :c"),
    ("profiles", "customer_id = :c"),
    ("consents", "customer_id = :c"),
    ("permissions", "customer_id = :c"),
    ("feature_state", "customer_id = :c"),
    ("outbox", "customer_id = :c"),
    ("identities", "customer_id = :c"),
    ("identity_claims", "customer_id = :c"),
    # the journal holds the profiles' traits: it goes too
    ("merges", "from_id = :c OR into_id = :c"),
)  # fmt: skip
_MERGED_AMONG = (
    "SELECT from_id FROM merges WHERE status = 'merged' AND merge_id > :mark AND from_id IN ({})"
)
# an identifier row is new (a higher rowid) when first linked; a merge moves rows in place
_CLAIMED_AMONG = (
    "SELECT value FROM identities WHERE namespace = 'anonymous_id' AND rowid > :mark "
    f"AND substr(customer_id, 1, {len(ANONYMOUS)}) != '{ANONYMOUS}' AND value IN ({{}})"
)


def _kept(record: ConsentRecord, suppressed: set[str]) -> bool:
    """A suppressed subject's refusals and withdrawals are kept (lifting a restriction must
    not bring back a grant they withdrew meanwhile); their grants are not."""
    return record.customer_id not in suppressed or record.status != "granted"


def _interaction_params(rows: Sequence[InteractionRow], key: str | None) -> list[tuple[Any, ...]]:
    """`_INSERT_INTERACTIONS`' parameters for the rows."""
    return [
        (r.customer_id, r.decision_id, r.action_id, r.issue, r.group, r.channel, r.outcome,
         r.ts, r.value, key)
        for r in rows
    ]  # fmt: skip


def _event_of(r: Sequence[Any]) -> EventRecord:
    """An events row (`_EVENT_COLUMNS`, in order) as a record."""
    return EventRecord(r[0], r[1], r[2], r[3], r[4], r[5], r[6], _loads(r[7]))


def _merge_of(r: Sequence[Any]) -> Merge:
    """A merges row as a record, with the counts of what moved."""
    return Merge(int(r[0]), r[1], r[2], r[3], r[4], r[5], moved_counts(_loads(r[6])))


_ORJSON = (
    orjson.OPT_NON_STR_KEYS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_SERIALIZE_NUMPY
)


def _chunks(values: Iterable[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The distinct values as `IN` lists of at most 500 parameters: (marks, parameters)."""
    distinct = list(dict.fromkeys(values))
    for start in range(0, len(distinct), 500):
        chunk = distinct[start : start + 500]
        yield (
            ", ".join(f":p{i}" for i in range(len(chunk))),
            {f"p{i}": v for i, v in enumerate(chunk)},
        )


def _dumps(value: Any) -> str:
    """Compact JSON, anything else as str. orjson (most of an ingest's encoding time was
    json's) writes NaN and ±Infinity as null; `_dumps_exact` keeps them."""
    try:
        return orjson.dumps(value, default=str, option=_ORJSON).decode()
    except TypeError:  # an integer beyond 64 bits, say
        return _dumps_exact(value)


def _dumps_exact(value: Any) -> str:
    """JSON that keeps NaN and ±Infinity (orjson writes null): model states' sketches hold
    infinities."""
    return json.dumps(value, separators=(",", ":"), default=str)


def _loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, as json.dumps once wrote them
        return json.loads(text)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _current_revision(conn: Connection) -> str | None:
    exists = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'")
    ).first()
    if exists is None:
        return None
    row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
    return None if row is None else str(row[0])


class _Checkpointer(threading.Thread):
    """Copies the WAL back into the database file on its own connection and thread.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold; here
    that was every ~120 decisions, costing that decision 5–10 ms. Off the hot path, the
    checkpoint overlaps with decisions (the sqlite3 module releases the GIL while SQLite
    works).

    Each round has two steps. A PASSIVE checkpoint copies the bulk of the WAL and syncs the
    database file while writers go on; under steady writes it never reaches the end of the
    WAL, so on its own the WAL would only grow. Then, holding the writer lock, a RESTART
    checkpoint copies the few frames written meanwhile, so that the next write starts the
    WAL from the beginning again. Writers wait for that step in the writer lock's kernel
    queue and are woken as soon as it ends: left to SQLite's busy handler, which polls
    after 1, 2, 5, 10, 15 ms, a writer that met a RESTART lost 20–35 ms (the p99 of the
    HTTP benchmark)."""

    def __init__(self, path: Path, writer: _WriterLock, interval: float) -> None:
        super().__init__(name="nextbest-wal-checkpoint", daemon=True)
        self.path = path
        self.writer = writer
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        connection = sqlite3.connect(self.path, check_same_thread=False)
        # one checkpointer a database file: the processes on it (API workers, a CLI
        # import) would otherwise each hold writers back every round
        turn = os.open(f"{self.path}-checkpoint", os.O_RDWR | os.O_CREAT, 0o600)
        mine = False
        try:
            # RESTART waits, holding writers back, for readers of older snapshots to end:
            # briefly, then it gives up until the next round (PASSIVE never waits)
            connection.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            connection.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            while not self.stopped.wait(self.interval):
                if not mine:
                    try:  # taken over when the process that held it ends
                        fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue
                    mine = True
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                with self.writer.held():
                    connection.execute("PRAGMA wal_checkpoint(RESTART)").fetchall()
        except sqlite3.Error:
            pass  # checkpointing is an optimisation; close() checkpoints in any case
        finally:
            os.close(turn)  # and with it the turn
            connection.close()


class _WriterLock:
    """One writer at a time across the processes on a database file, queued in the kernel.

    SQLite's busy handler polls: a writer that finds the lock taken sleeps 1, 2, 5, 10 … ms
    and tries again, so with two API workers writing, collisions cost milliseconds (event
    batches had a 1.2 s p99). An exclusive `flock` on a side file (`<db>-lock`) makes the
    writers wait in line instead, and wakes the next one when the lock is let go; the
    kernel drops a dead process's lock. Re-entrant within the process.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(f"{path}-lock", os.O_RDWR | os.O_CREAT, 0o600)
        self._local = threading.RLock()
        self._depth = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                fcntl.flock(self._fd, fcntl.LOCK_EX)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class SQLiteStore:
    def __init__(self, engine: Engine, path: Path, checkpoint_interval: float = 0.5) -> None:
        self.engine = engine
        self._writer = _WriterLock(path)
        # one thread at a time on the connection: the API's event loop (key checks, reads)
        # and its thread pool (ingestion) and the model upkeep thread share it, and the
        # sqlite3 module does not serialise them (seen: "another row available", 500s)
        self._use = threading.RLock()
        self._conn = engine.connect()
        raw = self._conn.connection.dbapi_connection
        if raw is None:  # pragma: no cover - SQLAlchemy always gives a live connection here
            raise StoreError("the SQLite connection closed while opening the store")
        raw.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it instead
        self._raw: Any = raw
        self._checkpointer = _Checkpointer(path, self._writer, checkpoint_interval)
        self._checkpointer.start()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE): waiting
        for it honours busy_timeout, where a deferred transaction that must upgrade a read
        snapshot another process has moved past fails at once with "database is locked"
        (seen with two API workers on one file). Writers of other processes queue on the
        writer lock first."""
        with self._use, self._writer.held(), self._raw:
            if not self._raw.in_transaction:
                # with several processes on one file SQLite sometimes answers BUSY at once
                # rather than through the busy handler; a short, bounded retry covers it
                for attempt in range(LOCK_RETRIES):
                    try:
                        self._raw.execute("BEGIN IMMEDIATE")
                        break
                    except sqlite3.OperationalError as exc:
                        if "locked" not in str(exc) or attempt == LOCK_RETRIES - 1:
                            raise
                        time.sleep(0.001 * (attempt + 1))
            yield

    @classmethod
    def open(
        cls, path: str | Path, *, checkpoint_interval: float = 0.5, shared: bool = False
    ) -> SQLiteStore:
        """`shared`: other processes write the file too (the API's workers), so the page
        cache is kept small (see `SHARED_CACHE_KIB`)."""
        path = Path(path)
        cache_kib = SHARED_CACHE_KIB if shared else CACHE_KIB
        if path.parent and not path.parent.exists():
            raise StoreError(
                f"cannot create the database {path}: folder {path.parent} does not exist"
            )
        engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.SingletonThreadPool)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.execute(f"PRAGMA cache_size=-{cache_kib}")
            # deleted content is overwritten, not left in free pages: an erased subject
            # leaves no bytes behind in the file
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

        try:
            with engine.begin() as conn:
                if _current_revision(conn) != head_revision():
                    command.upgrade(_alembic_config(conn), "head")
        except sa.exc.DatabaseError as exc:
            raise StoreError(
                f"cannot open {path} as a nextbest SQLite database: {exc.orig}"
            ) from None
        return cls(engine, path, checkpoint_interval)

    def close(self) -> None:
        self._checkpointer.stopped.set()
        self._checkpointer.join()
        self._raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        self._conn.close()
        self.engine.dispose()
        self._writer.close()

    def revision(self) -> str | None:
        rows = self._read("SELECT version_num FROM alembic_version")
        return str(rows[0][0]) if rows else None

    def _exec(self, sql: str, params: Any) -> None:
        # the hot writes (decisions, events, interactions) bind positional `?` parameters:
        # the sqlite3 module looks each named one up in the dict, ~0.3 µs a parameter
        with self._use:
            if isinstance(params, list):
                self._raw.executemany(sql, params)
            else:
                self._raw.execute(sql, params)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One read transaction for the reads inside: one committed state, and cheaper
        (each read on its own is a transaction of its own, with its WAL lock calls)."""
        with self._use:
            if self._raw.in_transaction:
                yield
                return
            self._raw.execute("BEGIN")  # deferred: the first read takes the snapshot
            try:
                yield
            finally:
                if self._raw.in_transaction:
                    self._raw.execute("COMMIT")  # ends the read; nothing was written

    def _read(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        # Reads go straight to the driver's connection: SQLAlchemy's per-statement overhead
        # (~50 µs) would dominate a decision's three reads. The sqlite3 module opens no
        # transaction for a SELECT, so every read sees the latest committed data.
        with self._use:
            cursor = self._raw.execute(sql, params)
            try:
                rows: list[tuple[Any, ...]] = cursor.fetchall()
                return rows
            finally:
                cursor.close()

    def _read_in(self, sql: str, values: Iterable[Any], **params: Any) -> list[tuple[Any, ...]]:
        """`sql` with its `IN ({})` filled by the distinct values, in chunks of 500 (SQLite
        caps a statement's parameters)."""
        rows: list[tuple[Any, ...]] = []
        for marks, chunk in _chunks(values):
            rows += self._read(sql.format(marks), **chunk, **params)
        return rows

    def _exec_in(self, sql: str, values: Iterable[Any], **params: Any) -> None:
        """`_read_in` for a statement that writes."""
        for marks, chunk in _chunks(values):
            self._exec(sql.format(marks), chunk | params)

    def _suppressed_ids(self, customer_ids: Iterable[str | None]) -> set[str]:
        """Those of the customers on the suppression list, in the caller's write
        transaction: a regulation another process committed before it began counts, one
        committed later waits for it (writers are serialized). One query per 500
        customers: it runs in every decision's write."""
        by_digest = {subject_digest(c): c for c in set(customer_ids) if c}
        if not by_digest:
            return set()
        return {by_digest[d] for (d,) in self._read_in(_SUPPRESSED, by_digest)}

    def _merged_visitors(self, customer_ids: Iterable[str | None], since: int = 0) -> set[str]:
        """Those of the customers that are anonymous profiles merged into a known customer
        (by a merge after `since`, an `identity_mark`'s merges), in the caller's write
        transaction."""
        visitors = [c for c in set(customer_ids) if c and is_anonymous(c)]
        if not visitors:
            return set()
        return {c for (c,) in self._read_in(_MERGED_AMONG, visitors, mark=since)}

    def _claimed_visitors(self, customer_ids: Iterable[str | None], since: int) -> set[str]:
        """Those of the customers that are anonymous profiles whose own anonymous id a known
        customer claimed by a link newer than `since` (an `identity_mark`'s links), in the
        caller's write transaction."""
        ids = {c.removeprefix(ANONYMOUS): c for c in set(customer_ids) if c and is_anonymous(c)}
        if not ids:
            return set()
        return {ids[v] for (v,) in self._read_in(_CLAIMED_AMONG, ids, mark=since)}

    def _count_dropped(self, customer_ids: Iterable[str | None]) -> None:
        """Count records the store dropped for suppressed subjects (one per id given),
        in the caller's write transaction."""
        counts = Counter(c for c in customer_ids if c)
        self._raw.executemany(
            "UPDATE suppressions SET dropped = dropped + ? WHERE digest = ?",
            [(n, subject_digest(c)) for c, n in counts.items()],
        )

    # --- profiles --------------------------------------------------------------------

    def get_profile(self, customer_id: str) -> dict[str, Any] | None:
        rows = self._read("SELECT traits FROM profiles WHERE customer_id = :c", c=customer_id)
        return _loads(rows[0][0]) if rows else None

    def trait_sources(self, customer_id: str) -> TraitSources:
        rows = self._read(
            "SELECT trait_sources FROM profiles WHERE customer_id = :c", c=customer_id
        )
        return _loads(rows[0][0]) if rows else {}

    def upsert_profiles(
        self,
        profiles: Sequence[tuple[str, Mapping[str, Any]]],
        ts: float,
        *,
        source: str | None = None,
        ranks: Mapping[str, int] | None = None,
    ) -> int:
        if not profiles:
            return 0
        with self._writing():
            suppressed = self._suppressed_ids(c for c, _ in profiles)
            if suppressed:  # a suppressed subject's traits are not written
                profiles = [(c, t) for c, t in profiles if c not in suppressed]
                if not profiles:
                    return 0
            if source is not None:
                self._write_traits([(c, t, source, ts) for c, t in profiles], ts, ranks or {})
                return len(profiles)
            # json_patch merges key by key (RFC 7396): a null value removes the trait, and
            # the written traits' sources (none recorded) go
            self._exec(
                "INSERT INTO profiles (customer_id, traits, updated_ts) "
                "VALUES (:c, json_patch('{}', :t), :ts) ON CONFLICT(customer_id) DO UPDATE SET "
                "traits = json_patch(profiles.traits, :t), updated_ts = excluded.updated_ts, "
                "trait_sources = json_patch(profiles.trait_sources, :gone)",
                [
                    {"c": c, "t": _dumps(dict(t)), "gone": _dumps(dict.fromkeys(t)), "ts": ts}
                    for c, t in profiles
                ],
            )
        return len(profiles)

    def _write_traits(
        self,
        writes: Sequence[tuple[str, Mapping[str, Any], str, float]],
        ts: float,
        ranks: Mapping[str, int],
    ) -> None:
        """(customer, traits, source, when true) writes in order, under trait precedence,
        in the caller's transaction."""
        rows = self._read_in(
            "SELECT customer_id, traits, trait_sources FROM profiles WHERE customer_id IN ({})",
            (c for c, *_ in writes),
        )
        held = {c: (_loads(t), _loads(m)) for c, t, m in rows}
        for customer_id, traits, source, when in writes:
            current, sources = held.setdefault(customer_id, ({}, {}))
            apply_traits(current, sources, traits, source, when, ranks)
        self._exec(
            "INSERT INTO profiles (customer_id, traits, trait_sources, updated_ts) "
            "VALUES (:c, :t, :m, :ts) ON CONFLICT(customer_id) DO UPDATE SET "
            "traits = excluded.traits, trait_sources = excluded.trait_sources, "
            "updated_ts = excluded.updated_ts",
            [{"c": c, "t": _dumps(t), "m": _dumps(m), "ts": ts} for c, (t, m) in held.items()],
        )

    def count_profiles(self) -> int:
        return int(self._read("SELECT count(*) FROM profiles")[0][0])

    def customer_ids(self, limit: int, offset: int = 0) -> list[str]:
        rows = self._read(
            "SELECT customer_id FROM profiles ORDER BY customer_id LIMIT :l OFFSET :o",
            l=limit,
            o=offset,
        )
        return [r[0] for r in rows]

    # --- consents --------------------------------------------------------------------

    def get_consents(self, customer_id: str) -> dict[str, str]:
        rows = self._read(
            "SELECT purpose, status FROM consents WHERE customer_id = :c ORDER BY ts, id",
            c=customer_id,
        )
        return {purpose: status for purpose, status in rows}

    def set_consents(
        self,
        rows: Sequence[ConsentRecord | tuple[str, str, str, float]],
        permissions: Sequence[ConsentRecord] = (),
    ) -> None:
        if not rows and not permissions:
            return
        records = [ConsentRecord(*r) for r in rows]
        with self._writing():
            suppressed = self._suppressed_ids(r.customer_id for r in (*records, *permissions))
            if suppressed:  # no grant is recorded for a suppressed subject
                records = [r for r in records if _kept(r, suppressed)]
                permissions = [r for r in permissions if _kept(r, suppressed)]
            self._append_ledger("consents", records)
            self._append_ledger("permissions", permissions)

    def consent_ledger(self, customer_id: str) -> list[ConsentRecord]:
        return self._ledger("consents", customer_id)

    def permission_ledger(self, customer_id: str) -> list[ConsentRecord]:
        return self._ledger("permissions", customer_id)

    def _append_ledger(self, table: str, rows: Sequence[ConsentRecord]) -> None:
        if not rows:
            return
        subject, version = _LEDGERS[table]
        columns = f"customer_id, {subject}, status, ts, expires_ts, source"
        values = ":c, :s, :st, :ts, :e, :src"
        if version != "NULL":
            columns, values = f"{columns}, {version}", f"{values}, :v"
        self._exec(
                f"INSERT INTO {table} ({columns}) VALUES ({values})",
                [
                    {"c": r.customer_id, "s": r.subject, "st": r.status, "ts": r.ts,
                     "e": r.expires_ts, "src": r.source, "v": r.policy_version}
                    for r in rows
                ],
            )  # fmt: skip

    def _ledger(self, table: str, customer_id: str) -> list[ConsentRecord]:
        subject, version = _LEDGERS[table]
        rows = self._read(
            f"SELECT customer_id, {subject}, status, ts, expires_ts, source, {version} "
            f"FROM {table} WHERE customer_id = :c ORDER BY id",
            c=customer_id,
        )
        return [ConsentRecord(*r) for r in rows]

    # --- history ---------------------------------------------------------------------

    def _insert_rows(self, rows: Sequence[InteractionRow], key: str | None = None) -> None:
        self._exec(_INSERT_INTERACTIONS, _interaction_params(rows, key))

    def history_mark(self) -> int:
        return int(self._read("SELECT coalesce(max(id), 0) FROM interactions")[0][0])

    def record_decisions(
        self,
        decisions: Sequence[tuple[StoredDecision, Sequence[InteractionRow]]],
        *,
        seen: int | None = None,
    ) -> None:
        # everything bound before the write lock is taken: while this process holds it, the
        # other workers' writes wait
        rows = []
        actions = []
        interactions = []
        customers: set[str | None] = set()
        for decision, impressions in decisions:
            document = dict(decision.document)
            document["actions"] = decision.actions
            rows.append(
                (
                    decision.decision_id, decision.ts, decision.customer_id,
                    decision.interaction_id, decision.channel, decision.direction,
                    decision.config_version, _dumps(document),
                )
            )  # fmt: skip
            actions += [
                (decision.decision_id, *[a[k] for k in _ACTION_COLUMNS]) for a in decision.actions
            ]
            interactions += _interaction_params(impressions, None)
            customers.add(decision.customer_id)
            customers.update(r.customer_id for r in impressions)
        if not rows:
            return
        deciding = {d.customer_id for d, _ in decisions if d.customer_id}
        with self._writing():
            if seen is not None and deciding:
                # the rows since the mark, by rowid: the few committed meanwhile (the
                # customer index would walk each customer's whole history)
                since = self._raw.execute(_INTERACTIONS_SINCE, (seen,))
                moved = {c for (c,) in since} & deciding
                # and a visitor merged into a known customer meanwhile: decided again
                # for the customer, not written to the profile that is gone
                moved |= self._merged_visitors(deciding)
                if moved:
                    raise StaleHistory(moved)
            suppressed = self._suppressed_ids(customers)
            if suppressed:  # a suppressed subject's decisions are dropped, with their rows
                gone = {r[0] for r in rows if r[2] in suppressed}
                rows = [r for r in rows if r[0] not in gone]
                actions = [a for a in actions if a[0] not in gone]
                interactions = [
                    i for i in interactions if i[1] not in gone and i[0] not in suppressed
                ]
            if rows:
                self._raw.executemany(_INSERT_DECISION, rows)
            if actions:
                self._raw.executemany(_INSERT_ACTIONS, actions)
            if interactions:
                self._raw.executemany(_INSERT_INTERACTIONS, interactions)

    _DECISION_COLUMNS = (
        "decision_id, ts, customer_id, interaction_id, channel, direction, config_version, document"
    )

    def _decision(self, row: tuple[Any, ...]) -> StoredDecision:
        document = _loads(row[7])
        actions = document.pop("actions", [])
        decision_id, ts, customer_id, interaction_id, channel, direction, version = row[:7]
        return StoredDecision(
            decision_id,
            ts,
            customer_id,
            interaction_id,
            channel,
            direction,
            version,
            actions,
            document,
        )

    def get_decision(self, decision_id: str) -> StoredDecision | None:
        rows = self._read(
            f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE decision_id = :d", d=decision_id
        )
        return self._decision(rows[0]) if rows else None

    def has_outcome(self, idempotency_key: str) -> bool:
        return bool(
            self._read("SELECT 1 FROM interactions WHERE idempotency_key = :k", k=idempotency_key)
        )

    def record_outcome(self, outcome: OutcomeRecord) -> bool:
        try:
            with self._writing():
                if self._suppressed_ids([outcome.customer_id]):
                    self._count_dropped([outcome.customer_id])
                    return False  # a suppressed subject's outcomes are not recorded
                self._insert_rows([outcome.as_row()], key=outcome.idempotency_key)
        except sqlite3.IntegrityError:
            return False
        return True

    _ROW_COLUMNS = (
        "customer_id, decision_id, action_id, issue, group_name, channel, outcome, ts, value"
    )

    def customer_history(self, customer_id: str, since_ts: float) -> list[InteractionRow]:
        rows = self._read(
            f"SELECT {self._ROW_COLUMNS} FROM interactions WHERE customer_id = :c AND ts >= :s "
            "ORDER BY ts, id",
            c=customer_id,
            s=since_ts,
        )
        return list(map(InteractionRow._make, rows))

    def contact_history(self, customer_id: str, since_ts: float) -> list[ContactRow]:
        # only the columns policies count, from the covering index: half the cost of a full row
        rows = self._read(
            "SELECT action_id, issue, group_name, channel, outcome, ts FROM interactions "
            "WHERE customer_id = :c AND ts >= :s ORDER BY ts",
            c=customer_id,
            s=since_ts,
        )
        return list(map(ContactRow._make, rows))

    def history(
        self, *, customer_id: str | None = None, decision_id: str | None = None, limit: int = 50
    ) -> list[InteractionRow]:
        where = []
        params: dict[str, Any] = {"l": limit}
        if customer_id is not None:
            where.append("customer_id = :c")
            params["c"] = customer_id
        if decision_id is not None:
            where.append("decision_id = :d")
            params["d"] = decision_id
        clause = ("WHERE " + " AND ".join(where)) if where else ""
        rows = self._read(
            f"SELECT {self._ROW_COLUMNS} FROM interactions {clause} ORDER BY ts DESC, id DESC LIMIT :l",
            **params,
        )
        return list(map(InteractionRow._make, rows))

    def unanswered(
        self, since_ts: float, before_ts: float, outcomes: Sequence[str], limit: int
    ) -> list[tuple[str, str]]:
        marks = ", ".join(f":o{i}" for i in range(len(outcomes))) or "NULL"
        rows = self._read(
            "SELECT a.decision_id, a.action_id FROM decisions d "
            "JOIN decision_actions a ON a.decision_id = d.decision_id "
            "WHERE d.ts >= :since AND d.ts < :before AND NOT EXISTS ("
            " SELECT 1 FROM interactions i WHERE i.decision_id = a.decision_id"
            f" AND i.action_id = a.action_id AND i.outcome IN ({marks}))"
            " ORDER BY d.ts, a.decision_id, a.rank LIMIT :l",
            since=since_ts,
            before=before_ts,
            l=limit,
            **{f"o{i}": o for i, o in enumerate(outcomes)},
        )
        return [(str(d), str(a)) for d, a in rows]

    def decisions(self, *, customer_id: str | None = None, limit: int = 50) -> list[StoredDecision]:
        if customer_id is None:
            rows = self._read(
                f"SELECT {self._DECISION_COLUMNS} FROM decisions ORDER BY ts DESC LIMIT :l", l=limit
            )
        else:
            rows = self._read(
                f"SELECT {self._DECISION_COLUMNS} FROM decisions WHERE customer_id = :c ORDER BY ts DESC LIMIT :l",
                c=customer_id,
                l=limit,
            )
        return [self._decision(r) for r in rows]

    def counts(self) -> dict[str, Any]:
        def scalar(sql: str) -> int:
            return int(self._read(sql)[0][0])

        outcomes = self._read("SELECT outcome, count(*) FROM interactions GROUP BY outcome")
        return {
            "profiles": scalar("SELECT count(*) FROM profiles"),
            "decisions": scalar("SELECT count(*) FROM decisions"),
            "interactions": scalar("SELECT count(*) FROM interactions"),
            "outcomes_by_type": {o: int(n) for o, n in outcomes},
        }

    # --- model state and config versions ---------------------------------------------

    def load_model_states(self, *, skip_suffix: str | None = None) -> dict[str, dict[str, Any]]:
        if skip_suffix is None:
            rows = self._read("SELECT model_id, state FROM model_state")
        else:
            rows = self._read(
                "SELECT model_id, state FROM model_state WHERE substr(model_id, -:n) != :s",
                n=len(skip_suffix),
                s=skip_suffix,
            )
        return {m: _loads(s) for m, s in rows}

    def _save_states(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        self._exec(
            (
                "INSERT INTO model_state (model_id, state, updated_ts) VALUES (:m, :s, :ts) "
                "ON CONFLICT(model_id) DO UPDATE SET state = excluded.state, updated_ts = excluded.updated_ts"
            ),
            [{"m": m, "s": _dumps_exact(s), "ts": time.time()} for m, s in states.items()],
        )

    def save_model_states(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        if states:
            with self._writing():
                self._save_states(states)

    def learned_through(self) -> int:
        return int(self._read("SELECT through FROM learning_mark WHERE id = 1")[0][0])

    def load_learning(
        self, *, skip_suffix: str | None = None
    ) -> tuple[dict[str, dict[str, Any]], int]:
        # under the write lock: no learner can save between the two reads
        with self._writing():
            return self.load_model_states(skip_suffix=skip_suffix), self.learned_through()

    def training_rows(
        self, after: int, outcomes: Sequence[str], limit: int
    ) -> tuple[list[TrainingRow], int]:
        top = self._read("SELECT max(id) FROM interactions")[0][0] or after
        marks = ", ".join(f":o{i}" for i in range(len(outcomes)))
        rows = self._read(
            "SELECT i.id, i.action_id, i.channel, i.outcome, i.ts, "
            "json_extract(d.document, '$.features') FROM interactions i "
            "LEFT JOIN decisions d ON d.decision_id = i.decision_id "
            f"WHERE i.id > :after AND i.id <= :top AND i.outcome IN ({marks}) "
            "ORDER BY i.id LIMIT :limit",
            after=after,
            top=top,
            limit=limit,
            **{f"o{i}": o for i, o in enumerate(outcomes)},
        )
        found = [
            TrainingRow(r[0], r[1], r[2], r[3], r[4], _loads(r[5]) if r[5] else {}) for r in rows
        ]
        # a full page may stop short of `top`: the mark goes only as far as it read
        return found, (found[-1].row if len(found) == limit else max(top, after))

    def save_learning(self, states: Mapping[str, Mapping[str, Any]], through: int) -> bool:
        with self._writing():
            if self.learned_through() > through:
                return False
            if states:
                self._save_states(states)
            self._raw.execute("UPDATE learning_mark SET through = :t WHERE id = 1", {"t": through})
        return True

    def save_config_version(self, version_id: str, files: Mapping[str, str], ts: float) -> None:
        with self._writing():
            self._save_config_version(version_id, files, ts)

    def _save_config_version(self, version_id: str, files: Mapping[str, str], ts: float) -> None:
        self._exec(
            (
                "INSERT INTO config_versions (version_id, files, ts) VALUES (:v, :f, :ts) "
                "ON CONFLICT(version_id) DO NOTHING"
            ),
            {"v": version_id, "f": _dumps(dict(files)), "ts": ts},
        )

    def record_activation(self, version_id: str, files: Mapping[str, str], ts: float) -> int:
        with self._writing():
            self._save_config_version(version_id, files, ts)
            self._exec(
                "INSERT INTO config_activations (version_id, ts) VALUES (:v, :ts)",
                {"v": version_id, "ts": ts},
            )
            return int(self._read("SELECT last_insert_rowid()")[0][0])

    def last_activation(self) -> tuple[int, str] | None:
        rows = self._read("SELECT id, version_id FROM config_activations ORDER BY id DESC LIMIT 1")
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

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
        writes: list[tuple[str, Mapping[str, Any], str, float]] = []
        with self._writing():
            checked = {e.customer_id for e, _ in events} | {c for _, _, c in identities}
            if seen is not None:  # a visitor merged or claimed by another process since
                moved = self._merged_visitors(checked, since=seen.merges)
                moved |= self._claimed_visitors(checked, since=seen.links)
                if moved:
                    raise StaleHistory(moved)
            # a suppressed subject's events are dropped (not new, counted), and nothing
            # of theirs is written: traits, feature state, identifiers
            suppressed = self._suppressed_ids(checked)
            dropped: list[str | None] = []
            for event, traits in events:
                if event.customer_id in suppressed:
                    dropped.append(event.customer_id)
                    new.append(False)
                    continue
                cursor = self._raw.execute(
                    f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT(message_id) DO NOTHING",
                    (
                        event.message_id, event.type, event.customer_id, event.anonymous_id,
                        event.name, event.ts, event.received_ts, _dumps(event.payload),
                    ),
                )  # fmt: skip
                fresh = cursor.rowcount == 1
                new.append(fresh)
                if fresh and traits and event.customer_id:
                    writes.append((event.customer_id, traits, "events", event.ts))
            if dropped:
                self._count_dropped(dropped)
            if writes:
                self._write_traits(writes, ts, ranks or {})
            if features is not None:
                fresh_events = [e for (e, _), f in zip(events, new, strict=True) if f]
                states = features(fresh_events)  # the new events' customers, as a rule
                unchecked = [c for c in states if c not in checked]
                gone = suppressed | (self._suppressed_ids(unchecked) if unchecked else set())
                if gone:
                    states = {c: s for c, s in states.items() if c not in gone}
                self._save_feature_states(states, ts)
            if suppressed:
                identities = [link for link in identities if link[2] not in suppressed]
            if identities:  # last: a merge takes the batch's events and windows with it
                self._link(identities, ts, rebuild)
        return new

    def identity_mark(self) -> IdentityMark:
        ((merges, links),) = self._read(
            "SELECT (SELECT coalesce(max(merge_id), 0) FROM merges), "
            "(SELECT coalesce(max(rowid), 0) FROM identities)"
        )
        return IdentityMark(int(merges), int(links))

    def _save_feature_states(self, states: Mapping[str, FeatureState], ts: float) -> None:
        self._exec(
            "INSERT INTO feature_state (customer_id, state, updated_ts) VALUES (:c, :s, :ts) "
            "ON CONFLICT(customer_id) DO UPDATE SET state = excluded.state, "
            "updated_ts = excluded.updated_ts",
            [{"c": c, "s": _dumps(s), "ts": ts} for c, s in states.items()],
        )

    def all_events(self) -> Iterator[EventRecord]:
        last = -1
        while True:  # pages by rowid (the order stored), so a large table streams
            rows = self._read(
                f"SELECT rowid, {_EVENT_COLUMNS} FROM events WHERE rowid > :r "
                "ORDER BY rowid LIMIT 5000",
                r=last,
            )
            if not rows:
                return
            for r in rows:
                yield _event_of(r[1:])
            last = rows[-1][0]

    def feature_states(self, customer_ids: Iterable[str]) -> dict[str, FeatureState]:
        rows = self._read_in(
            "SELECT customer_id, state FROM feature_state WHERE customer_id IN ({})", customer_ids
        )
        return {c: _loads(s) for c, s in rows}

    def replace_feature_states(self, states: Mapping[str, FeatureState], ts: float) -> None:
        with self._writing():
            self._raw.execute("DELETE FROM feature_state")
            if states:
                self._save_feature_states(states, ts)

    def customer_events(self, customer_id: str, limit: int) -> list[EventRecord]:
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE customer_id = :c ORDER BY ts DESC LIMIT :l",
            c=customer_id,
            l=limit,
        )
        return [_event_of(r) for r in rows]

    def add_key(self, key: ApiKey, digest: str) -> None:
        with self._writing():
            self._exec(
                "INSERT INTO api_keys (key_id, digest, name, role, created_ts, revoked_ts) "
                "VALUES (:k, :d, :n, :r, :c, :v)",
                {
                    "k": key.key_id,
                    "d": digest,
                    "n": key.name,
                    "r": key.role,
                    "c": key.created_ts,
                    "v": key.revoked_ts,
                },
            )

    def find_key(self, digest: str) -> ApiKey | None:
        rows = self._read(
            "SELECT key_id, name, role, created_ts, revoked_ts FROM api_keys WHERE digest = :d",
            d=digest,
        )
        return ApiKey(*rows[0]) if rows else None

    def revoke_key(self, key_id: str, ts: float) -> bool:
        with self._writing():
            cursor = self._raw.execute(
                "UPDATE api_keys SET revoked_ts = :t WHERE key_id = :k AND revoked_ts IS NULL",
                {"t": ts, "k": key_id},
            )
            return bool(cursor.rowcount > 0)

    def list_keys(self) -> list[ApiKey]:
        rows = self._read(
            "SELECT key_id, name, role, created_ts, revoked_ts FROM api_keys ORDER BY created_ts, key_id"
        )
        return [ApiKey(*r) for r in rows]

    def get_config_version(self, version_id: str) -> dict[str, str] | None:
        rows = self._read("SELECT files FROM config_versions WHERE version_id = :v", v=version_id)
        return _loads(rows[0][0]) if rows else None

    # --- quarantine ---------------------------------------------------------------------

    def quarantine(self, rows: Sequence[Quarantined]) -> None:
        if not rows:
            return
        with self._writing():
            self._exec(
                "INSERT INTO quarantine (ts, source, position, field, reason, record) "
                "VALUES (:ts, :s, :p, :f, :r, :rec)",
                [
                    {"ts": r.ts, "s": r.source, "p": r.position, "f": r.field, "r": r.reason,
                     "rec": _dumps(r.record)}
                    for r in rows
                ],
            )  # fmt: skip

    def quarantined(self, *, source: str | None = None, limit: int = 100) -> list[Quarantined]:
        where = "WHERE source = :s " if source is not None else ""
        rows = self._read(
            "SELECT ts, source, position, field, reason, record FROM quarantine "
            f"{where}ORDER BY id DESC LIMIT :l",
            s=source,
            l=limit,
        )
        return [Quarantined(r[0], r[1], r[2], r[3], r[4], _loads(r[5])) for r in rows]

    # --- identities ---------------------------------------------------------------------

    def link_identifiers(
        self,
        links: Sequence[tuple[str, str, str]],
        ts: float,
        rebuild: FeatureUpdate | None = None,
    ) -> list[tuple[str, str, str]]:
        if not links:
            return []
        with self._writing():
            suppressed = self._suppressed_ids(c for _, _, c in links)
            if suppressed:  # no identifier is linked to a suppressed subject
                links = [link for link in links if link[2] not in suppressed]
                if not links:
                    return []
            return self._link(links, ts, rebuild)

    def _link(
        self,
        links: Sequence[tuple[str, str, str]],
        ts: float,
        rebuild: FeatureUpdate | None = None,
    ) -> list[tuple[str, str, str]]:
        """`link_identifiers` inside the caller's transaction."""
        pairs = list(dict.fromkeys((n, v) for n, v, _ in links))
        owners = self._owners_of(pairs)
        # in order: new identifiers are taken, anonymous profiles give way (each such move
        # merges the profile), a known owner keeps its own
        moves = take_identifiers(owners, links)
        self._exec(
            "INSERT INTO identities (namespace, value, customer_id, ts) "
            "VALUES (:n, :v, :c, :ts) ON CONFLICT(namespace, value) DO UPDATE SET "
            "customer_id = excluded.customer_id, ts = excluded.ts "
            "WHERE identities.customer_id != excluded.customer_id",
            [{"n": n, "v": v, "c": owners[(n, v)], "ts": ts} for n, v in pairs],
        )
        for (src, dst), taken in moves.items():
            if self._unmerged(src, dst):  # undone once: the identifiers stay where they were
                self._exec(
                    "UPDATE identities SET customer_id = :c WHERE namespace = :n AND value = :v",
                    [{"c": src, "n": n, "v": v} for n, v in taken],
                )
                owners.update(dict.fromkeys(taken, src))
            else:
                self._merge(src, dst, ts, taken, rebuild)
        apart = list(
            dict.fromkeys(
                (n, v, c) for n, v, c in links if owners.get((n, v)) != c and not is_anonymous(c)
            )
        )
        if apart:
            self._exec(
                "INSERT INTO identity_claims (namespace, value, customer_id, ts) "
                "VALUES (:n, :v, :c, :ts) ON CONFLICT DO NOTHING",
                [{"n": n, "v": v, "c": c, "ts": ts} for n, v, c in apart],
            )
        return apart

    def _owners_of(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        owners: dict[tuple[str, str], str] = {}
        for start in range(0, len(pairs), 400):
            chunk = pairs[start : start + 400]
            marks = ", ".join(f"(:n{i}, :v{i})" for i in range(len(chunk)))
            params = {f"n{i}": n for i, (n, _) in enumerate(chunk)}
            params |= {f"v{i}": v for i, (_, v) in enumerate(chunk)}
            rows = self._read(
                "SELECT namespace, value, customer_id FROM identities "
                f"WHERE (namespace, value) IN (VALUES {marks})",
                **params,
            )
            owners.update({(n, v): c for n, v, c in rows})
        return owners

    def owners(self, namespace: str, values: Iterable[str]) -> dict[str, tuple[str, int]]:
        rows = self._read_in(
            "SELECT i.value, i.customer_id, (SELECT count(*) FROM identity_claims c "
            "WHERE c.namespace = i.namespace AND c.value = i.value) FROM identities i "
            "WHERE i.namespace = :namespace AND i.value IN ({})",
            values,
            namespace=namespace,
        )
        return {str(v): (str(c), int(n)) for v, c, n in rows}

    # --- merges ---------------------------------------------------------------------------

    #: the tables whose rows follow a profile through a merge, and their row keys
    _MERGED_ROWS = (
        ("decisions", "decision_id"),
        ("interactions", "id"),
        ("outbox", "outbox_id"),
    )

    def _unmerged(self, src: str, dst: str) -> bool:
        return bool(
            self._read(
                "SELECT 1 FROM merges WHERE from_id = :s AND into_id = :d AND status = 'unmerged'",
                s=src,
                d=dst,
            )
        )

    def _profile_row(self, customer_id: str) -> dict[str, Any] | None:
        rows = self._read(
            "SELECT traits, trait_sources, updated_ts FROM profiles WHERE customer_id = :c",
            c=customer_id,
        )
        if not rows:
            return None
        return {
            "traits": _loads(rows[0][0]),
            "sources": _loads(rows[0][1]),
            "updated_ts": rows[0][2],
        }

    def _put_profile_row(self, customer_id: str, row: Mapping[str, Any] | None) -> None:
        if row is None:
            self._exec("DELETE FROM profiles WHERE customer_id = :c", {"c": customer_id})
            return
        self._exec(
            "INSERT INTO profiles (customer_id, traits, trait_sources, updated_ts) "
            "VALUES (:c, :t, :m, :ts) ON CONFLICT(customer_id) DO UPDATE SET "
            "traits = excluded.traits, trait_sources = excluded.trait_sources, "
            "updated_ts = excluded.updated_ts",
            {"c": customer_id, "t": _dumps(row["traits"]), "m": _dumps(row["sources"]),
             "ts": row["updated_ts"]},
        )  # fmt: skip

    def _rebuild_features(
        self, customers: Sequence[str], rebuild: FeatureUpdate | None, ts: float
    ) -> None:
        """Recompute these customers' feature states from their events, in stored order
        (none without `rebuild`: no features configured), in the caller's transaction."""
        self._exec_in("DELETE FROM feature_state WHERE customer_id IN ({})", customers)
        if rebuild is None:
            return
        rows = self._read_in(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE customer_id IN ({{}}) ORDER BY rowid",
            customers,
        )
        self._save_feature_states(dict(rebuild([_event_of(r) for r in rows])), ts)

    def _merge(
        self,
        src: str,
        dst: str,
        ts: float,
        taken: Sequence[tuple[str, str]],
        rebuild: FeatureUpdate | None,
    ) -> None:
        """Merge anonymous profile `src` into `dst`, whose link just took `taken` of its
        identifiers, journaled (in the caller's transaction); see MergeStore."""
        journal: dict[str, Any] = {
            "from_profile": self._profile_row(src),
            "into_profile": self._profile_row(dst),
            "events": [
                r[0]
                for r in self._read(
                    "SELECT message_id FROM events WHERE customer_id = :c ORDER BY rowid", c=src
                )
            ],
            "identifiers": [list(p) for p in taken]
            + [
                list(r)
                for r in self._read(
                    "SELECT namespace, value FROM identities WHERE customer_id = :c", c=src
                )
            ],
        }
        for table, key in self._MERGED_ROWS:
            journal[table] = [
                r[0] for r in self._read(f"SELECT {key} FROM {table} WHERE customer_id = :c", c=src)
            ]
        if journal["from_profile"] is None and not any(journal[k] for k in MOVED):
            return  # nothing left of it (merged earlier in the same batch)
        merged = merged_profile(journal["into_profile"], journal["from_profile"], ts)
        journal["merged_traits"] = merged["traits"]
        if journal["from_profile"] or journal["into_profile"]:
            self._put_profile_row(dst, merged)
        for table in ("events", "identities", *(t for t, _ in self._MERGED_ROWS)):
            self._exec(
                f"UPDATE {table} SET customer_id = :d WHERE customer_id = :s", {"d": dst, "s": src}
            )
        self._rebuild_features((src, dst), rebuild, ts)
        self._put_profile_row(src, None)
        self._exec(
            "INSERT INTO merges (ts, from_id, into_id, status, journal) "
            "VALUES (:ts, :s, :d, 'merged', :j)",
            {"ts": ts, "s": src, "d": dst, "j": _dumps(journal)},
        )

    def merges(self, customer_id: str) -> list[Merge]:
        rows = self._read(
            f"SELECT {self._MERGE_COLUMNS} FROM merges WHERE from_id = :c OR into_id = :c "
            "ORDER BY merge_id",
            c=customer_id,
        )
        return [_merge_of(r) for r in rows]

    _MERGE_COLUMNS = "merge_id, ts, from_id, into_id, status, unmerged_ts, journal"

    def get_merge(self, merge_id: int) -> Merge | None:
        rows = self._read(
            f"SELECT {self._MERGE_COLUMNS} FROM merges WHERE merge_id = :m", m=merge_id
        )
        return _merge_of(rows[0]) if rows else None

    def unmerge(self, merge_id: int, ts: float, rebuild: FeatureUpdate | None) -> Merge | None:
        with self._writing():
            rows = self._read(
                f"SELECT {self._MERGE_COLUMNS} FROM merges WHERE merge_id = :m", m=merge_id
            )
            if not rows or rows[0][4] != "merged":
                return _merge_of(rows[0]) if rows else None
            src, dst, journal = rows[0][2], rows[0][3], _loads(rows[0][6])
            self._put_profile_row(dst, unmerged_traits(journal, self._profile_row(dst)))
            if journal["from_profile"] is not None:
                self._put_profile_row(src, restored_visitor(self._profile_row(src), journal))
            anonymous_ids = [v for n, v in journal["identifiers"] if n == "anonymous_id"]
            self._exec_in(
                "UPDATE events SET customer_id = :s WHERE customer_id = :d AND message_id IN ({})",
                journal["events"],
                s=src,
                d=dst,
            )
            self._exec_in(
                "UPDATE events SET customer_id = :s WHERE customer_id = :d AND received_ts >= :ts "
                "AND json_extract(payload, '$.userId') IS NULL AND anonymous_id IN ({})",
                anonymous_ids,
                s=src,
                d=dst,
                ts=rows[0][1],
            )
            for table, key in self._MERGED_ROWS:
                self._exec_in(
                    f"UPDATE {table} SET customer_id = :s WHERE customer_id = :d AND {key} IN ({{}})",
                    journal[table],
                    s=src,
                    d=dst,
                )
            self._exec(
                "UPDATE identities SET customer_id = :s "
                "WHERE customer_id = :d AND namespace = :n AND value = :v",
                [{"s": src, "d": dst, "n": n, "v": v} for n, v in journal["identifiers"]],
            )
            self._rebuild_features((src, dst), rebuild, ts)
            self._exec(
                "UPDATE merges SET status = 'unmerged', unmerged_ts = :ts WHERE merge_id = :m",
                {"ts": ts, "m": merge_id},
            )
            return self.get_merge(merge_id)

    def owner(self, namespace: str, value: str) -> str | None:
        rows = self._read(
            "SELECT customer_id FROM identities WHERE namespace = :n AND value = :v",
            n=namespace,
            v=value,
        )
        return str(rows[0][0]) if rows else None

    def identifiers_of(self, customer_id: str) -> list[tuple[str, str]]:
        rows = self._read(
            "SELECT namespace, value FROM identities WHERE customer_id = :c "
            "ORDER BY namespace, value",
            c=customer_id,
        )
        return [(str(n), str(v)) for n, v in rows]

    def claimants(self, namespace: str, value: str) -> list[str]:
        rows = self._read(
            "SELECT customer_id FROM identity_claims WHERE namespace = :n AND value = :v "
            "ORDER BY customer_id",
            n=namespace,
            v=value,
        )
        return [str(r[0]) for r in rows]

    # --- outbox ---------------------------------------------------------------------------

    _OUTBOX_COLUMNS = (
        "outbox_id, customer_id, trigger_id, event_id, status, channel, due_ts, created_ts, "
        "decision_id, action_id, content"
    )

    def put_outbox(self, rows: Sequence[OutboxRow]) -> None:
        if not rows:
            return
        with self._writing():
            self._exec(
                f"INSERT OR REPLACE INTO outbox ({self._OUTBOX_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tuple(r) for r in rows],
            )

    def outbox(self, *, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
        where = "WHERE status = :s " if status is not None else ""
        rows = self._read(
            f"SELECT {self._OUTBOX_COLUMNS} FROM outbox {where}ORDER BY created_ts DESC LIMIT :l",
            s=status,
            l=limit,
        )
        return [OutboxRow(*r) for r in rows]

    def lease_due(self, now: float, until: float, limit: int) -> list[OutboxRow]:
        due = (
            f"SELECT {self._OUTBOX_COLUMNS} FROM outbox WHERE status = 'waiting' AND due_ts <= :n "
            "ORDER BY due_ts LIMIT :l"
        )
        if not self._read(due, n=now, l=1):  # nothing due (most rounds): no write lock
            return []
        with self._writing():  # read again inside: another process may have leased them
            rows = [OutboxRow(*r) for r in self._read(due, n=now, l=limit)]
            self._exec(
                "UPDATE outbox SET due_ts = ? WHERE outbox_id = ?",
                [(until, r.outbox_id) for r in rows],
            )
        return rows

    def last_fired(self, trigger_id: str, customer_id: str) -> float | None:
        rows = self._read(_LAST_FIRED, c=customer_id, t=trigger_id)
        return None if rows[0][0] is None else float(rows[0][0])

    def claim_firing(self, row: OutboxRow, cooldown: float) -> bool:
        with self._writing():
            (last,) = self._read(_LAST_FIRED, c=row.customer_id, t=row.trigger_id)[0]
            if last is not None and row.created_ts - float(last) < cooldown:
                return False
            self._exec(
                f"INSERT INTO outbox ({self._OUTBOX_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [tuple(row)],
            )
            return True

    # --- data-subject rights ------------------------------------------------------------

    def subject_data(self, customer_id: str) -> dict[str, Any]:
        def rows(sql: str) -> list[dict[str, Any]]:
            with self._use:
                cursor = self._raw.execute(sql, {"c": customer_id})
                try:
                    names = [d[0] for d in cursor.description]
                    return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
                finally:
                    cursor.close()

        events = rows("SELECT * FROM events WHERE customer_id = :c ORDER BY rowid")
        for e in events:
            e["payload"] = _loads(e["payload"])
        decisions = rows("SELECT * FROM decisions WHERE customer_id = :c ORDER BY ts")
        for d in decisions:
            d["document"] = _loads(d["document"])
        features = self.feature_states([customer_id]).get(customer_id, {})
        return {
            "profile": self.get_profile(customer_id),
            "trait_sources": self.trait_sources(customer_id),
            "consents": [r._asdict() for r in self.consent_ledger(customer_id)],
            "permissions": [r._asdict() for r in self.permission_ledger(customer_id)],
            "events": events,
            "decisions": decisions,
            "history": rows("SELECT * FROM interactions WHERE customer_id = :c ORDER BY id"),
            "features": features,
            "outbox": rows("SELECT * FROM outbox WHERE customer_id = :c ORDER BY created_ts"),
            "identifiers": [list(k) for k in self.identifiers_of(customer_id)],
            "merges": [m._asdict() for m in self.merges(customer_id)],
        }

    def erase_subject(self, customer_id: str) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys((t for t, _ in _ERASED_ROWS), 0)
        with self._writing():
            merged_away = [
                r[0]
                for r in self._raw.execute(
                    "SELECT DISTINCT from_id FROM merges WHERE into_id = :c AND status = 'merged'",
                    {"c": customer_id},
                )
            ]
            for subject in (customer_id, *merged_away):
                for table, where in _ERASED_ROWS:
                    if table == "merges" and subject != customer_id:
                        continue  # its merge into the customer went with the customer's
                    cursor = self._raw.execute(f"DELETE FROM {table} WHERE {where}", {"c": subject})
                    counts[table] += cursor.rowcount
        # secure_delete zeroed the rows in the pages the WAL now holds; copying them back
        # and truncating the WAL leaves the old contents nowhere. A checkpoint the
        # checkpointer thread or a reader holds up answers busy: try again, a while
        for _ in range(ERASE_CHECKPOINT_TRIES):
            with self._use:
                busy, _, _ = self._raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                break
            time.sleep(0.01)
        else:
            raise StoreError("the erased rows could not be checkpointed out of the WAL")
        return counts

    def set_suppressed(self, digests: Sequence[str], regulation_id: str, ts: float) -> None:
        with self._writing():
            self._exec(
                "INSERT INTO suppressions (digest, regulation_id, ts) VALUES (:d, :r, :ts) "
                "ON CONFLICT(digest) DO NOTHING",
                [{"d": d, "r": regulation_id, "ts": ts} for d in digests],
            )

    def unsuppress(self, digests: Sequence[str]) -> int:
        lifted = 0
        with self._writing():
            for d in digests:
                row = self._read("SELECT dropped FROM suppressions WHERE digest = :d", d=d)
                if row:
                    self._raw.execute(
                        "UPDATE suppressions_dropped SET n = n + :n WHERE id = 1", {"n": row[0][0]}
                    )
                    self._raw.execute("DELETE FROM suppressions WHERE digest = :d", {"d": d})
                    lifted += 1
        return lifted

    def suppressed(self, digests: Iterable[str]) -> set[str]:
        wanted = list(digests)
        if not wanted or not self._read("SELECT 1 FROM suppressions LIMIT 1"):
            return set()  # the usual case: nobody is suppressed
        rows = self._read_in("SELECT digest FROM suppressions WHERE digest IN ({})", wanted)
        return {r[0] for r in rows}

    def count_dropped(self, digest: str, n: int) -> None:
        with self._writing():
            self._raw.execute(
                "UPDATE suppressions SET dropped = dropped + :n WHERE digest = :d",
                {"n": n, "d": digest},
            )

    def dropped(self) -> int:
        now = self._read("SELECT COALESCE(sum(dropped), 0) FROM suppressions")[0][0]
        before = self._read("SELECT n FROM suppressions_dropped WHERE id = 1")[0][0]
        return int(now) + int(before)

    #: store → (delete statement) for `purge`; `:t` is the cutoff
    _PURGE: ClassVar[dict[str, tuple[str, ...]]] = {
        "events": ("DELETE FROM events WHERE ts < :t",),
        "decisions": (
            "DELETE FROM decision_actions WHERE decision_id IN "
            "(SELECT decision_id FROM decisions WHERE ts < :t)",
            "DELETE FROM decisions WHERE ts < :t",
        ),
        "interactions": ("DELETE FROM interactions WHERE ts < :t",),
        "outbox": ("DELETE FROM outbox WHERE created_ts < :t",),
        "quarantine": ("DELETE FROM quarantine WHERE ts < :t",),
        "merges": (
            "UPDATE merges SET journal = '{}' WHERE status = 'unmerged' AND ts < :t",
            "DELETE FROM merges WHERE status = 'merged' AND ts < :t",
        ),
    }

    def purge(self, before: Mapping[str, float]) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._writing():
            for store, cutoff in before.items():
                for sql in self._PURGE[store]:  # the last statement's rows are the store's
                    counts[store] = self._raw.execute(sql, {"t": cutoff}).rowcount
        return counts

    def expire_traits(self, before: Mapping[str, float]) -> int:
        gone = 0
        with self._writing():
            for name, cut in before.items():
                path = '$."' + name.replace('"', "") + '"'
                cursor = self._raw.execute(
                    "UPDATE profiles SET traits = json_remove(traits, :p), "
                    "trait_sources = json_remove(trait_sources, :p) "
                    "WHERE json_type(traits, :p) IS NOT NULL "
                    "AND coalesce(json_extract(trait_sources, :p || '[1]'), updated_ts) < :cut",
                    {"p": path, "cut": cut},
                )
                gone += cursor.rowcount
        return gone

    def inactive_profiles(self, before: float, limit: int) -> list[str]:
        rows = self._read(
            "SELECT customer_id FROM profiles WHERE updated_ts < :b ORDER BY customer_id LIMIT :l",
            b=before,
            l=limit,
        )
        return [str(r[0]) for r in rows]

    def save_regulation(self, regulation: Regulation) -> None:
        with self._writing():
            self._raw.execute(
                "INSERT INTO regulations (regulation_id, type, subjects, status, created_ts, "
                "updated_ts, detail) VALUES (:id, :t, :n, :s, :c, :u, :d) "
                "ON CONFLICT(regulation_id) DO UPDATE SET status = excluded.status, "
                "updated_ts = excluded.updated_ts, detail = excluded.detail",
                {
                    "id": regulation.regulation_id, "t": regulation.type,
                    "n": regulation.subjects, "s": regulation.status,
                    "c": regulation.created_ts, "u": regulation.updated_ts,
                    "d": _dumps(regulation.detail),
                },
            )  # fmt: skip

    def get_regulation(self, regulation_id: str) -> Regulation | None:
        rows = self._read(
            "SELECT regulation_id, type, subjects, status, created_ts, updated_ts, detail "
            "FROM regulations WHERE regulation_id = :r",
            r=regulation_id,
        )
        if not rows:
            return None
        r = rows[0]
        return Regulation(r[0], r[1], r[2], r[3], r[4], r[5], _loads(r[6]))
