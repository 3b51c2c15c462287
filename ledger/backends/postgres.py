"""PostgreSQL backend: an ``eventsourcing`` Postgres process recorder with the ledger's table.

Writes lock the table ``IN EXCLUSIVE MODE`` for the transaction (readers are not blocked) so
offsets are assigned and committed in one order: a reader following offsets never skips an
event. The library's database functions are never used — in 9.5.6 its insert function skips
that lock. Rows go in by binary ``COPY`` inside that locked transaction. A prune deletes the
oldest rows under the same lock, recording its mark and the versions of the streams it empties.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.backends.base import (
    GENESIS,
    BackendStats,
    Checkpoint,
    DuplicateKeyError,
    Existing,
    LedgerBackend,
    PruneMark,
    PruneResult,
    ReadQuery,
    RunnerLock,
    SavedView,
    ScanRow,
    StoredRow,
    StreamRow,
    Tail,
    WriteTransaction,
    plan_prune,
    where_clause,
)
from ledger.errors import BackendUnavailableError, ViewConflictError

TABLE = "ledger_events"
_COLUMNS = (
    "notification_id, originator_id, originator_version, topic, event_id, agent, "
    "occurred_at, recorded_at, state, chain"
)


_TAIL_SQL = "SELECT notification_id, chain, recorded_at FROM {t} ORDER BY notification_id DESC LIMIT 1"
_COPY_TYPES = ("int8", "text", "int8", "text", "uuid", "text", "timestamptz", "timestamptz", "bytea", "bytea")


def _utc(value: datetime) -> datetime:
    # timestamptz comes back in the session's time zone; the ledger speaks UTC only.
    return value.astimezone(UTC)


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], _utc(r[6]), _utc(r[7]), bytes(r[8]), bytes(r[9]))


class _Datastore(PostgresDatastore):
    """The library's datastore without composite-type adapters.

    The library's insert function and its composite type are never created here (the ledger
    inserts through ``unnest`` of plain arrays), so there is nothing to look up — and looking up
    an absent type in a schema whose name needs quoting fails.
    """

    def register_type_adapters(self) -> None:
        """Nothing to register."""


class PostgresLedgerRecorder(LedgerBackend, PostgresProcessRecorder):
    """The ledger table on PostgreSQL, plus the library's tracking table for projections."""

    def __init__(self, datastore: PostgresDatastore, url: str, connect_kwargs: dict[str, Any]) -> None:
        self.url = url
        self._connect_kwargs = connect_kwargs
        super().__init__(datastore, events_table_name=TABLE)
        schema = Identifier(self.datastore.schema)
        self._t = SQL("{0}.{1}").format(schema, Identifier(TABLE))
        self._head_t = SQL("{0}.ledger_head").format(schema)
        self._cp_t = SQL("{0}.ledger_checkpoints").format(schema)
        self._views_t = SQL("{0}.ledger_views").format(schema)
        self._prunes_t = SQL("{0}.ledger_prunes").format(schema)
        self._pruned_streams_t = SQL("{0}.ledger_pruned_streams").format(schema)
        # Keep only the library's tracking table; the events table, its composite type and
        # insert function are replaced by the ledger's own table below.
        tracking = [s for s in self.sql_create_statements if self.tracking_table_name in s.as_string()]
        t = self._t
        self.sql_create_statements = [
            SQL(
                "CREATE TABLE IF NOT EXISTS {t} ("
                "notification_id bigint PRIMARY KEY, "
                "originator_id text NOT NULL, "
                "originator_version bigint NOT NULL, "
                "topic text NOT NULL, "
                "event_id uuid NOT NULL, "
                "agent text, "
                "occurred_at timestamptz NOT NULL, "
                "recorded_at timestamptz NOT NULL, "
                "state bytea NOT NULL, "
                "chain bytea NOT NULL, "
                "UNIQUE (originator_id, originator_version))"
            ).format(t=t),
            SQL("CREATE UNIQUE INDEX IF NOT EXISTS ledger_events_event_id ON {t} (event_id)").format(t=t),
            SQL("CREATE INDEX IF NOT EXISTS ledger_events_topic ON {t} (topic, notification_id)").format(t=t),
            SQL("CREATE INDEX IF NOT EXISTS ledger_events_agent ON {t} (agent, notification_id)").format(t=t),
            SQL("CREATE INDEX IF NOT EXISTS ledger_events_occurred ON {t} (occurred_at)").format(t=t),
            SQL("CREATE INDEX IF NOT EXISTS ledger_events_recorded ON {t} (recorded_at)").format(t=t),
            SQL(
                "CREATE TABLE IF NOT EXISTS {h} (id int PRIMARY KEY CHECK (id = 1), "
                "last_offset bigint NOT NULL, chain bytea NOT NULL, "
                "recorded_at timestamptz NOT NULL)"
            ).format(h=self._head_t),
            SQL(
                'CREATE TABLE IF NOT EXISTS {c} ("offset" bigint PRIMARY KEY, '
                "chain bytea NOT NULL, recorded_at timestamptz NOT NULL)"
            ).format(c=self._cp_t),
            SQL(
                "CREATE TABLE IF NOT EXISTS {v} (name text PRIMARY KEY, position bigint NOT NULL, "
                "state bytea NOT NULL, digest text NOT NULL, updated_at timestamptz NOT NULL)"
            ).format(v=self._views_t),
            SQL(
                'CREATE TABLE IF NOT EXISTS {p} ("offset" bigint PRIMARY KEY, chain bytea NOT NULL, '
                "recorded_at timestamptz NOT NULL, events bigint NOT NULL)"
            ).format(p=self._prunes_t),
            # A stream's version outlives its pruned rows, so a stream never restarts at 1.
            SQL("CREATE TABLE IF NOT EXISTS {p} (stream text PRIMARY KEY, version bigint NOT NULL)").format(
                p=self._pruned_streams_t
            ),
            *tracking,
        ]
        self._copy = SQL("COPY {t} (" + _COLUMNS + ") FROM STDIN (FORMAT BINARY)").format(t=t)

    def create_table(self) -> None:
        """Create the schema and tables, serialised across processes by an advisory lock.

        ``CREATE … IF NOT EXISTS`` races in PostgreSQL (two creators collide on the catalogue),
        and the library's tracking set-up reads then writes a migration row.
        """
        with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
            key = f"rledger:create:{self.datastore.schema}"
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
            try:
                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.datastore.schema)))
                super().create_table()
                # Saved projection states are megabytes of numpy arrays that barely compress:
                # TOAST's default pglz pass made saving them several times slower, and a
                # follower saves after every batch (its lag: bench/results/follow.json). Store them
                # out of line, uncompressed (checked first: ALTER takes a table lock).
                storage = conn.execute(
                    "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'state'",
                    [self._views_t.as_string(conn)],
                ).fetchone()
                if storage is not None and storage[0] != "e":
                    conn.execute(
                        SQL("ALTER TABLE {v} ALTER COLUMN state SET STORAGE EXTERNAL").format(v=self._views_t)
                    )
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [key])

    # -- ledger primitives -----------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield an exclusive transaction (table lock); commit on success, else roll back."""
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor(row_factory=tuple_row)
            # One round trip for the lock, the wake-up and the tail, read under the lock (no
            # parameters, so a multi-statement string is allowed): one round trip fewer in every
            # transaction, which single-event appends feel most.
            cur.execute(
                SQL("LOCK TABLE {t} IN EXCLUSIVE MODE; NOTIFY {c}; " + _TAIL_SQL).format(
                    t=self._t, c=Identifier(self.channel_name)
                )
            )
            cur.nextset()  # past LOCK's result
            cur.nextset()  # past NOTIFY's
            yield _PostgresWrite(self, cur, last=(cur.fetchone(),))

    def _fetch(self, sql: Composed | SQL, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn:
            cur = conn.cursor(row_factory=tuple_row, binary=True)
            cur.execute(sql, params)
            return cur.fetchall()

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        where, params = where_clause(query, "%s", lambda d: d)
        params.append(limit)
        sql = SQL("SELECT " + _COLUMNS + " FROM {t} WHERE " + where + " ORDER BY notification_id LIMIT %s")
        return [_row(r) for r in self._fetch(sql.format(t=self._t), params)]

    def scan(self, after: int, stop: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order; the time is converted to µs by the server.

        Offsets are gapless, so a page is the key range ``(after, after + limit]``: a tight
        range the planner always serves from the primary key. (An open range with LIMIT was
        planned, on a freshly filled table without statistics, as a bitmap scan plus a sort of
        everything after ``after`` — once per page.) A short page past a gap (pruned offsets)
        falls back to the open query.
        """
        sql = SQL(
            "SELECT notification_id, topic, "
            "(extract(epoch FROM occurred_at) * 1000000)::bigint, state FROM {t} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(t=self._t)
        upper = stop if stop is not None else 2**62
        rows = self._fetch(sql, [after, min(upper, after + limit), limit])
        if len(rows) < limit and after + limit < upper:
            last = rows[-1][0] if rows else after
            rows += self._fetch(sql, [last, upper, limit - len(rows)])
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def read_stream(self, stream: str) -> list[StreamRow]:
        """Return one stream's rows in version order: the (stream, version) index serves it
        in order whatever the planner's statistics say."""
        rows = self._fetch(
            SQL(
                "SELECT notification_id, originator_version, "
                "(extract(epoch FROM recorded_at) * 1000000)::bigint, state FROM {t} "
                "WHERE originator_id = %s ORDER BY originator_version"
            ).format(t=self._t),
            [stream],
        )
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def max_offset(self) -> int:
        """Return the highest offset written (still the head's after everything was pruned)."""
        rows = self._fetch(
            SQL(
                "SELECT COALESCE((SELECT MAX(notification_id) FROM {t}), (SELECT last_offset FROM {h}), 0)"
            ).format(t=self._t, h=self._head_t)
        )
        return int(rows[0][0])

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``."""
        rows = self._fetch(
            SQL("SELECT MIN(notification_id) FROM {t} WHERE recorded_at >= %s").format(t=self._t),
            [when],
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        rows = self._fetch(
            SQL(
                "SELECT COALESCE((SELECT MAX(originator_version) FROM {t} WHERE originator_id = %s), "
                "(SELECT version FROM {p} WHERE stream = %s), 0)"
            ).format(t=self._t, p=self._pruned_streams_t),
            [stream, stream],
        )
        return int(rows[0][0])

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        rows = self._fetch(SQL("SELECT last_offset, chain, recorded_at FROM {h}").format(h=self._head_t))
        return None if not rows else Tail(rows[0][0], bytes(rows[0][1]), _utc(rows[0][2]))

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        rows = self._fetch(
            SQL('SELECT "offset", chain, recorded_at FROM {c} ORDER BY "offset"').format(c=self._cp_t)
        )
        return [Checkpoint(r[0], bytes(r[1]), _utc(r[2])) for r in rows]

    def stats(self) -> BackendStats:
        """Return whole-ledger counts."""
        by_type = self._fetch(SQL("SELECT topic, COUNT(*) FROM {t} GROUP BY topic").format(t=self._t))
        ((count, streams, first, last),) = self._fetch(
            SQL(
                "SELECT COUNT(*), COUNT(DISTINCT originator_id), MIN(recorded_at), MAX(recorded_at) FROM {t}"
            ).format(t=self._t)
        )
        size = self._fetch(
            SQL("SELECT pg_total_relation_size(format('%%I.%%I', %s::text, %s::text)::regclass)"),
            [self.datastore.schema, TABLE],
        )
        return BackendStats(
            events=count,
            streams=streams,
            first_recorded_at=None if first is None else _utc(first),
            last_recorded_at=None if last is None else _utc(last),
            by_type={r[0]: r[1] for r in by_type},
            size_bytes=int(size[0][0]),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.datastore.close()

    # -- projection views ------------------------------------------------------------------

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state."""
        rows = self._fetch(
            SQL("SELECT name, position, state, digest, updated_at FROM {v} WHERE name = %s").format(
                v=self._views_t
            ),
            [name],
        )
        if not rows:
            return None
        r = rows[0]
        return SavedView(r[0], r[1], bytes(r[2]), r[3], _utc(r[4]))

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position atomically; the tracking table refuses regressions."""
        tracking_t = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
        )
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor()
            if reset:
                cur.execute(
                    SQL("DELETE FROM {t} WHERE application_name = %s").format(t=tracking_t),
                    [view.name],
                )
            try:
                self._insert_tracking(cur, Tracking(view.name, view.position))
            except IntegrityError as exc:
                raise ViewConflictError(view.name, view.position, str(exc)) from exc
            cur.execute(
                SQL(
                    "INSERT INTO {v} (name, position, state, digest, updated_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "position = EXCLUDED.position, state = EXCLUDED.state, "
                    "digest = EXCLUDED.digest, updated_at = EXCLUDED.updated_at"
                ).format(v=self._views_t),
                [view.name, view.position, view.state, view.digest, view.updated_at],
            )

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        tracking_t = SQL("{0}.{1}").format(
            Identifier(self.datastore.schema), Identifier(self.tracking_table_name)
        )
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor()
            cur.execute(SQL("DELETE FROM {t} WHERE application_name = %s").format(t=tracking_t), [name])
            cur.execute(SQL("DELETE FROM {v} WHERE name = %s").format(v=self._views_t), [name])

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Delete the rows recorded before ``before`` in one transaction holding the table lock."""
        with self.write() as tx:
            assert isinstance(tx, _PostgresWrite)
            cur = tx.cur
            cur.execute(SQL('SELECT COALESCE(MAX("offset"), 0) FROM {p}').format(p=self._prunes_t))
            floor = int(_one(cur))
            cur.execute(
                SQL("SELECT MAX(notification_id) FROM {t} WHERE recorded_at < %s").format(t=self._t),
                [before],
            )
            wanted = max(int(_one(cur) or 0), floor)
            cur.execute(SQL("SELECT name, position FROM {v}").format(v=self._views_t))
            positions = {r[0]: int(r[1]) for r in cur.fetchall()}
            through, held_back = plan_prune(wanted, floor, positions, force=force)
            if through <= floor:
                return PruneResult(0, floor, wanted, held_back)
            cur.execute(SQL("SELECT chain FROM {t} WHERE notification_id = %s").format(t=self._t), [through])
            found = cur.fetchone()
            if found is None:
                raise ValueError(f"cannot prune through offset {through}: its row is missing (run verify)")
            cur.execute(
                SQL(
                    "INSERT INTO {p} (stream, version) "
                    "SELECT originator_id, MAX(originator_version) FROM {t} WHERE notification_id <= %s "
                    "GROUP BY originator_id ON CONFLICT (stream) DO UPDATE SET "
                    "version = GREATEST({p}.version, EXCLUDED.version)"
                ).format(p=self._pruned_streams_t, t=self._t),
                [through],
            )
            cur.execute(SQL("DELETE FROM {t} WHERE notification_id <= %s").format(t=self._t), [through])
            events = cur.rowcount
            cur.execute(
                SQL('INSERT INTO {p} ("offset", chain, recorded_at, events) VALUES (%s, %s, %s, %s)').format(
                    p=self._prunes_t
                ),
                [through, bytes(found[0]), pruned_at, events],
            )
            return PruneResult(events, through, wanted, held_back)

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        rows = self._fetch(
            SQL('SELECT "offset", chain, recorded_at, events FROM {p} ORDER BY "offset"').format(
                p=self._prunes_t
            )
        )
        return [PruneMark(r[0], bytes(r[1]), _utc(r[2]), r[3]) for r in rows]

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take a session advisory lock on a dedicated connection (released if it dies)."""
        conn = psycopg.connect(**self._connect_kwargs, autocommit=True)
        key = f"rledger:{self.datastore.schema}:{name}"
        row = conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [key]).fetchone()
        if not row or not row[0]:
            conn.close()
            return None
        return _AdvisoryLock(conn)

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists, woken by the writers' NOTIFY."""
        if self.max_offset() > after:
            return True
        with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.channel_name)))
            # Re-check after LISTEN: an append that committed in between sent no notice to us.
            if self.max_offset() > after:
                return True
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                break
        return self.max_offset() > after


