"""PostgreSQL backend: the ledger's own tables in one schema, serialised by a table lock.

Writes lock the table ``IN EXCLUSIVE MODE`` for the transaction (readers are not blocked) so
offsets are assigned and committed in one order: a reader following offsets never skips an
event. Rows go in by binary ``COPY`` inside that locked transaction
(:mod:`~ledger.backends.postgres.writes`). A prune deletes the oldest rows under the same lock,
recording its mark and the versions of the streams it empties
(:mod:`~ledger.backends.postgres.prune`). Reads are in :mod:`~ledger.backends.postgres.reads`,
tables and their DDL in :mod:`~ledger.backends.postgres.layout`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, Tracking
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from ledger.backends.base import LedgerBackend
from ledger.backends.locks import RunnerLock
from ledger.backends.postgres.layout import CHANNEL, TAIL_SQL
from ledger.backends.postgres.pool import LedgerDatastore
from ledger.backends.postgres.prune import prune_rows
from ledger.backends.postgres.reads import PostgresReads
from ledger.backends.postgres.writes import PostgresWrite, utc
from ledger.backends.pruning import PruneMark, PruneResult
from ledger.backends.rows import SavedView
from ledger.backends.transaction import WriteTransaction
from ledger.errors import ViewConflictError

_utc = utc


class PostgresLedgerRecorder(PostgresReads, LedgerBackend):
    """The ledger's tables in one PostgreSQL schema, through the library's connection pool."""

    def __init__(self, datastore: LedgerDatastore, url: str, connect_kwargs: dict[str, Any]) -> None:
        super().__init__(datastore, url)
        self._connect_kwargs = connect_kwargs

    def exists(self) -> bool:
        """Whether the ledger's tables are in its schema (a reader must not create them)."""
        with psycopg.connect(**self._connect_kwargs, autocommit=True) as conn:
            found = conn.execute("SELECT to_regclass(%s)", [self.tables.head.as_string(conn)]).fetchone()
        return found is not None and found[0] is not None

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
        with self.datastore.get_connection("append") as conn, conn.transaction():
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
        with self.datastore.get_connection("write") as conn, conn.transaction():
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

    def view_names(self) -> list[str]:
        """Return the names of every stored projection."""
        rows = self._fetch(SQL("SELECT name FROM {v} ORDER BY name").format(v=self.tables.views))
        return [r[0] for r in rows]

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self.datastore.get_connection("write") as conn, conn.transaction():
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
            return prune_rows(self.tables, tx.cur, before, force=force, pruned_at=pruned_at)

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
        with self.datastore.get_connection("write") as conn, conn.transaction():
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


class _AdvisoryLock(RunnerLock):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn: psycopg.Connection[Any] | None = conn

    def release(self) -> None:
        if self._conn is not None:
            # Closing the session releases its advisory locks.
            self._conn.close()
            self._conn = None
