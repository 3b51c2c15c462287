"""PostgreSQL backend: the ledger's own tables in one schema, serialised by a table lock.

Writes lock the table ``IN EXCLUSIVE MODE`` for the transaction (readers are not blocked) so
offsets are assigned and committed in one order: a reader following offsets never skips an
event. Rows go in by binary ``COPY`` inside that locked transaction
(:mod:`~ledger.backends.postgres.writes`). A prune deletes the oldest rows under the same lock,
recording its mark and the versions of the streams it empties. Tables and their DDL are in
:mod:`~ledger.backends.postgres.layout`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier

from ledger.backends.base import LedgerBackend, RunnerLock, WriteTransaction
from ledger.backends.postgres.layout import CHANNEL, COLUMNS, TABLE, TAIL_SQL, Tables
from ledger.backends.postgres.writes import PostgresWrite, utc
from ledger.backends.pruning import PruneMark, PruneResult, plan_prune
from ledger.backends.rows import (
    BackendStats,
    Checkpoint,
    ReadQuery,
    SavedView,
    ScanRow,
    StoredRow,
    StreamRow,
    Tail,
)
from ledger.backends.sql import where_clause
from ledger.errors import ViewConflictError

_utc = utc


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], _utc(r[6]), _utc(r[7]), bytes(r[8]), bytes(r[9]))


class LedgerDatastore(PostgresDatastore):
    """The library's datastore without composite-type adapters.

    The library's insert function and its composite type are never created here (the ledger
    inserts through ``unnest`` of plain arrays), so there is nothing to look up — and looking up
    an absent type in a schema whose name needs quoting fails.
    """

    def register_type_adapters(self) -> None:
        """Nothing to register."""


class PostgresLedgerRecorder(LedgerBackend):
    """The ledger's tables in one PostgreSQL schema, through the library's connection pool."""

    def __init__(self, datastore: PostgresDatastore, url: str, connect_kwargs: dict[str, Any]) -> None:
        self.datastore = datastore
        self.url = url
        self._connect_kwargs = connect_kwargs
        self.tables = Tables(datastore.schema)

    def create_table(self) -> None:
        """Create the schema and tables, serialised across processes by an advisory lock.

        ``CREATE … IF NOT EXISTS`` races in PostgreSQL (two creators collide on the catalogue),
        and the tracking table's ``__migration__`` row is read, then written.
        """
        with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
            key = f"rledger:create:{self.datastore.schema}"
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", [key])
            try:
                conn.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self.datastore.schema)))
                with conn.transaction():
                    for statement in self.tables.create_statements():
                        conn.execute(statement)
                # Saved projection states are megabytes of numpy arrays that barely compress:
                # TOAST's default pglz pass made saving them several times slower, and a
                # follower saves after every batch (its lag: bench/results/follow.json). Store them
                # out of line, uncompressed (checked first: ALTER takes a table lock).
                storage = conn.execute(
                    "SELECT attstorage FROM pg_attribute WHERE attrelid = %s::regclass AND attname = 'state'",
                    [self.tables.views.as_string(conn)],
                ).fetchone()
                if storage is not None and storage[0] != "e":
                    conn.execute(
                        SQL("ALTER TABLE {v} ALTER COLUMN state SET STORAGE EXTERNAL").format(
                            v=self.tables.views
                        )
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
                SQL("LOCK TABLE {t} IN EXCLUSIVE MODE; NOTIFY {c}; " + TAIL_SQL).format(
                    t=self.tables.events, c=Identifier(CHANNEL)
                )
            )
            cur.nextset()  # past LOCK's result
            cur.nextset()  # past NOTIFY's
            yield PostgresWrite(self.tables, cur, last=(cur.fetchone(),))

    def _fetch(self, sql: Composed | SQL, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection() as conn:
            cur = conn.cursor(row_factory=tuple_row, binary=True)
            cur.execute(sql, params)
            return cur.fetchall()

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        where, params = where_clause(query, "%s", lambda d: d)
        params.append(limit)
        sql = SQL("SELECT " + COLUMNS + " FROM {t} WHERE " + where + " ORDER BY notification_id LIMIT %s")
        return [_row(r) for r in self._fetch(sql.format(t=self.tables.events), params)]

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
        ).format(t=self.tables.events)
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
            ).format(t=self.tables.events),
            [stream],
        )
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def max_offset(self) -> int:
        """Return the highest offset written (still the head's after everything was pruned)."""
        rows = self._fetch(
            SQL(
                "SELECT COALESCE((SELECT MAX(notification_id) FROM {t}), (SELECT last_offset FROM {h}), 0)"
            ).format(t=self.tables.events, h=self.tables.head)
        )
        return int(rows[0][0])

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``."""
        rows = self._fetch(
            SQL("SELECT MIN(notification_id) FROM {t} WHERE recorded_at >= %s").format(t=self.tables.events),
            [when],
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        rows = self._fetch(
            SQL(
                "SELECT COALESCE((SELECT MAX(originator_version) FROM {t} WHERE originator_id = %s), "
                "(SELECT version FROM {p} WHERE stream = %s), 0)"
            ).format(t=self.tables.events, p=self.tables.pruned_streams),
            [stream, stream],
        )
        return int(rows[0][0])

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        rows = self._fetch(SQL("SELECT last_offset, chain, recorded_at FROM {h}").format(h=self.tables.head))
        return None if not rows else Tail(rows[0][0], bytes(rows[0][1]), _utc(rows[0][2]))

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        rows = self._fetch(
            SQL('SELECT "offset", chain, recorded_at FROM {c} ORDER BY "offset"').format(
                c=self.tables.checkpoints
            )
        )
        return [Checkpoint(r[0], bytes(r[1]), _utc(r[2])) for r in rows]

    def stats(self) -> BackendStats:
        """Return whole-ledger counts."""
        by_type = self._fetch(
            SQL("SELECT topic, COUNT(*) FROM {t} GROUP BY topic").format(t=self.tables.events)
        )
        ((count, streams, first, last),) = self._fetch(
            SQL(
                "SELECT COUNT(*), COUNT(DISTINCT originator_id), MIN(recorded_at), MAX(recorded_at) FROM {t}"
            ).format(t=self.tables.events)
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
                v=self.tables.views
            ),
            [name],
        )
        if not rows:
            return None
        r = rows[0]
        return SavedView(r[0], r[1], bytes(r[2]), r[3], _utc(r[4]))

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position atomically; the tracking table refuses regressions."""
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor()
            if reset:
                cur.execute(
                    SQL("DELETE FROM {t} WHERE application_name = %s").format(t=self.tables.tracking),
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
                ).format(v=self.tables.views),
                [view.name, view.position, view.state, view.digest, view.updated_at],
            )

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self.datastore.get_connection() as conn, conn.transaction():
            cur = conn.cursor()
            cur.execute(
                SQL("DELETE FROM {t} WHERE application_name = %s").format(t=self.tables.tracking), [name]
            )
            cur.execute(SQL("DELETE FROM {v} WHERE name = %s").format(v=self.tables.views), [name])

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Delete the rows recorded before ``before`` in one transaction holding the table lock."""
        with self.write() as tx:
            assert isinstance(tx, PostgresWrite)
            cur = tx.cur
            cur.execute(SQL('SELECT COALESCE(MAX("offset"), 0) FROM {p}').format(p=self.tables.prunes))
            floor = int(_one(cur))
            cur.execute(
                SQL("SELECT MAX(notification_id) FROM {t} WHERE recorded_at < %s").format(
                    t=self.tables.events
                ),
                [before],
            )
            wanted = max(int(_one(cur) or 0), floor)
            cur.execute(SQL("SELECT name, position FROM {v}").format(v=self.tables.views))
            positions = {r[0]: int(r[1]) for r in cur.fetchall()}
            through, held_back = plan_prune(wanted, floor, positions, force=force)
            if through <= floor:
                return PruneResult(0, floor, wanted, held_back)
            cur.execute(
                SQL("SELECT chain FROM {t} WHERE notification_id = %s").format(t=self.tables.events),
                [through],
            )
            found = cur.fetchone()
            if found is None:
                raise ValueError(f"cannot prune through offset {through}: its row is missing (run verify)")
            cur.execute(
                SQL(
                    "INSERT INTO {p} (stream, version) "
                    "SELECT originator_id, MAX(originator_version) FROM {t} WHERE notification_id <= %s "
                    "GROUP BY originator_id ON CONFLICT (stream) DO UPDATE SET "
                    "version = GREATEST({p}.version, EXCLUDED.version)"
                ).format(p=self.tables.pruned_streams, t=self.tables.events),
                [through],
            )
            cur.execute(
                SQL("DELETE FROM {t} WHERE notification_id <= %s").format(t=self.tables.events), [through]
            )
            events = cur.rowcount
            cur.execute(
                SQL('INSERT INTO {p} ("offset", chain, recorded_at, events) VALUES (%s, %s, %s, %s)').format(
                    p=self.tables.prunes
                ),
                [through, bytes(found[0]), pruned_at, events],
            )
            return PruneResult(events, through, wanted, held_back)

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        rows = self._fetch(
            SQL('SELECT "offset", chain, recorded_at, events FROM {p} ORDER BY "offset"').format(
                p=self.tables.prunes
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
            conn.execute(SQL("LISTEN {0}").format(Identifier(CHANNEL)))
            # Re-check after LISTEN: an append that committed in between sent no notice to us.
            if self.max_offset() > after:
                return True
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                break
        return self.max_offset() > after

    # -- the library's tracking API ----------------------------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position; refuses (``IntegrityError``) one that does not advance."""
        with self.datastore.get_connection() as conn, conn.transaction():
            self._insert_tracking(conn.cursor(), tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the recorded position of ``application_name`` (``None`` if none)."""
        rows = self._fetch(
            SQL("SELECT MAX(notification_id) FROM {k} WHERE application_name = %s").format(
                k=self.tables.tracking
            ),
            [application_name],
        )
        return None if rows[0][0] is None else int(rows[0][0])

    def _insert_tracking(self, cur: psycopg.Cursor[Any], tracking: Tracking) -> None:
        cur.execute(
            self.tables.insert_tracking,
            {"name": tracking.application_name, "position": tracking.notification_id},
        )
        if cur.fetchone() is None:
            raise IntegrityError(
                f"Tracking notification ID {tracking.notification_id} not greater than the current "
                f"max tracking ID of {tracking.application_name}"
            )


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