def _one(cur: psycopg.Cursor[tuple[Any, ...]]) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row[0]


class _AdvisoryLock(RunnerLock):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn: psycopg.Connection[Any] | None = conn

    def release(self) -> None:
        if self._conn is not None:
            # Closing the session releases its advisory locks.
            self._conn.close()
            self._conn = None


class _PostgresWrite(WriteTransaction):
    def __init__(
        self,
        recorder: PostgresLedgerRecorder,
        cur: psycopg.Cursor[tuple[Any, ...]],
        *,
        last: tuple[tuple[Any, ...] | None] | None = None,
    ) -> None:
        self.r = recorder
        self.cur = cur
        self._last = last
        """The last row (in a 1-tuple; ``(None,)`` if the table is empty) as read when the lock
        was taken; ``None`` once used or if not read."""

    def existing(self, event_ids: list[UUID]) -> dict[UUID, Existing]:
        self.cur.execute(
            SQL("SELECT event_id, notification_id, state FROM {t} WHERE event_id = ANY(%s)").format(
                t=self.r._t
            ),
            [event_ids],
        )
        return {row[0]: Existing(row[1], bytes(row[2])) for row in self.cur.fetchall()}

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        # One index lookup per stream; a GROUP BY would walk every row of each stream. The
        # pruned-streams lookup runs only for a stream without rows (COALESCE is lazy).
        self.cur.execute(
            SQL(
                "SELECT s, COALESCE((SELECT MAX(originator_version) FROM {t} WHERE originator_id = s), "
                "(SELECT version FROM {p} WHERE stream = s)) FROM unnest(%s::text[]) AS s"
            ).format(t=self.r._t, p=self.r._pruned_streams_t),
            [streams],
        )
        return {row[0]: row[1] for row in self.cur.fetchall() if row[1] is not None}

    def tail(self) -> Tail:
        if self._last is not None:
            (row,) = self._last
            self._last = None  # good only before this transaction writes
        else:
            self.cur.execute(SQL(_TAIL_SQL).format(t=self.r._t))
            row = self.cur.fetchone()
        if row is None:
            # Everything may have been pruned: the chain continues from the head.
            self.cur.execute(SQL("SELECT last_offset, chain, recorded_at FROM {h}").format(h=self.r._head_t))
            row = self.cur.fetchone()
            if row is None:
                return Tail(0, GENESIS, None)
        return Tail(row[0], bytes(row[1]), _utc(row[2]))

    def insert(self, rows: list[StoredRow]) -> None:
        # Binary COPY inside the locked transaction: the fastest way in, and the table lock
        # still orders offsets by commit.
        try:
            with self.cur.copy(self.r._copy) as copy:
                copy.set_types(_COPY_TYPES)
                write = copy.write_row
                for r in rows:
                    write(
                        (
                            r.offset,
                            r.stream,
                            r.version,
                            r.topic,
                            r.event_id,
                            r.agent,
                            r.occurred_at,
                            r.recorded_at,
                            r.state,
                            r.chain,
                        )
                    )
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKeyError(str(exc).splitlines()[0]) from exc

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        self.cur.execute(
            SQL(
                "INSERT INTO {h} (id, last_offset, chain, recorded_at) VALUES (1, %s, %s, %s) "
                "ON CONFLICT (id) DO UPDATE SET last_offset = EXCLUDED.last_offset, "
                "chain = EXCLUDED.chain, recorded_at = EXCLUDED.recorded_at"
            ).format(h=self.r._head_t),
            [tail.offset, tail.chain, tail.recorded_at],
        )
        if checkpoints:
            self.cur.executemany(
                SQL('INSERT INTO {c} ("offset", chain, recorded_at) VALUES (%s, %s, %s)').format(
                    c=self.r._cp_t
                ),
                [(cp.offset, cp.chain, cp.recorded_at) for cp in checkpoints],
            )


def open_postgres(
    *,
    dbname: str,
    host: str,
    port: int,
    user: str,
    password: str,
    url: str,
    schema: str = "",
    pool_size: int = 2,
    max_overflow: int = 8,
) -> PostgresLedgerRecorder:
    """Connect to PostgreSQL and open (creating if needed) the ledger's tables."""
    try:
        # Fail fast with a clear message rather than a pool time-out later.
        psycopg.connect(
            dbname=dbname, host=host, port=port, user=user, password=password, connect_timeout=5
        ).close()
    except psycopg.Error as exc:
        raise BackendUnavailableError(url, str(exc).strip().splitlines()[0]) from exc
    datastore = _Datastore(
        dbname=dbname,
        host=host,
        port=port,
        user=user,
        password=password,
        pool_size=pool_size,
        max_overflow=max_overflow,
        schema=schema,
        originator_id_type="text",
        enable_db_functions=False,
    )
    connect_kwargs: dict[str, Any] = {
        "dbname": dbname,
        "host": host,
        "port": port,
        "user": user,
        "password": password,
        "connect_timeout": 5,
    }
    recorder = PostgresLedgerRecorder(datastore, url, connect_kwargs)
    recorder.create_table()
    return recorder
