"""SQLite backend: the ledger's own tables in one file, serialised by ``BEGIN IMMEDIATE``.

One ledger per database file. Writes take ``BEGIN IMMEDIATE`` so writers in several processes
serialise on the database lock and offsets follow commit order. WAL mode lets readers run
alongside a writer. A prune deletes the oldest rows in one such transaction, recording its mark
and the versions of the streams it empties.

Streams are numbered (``ledger_streams``, one row per stream, numbers in creation order) and
the stream index is on ``(stream_no, originator_version)``, not on the name: the streams being
written then sit together at the index's end instead of all over it (the gain per appended
event is in bench/README.md, ingest). The mapping is outside the hash chain, so reads
also match the row's own stream name, and :meth:`SQLiteLedgerRecorder.layout_problems` (run by
``verify``) reports a row whose number does not map to its name. Files made with the
name-keyed index are converted when opened (:func:`~ledger.backends.sqlite.layout.number_streams`).
Tables and shared SQL are in :mod:`~ledger.backends.sqlite.layout`, the write transaction in
:mod:`~ledger.backends.sqlite.writes`, reads in :mod:`~ledger.backends.sqlite.reads`, the prune
transaction in :mod:`~ledger.backends.sqlite.prune`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ledger.backends.base import LedgerBackend
from ledger.backends.locks import FileRunnerLock, RunnerLock
from ledger.backends.pruning import PruneMark, PruneResult
from ledger.backends.rows import SavedView
from ledger.backends.sqlite.layout import (
    CREATE_STATEMENTS,
    INSERT_TRACKING,
    MAX_TRACKING,
    MIGRATION_ROW,
    number_streams,
)
from ledger.backends.sqlite.prune import prune_rows
from ledger.backends.sqlite.reads import SQLiteReads
from ledger.backends.sqlite.writes import SQLiteWrite
from ledger.backends.transaction import WriteTransaction
from ledger.errors import ViewConflictError
from ledger.timeutil import from_epoch_us, to_epoch_us

_us = to_epoch_us
_dt = from_epoch_us


class SQLiteLedgerRecorder(SQLiteReads, LedgerBackend):
    """The ledger's tables in one SQLite file, through the library's SQLite connection pool."""

    def __init__(self, datastore: SQLiteDatastore, url: str) -> None:
        super().__init__(datastore, url)
        self._stream_nos: dict[str, int] = {}

    def create_table(self) -> None:
        """Create the tables, serialised across processes opening a new file at once.

        Converting an older file and creating the tables read, then write; two processes doing
        that together collide. An ``flock`` on a lock file beside the database makes the
        set-up one at a time. Never on the database file itself: closing any descriptor of
        that file drops every POSIX lock SQLite holds on it in this process, and a writer
        elsewhere then resets the WAL under live connections (acknowledged appends vanish).
        """
        fd = os.open(f"{self.datastore.pool.db_name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.datastore.get_connection(commit=True) as conn:
                number_streams(conn.cursor())
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tracking'")
                new_tracking = cursor.fetchone() is None
                for statement in CREATE_STATEMENTS:
                    cursor.execute(statement)
                # Written only with the table: a write on every open would fail at once ("database
                # is locked") whenever another process committed since this transaction began.
                if new_tracking:
                    cursor.execute(MIGRATION_ROW)
        finally:
            os.close(fd)  # closing releases the flock

    # -- ledger primitives -----------------------------------------------------------------

    MAX_CACHED_STREAM_NOS = 100_000

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield an exclusive transaction; commit on success, roll back on any error."""
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            tx = SQLiteWrite(cursor, self._stream_nos)
            try:
                yield tx
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
                # Only committed numbers are cached: a number never changes once committed,
                # so the cache stays true whatever other processes write.
                if len(self._stream_nos) + len(tx.new_stream_nos) > self.MAX_CACHED_STREAM_NOS:
                    # A new dict, not clear(): a transaction in another thread may be reading it.
                    self._stream_nos = dict(tx.new_stream_nos)
                else:
                    self._stream_nos.update(tx.new_stream_nos)
            finally:
                cursor.sqlite_cursor.close()

    def close(self) -> None:
        """Close the connection pool."""
        self.datastore.close()

    # -- projection views ------------------------------------------------------------------

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state."""
        with self._read() as c:
            c.execute(
                "SELECT name, position, state, digest, updated_at FROM ledger_views WHERE name = ?",
                (name,),
            )
            r = c.fetchone()
        return None if r is None else SavedView(r[0], r[1], r[2], r[3], _dt(r[4]))

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position atomically; the tracking table refuses regressions."""
        with self.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                if reset:
                    cursor.execute("DELETE FROM tracking WHERE application_name = ?", (view.name,))
                try:
                    _insert_tracking(cursor, Tracking(view.name, view.position))
                except IntegrityError as exc:
                    raise ViewConflictError(view.name, view.position, str(exc)) from exc
                cursor.execute(
                    "INSERT INTO ledger_views (name, position, state, digest, updated_at) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                    "position = excluded.position, state = excluded.state, "
                    "digest = excluded.digest, updated_at = excluded.updated_at",
                    (view.name, view.position, view.state, view.digest, _us(view.updated_at)),
                )
            except BaseException:
                conn.rollback()
                raise
            else:
                conn.commit()
            finally:
                cursor.sqlite_cursor.close()

    def view_names(self) -> list[str]:
        """Return the names of every stored projection."""
        with self._read() as c:
            c.execute("SELECT name FROM ledger_views ORDER BY name")
            return [r[0] for r in c.fetchall()]

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self.write() as tx:
            assert isinstance(tx, SQLiteWrite)
            tx.cursor.execute("DELETE FROM tracking WHERE application_name = ?", (name,))
            tx.cursor.execute("DELETE FROM ledger_views WHERE name = ?", (name,))

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Delete the rows recorded before ``before`` in one ``BEGIN IMMEDIATE`` transaction."""
        with self.write() as tx:
            assert isinstance(tx, SQLiteWrite)
            return prune_rows(tx.cursor, before, force=force, pruned_at=pruned_at)

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        with self._read() as c:
            c.execute("SELECT offset, chain, recorded_at, events FROM ledger_prunes ORDER BY offset")
            return [PruneMark(r[0], r[1], _dt(r[2]), r[3]) for r in c.fetchall()]

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take an exclusive lock file beside the database (works across processes)."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return FileRunnerLock.try_acquire(f"{self.datastore.pool.db_name}.{digest}.runner.lock")

    # -- the library's tracking API ----------------------------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position; refuses (``IntegrityError``) one that does not advance."""
        with self.datastore.transaction(commit=True) as cursor:
            _insert_tracking(cursor, tracking)

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the recorded position of ``application_name`` (``None`` if none)."""
        with self._read() as c:
            c.execute(MAX_TRACKING, (application_name,))
            value = c.fetchone()[0]
        return None if value is None else int(value)


def _insert_tracking(cursor: SQLiteCursor, tracking: Tracking) -> None:
    cursor.execute(INSERT_TRACKING, (tracking.application_name, tracking.notification_id))
    if cursor.fetchone() is None:
        raise IntegrityError(
            f"Tracking notification ID {tracking.notification_id} not greater than the current "
            f"max tracking ID of {tracking.application_name}"
        )
