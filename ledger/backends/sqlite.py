"""SQLite backend: an ``eventsourcing`` SQLite process recorder with the ledger's table.

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
name-keyed index are converted when opened (:func:`_number_streams`).
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import operator
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteProcessRecorder

from ledger.backends.base import (
    GENESIS,
    BackendStats,
    Checkpoint,
    DuplicateKeyError,
    Existing,
    FileRunnerLock,
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
from ledger.errors import ViewConflictError
from ledger.events import from_epoch_us, to_epoch_us, to_epoch_us_column

TABLE = "ledger_events"
_COLUMNS = (
    "notification_id, originator_id, originator_version, topic, event_id, agent, "
    "occurred_at, recorded_at, state, chain"
)


STREAMS_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_streams (name TEXT PRIMARY KEY, no INTEGER NOT NULL) WITHOUT ROWID"
)
STREAM_NUMBERS_DDL = "CREATE UNIQUE INDEX IF NOT EXISTS ledger_streams_no ON ledger_streams (no)"

_us = to_epoch_us
_dt = from_epoch_us
_int_of = operator.attrgetter("int")
_to_16_bytes = operator.methodcaller("to_bytes", 16, "big")


def _recorded_column(times: Sequence[datetime]) -> Iterable[int]:
    """Epoch microseconds of commit times, converted once when all are the same (one commit)."""
    if times and times.count(times[0]) == len(times):
        return itertools.repeat(_us(times[0]), len(times))
    return to_epoch_us_column(times)


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(
        offset=r[0],
        stream=r[1],
        version=r[2],
        topic=r[3],
        event_id=UUID(bytes=r[4]),
        agent=r[5],
        occurred_at=_dt(r[6]),
        recorded_at=_dt(r[7]),
        state=r[8],
        chain=r[9],
    )


class SQLiteLedgerRecorder(LedgerBackend, SQLiteProcessRecorder):
    """The ledger table on SQLite, plus the library's tracking table for projections."""

    def __init__(self, datastore: SQLiteDatastore, url: str) -> None:
        self.url = url
        self._stream_nos: dict[str, int] = {}
        super().__init__(datastore, events_table_name=TABLE)

    def construct_create_table_statements(self) -> list[str]:
        statements = [s for s in super().construct_create_table_statements() if f"EXISTS {TABLE} " not in s]
        return [
            f"CREATE TABLE IF NOT EXISTS {TABLE} ("
            "notification_id INTEGER PRIMARY KEY, "
            "originator_id TEXT NOT NULL, "
            "originator_version INTEGER NOT NULL, "
            "topic TEXT NOT NULL, "
            "event_id BLOB NOT NULL, "
            "agent TEXT, "
            "occurred_at INTEGER NOT NULL, "
            "recorded_at INTEGER NOT NULL, "
            "state BLOB NOT NULL, "
            "chain BLOB NOT NULL, "
            "stream_no INTEGER NOT NULL)",
            # name -> number; never pruned, so a stream keeps its number for good.
            STREAMS_DDL,
            STREAM_NUMBERS_DDL,
            f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_stream_no ON {TABLE} (stream_no, originator_version)",
            # An older rledger opening this file would add the name-keyed index back.
            f"DROP INDEX IF EXISTS {TABLE}_stream",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_event_id ON {TABLE} (event_id)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_topic ON {TABLE} (topic, notification_id)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_agent ON {TABLE} (agent, notification_id)",
            f"CREATE INDEX IF NOT EXISTS {TABLE}_occurred ON {TABLE} (occurred_at)",
            # No index on recorded_at: it never decreases with the offset, so time -> offset is
            # a binary search over the primary key (_first_recorded_at_or_after). The index
            # was a measurable share of every append (bench.ingest); files made before it was
            # dropped lose it here.
            f"DROP INDEX IF EXISTS {TABLE}_recorded",
            "CREATE TABLE IF NOT EXISTS ledger_head ("
            "id INTEGER PRIMARY KEY CHECK (id = 1), "
            "last_offset INTEGER NOT NULL, chain BLOB NOT NULL, recorded_at INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ledger_checkpoints ("
            "offset INTEGER PRIMARY KEY, chain BLOB NOT NULL, recorded_at INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ledger_views ("
            "name TEXT PRIMARY KEY, position INTEGER NOT NULL, state BLOB NOT NULL, "
            "digest TEXT NOT NULL, updated_at INTEGER NOT NULL)",
            "CREATE TABLE IF NOT EXISTS ledger_prunes ("
            "offset INTEGER PRIMARY KEY, chain BLOB NOT NULL, recorded_at INTEGER NOT NULL, "
            "events INTEGER NOT NULL)",
            # A stream's version outlives its pruned rows, so a stream never restarts at 1.
            "CREATE TABLE IF NOT EXISTS ledger_pruned_streams ("
            "stream TEXT PRIMARY KEY, version INTEGER NOT NULL)",
            *statements,
        ]

    def create_table(self) -> None:
        """Create the tables, serialised across processes opening a new file at once.

        The library's tracking table set-up reads, then writes a migration row; two processes
        doing that together collide. An ``flock`` on a lock file beside the database makes the
        set-up one at a time. Never on the database file itself: closing any descriptor of
        that file drops every POSIX lock SQLite holds on it in this process, and a writer
        elsewhere then resets the WAL under live connections (acknowledged appends vanish).
        """
        fd = os.open(f"{self.datastore.pool.db_name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.datastore.get_connection(commit=True) as conn:
                _number_streams(conn.cursor())
            super().create_table()
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
            tx = _SQLiteWrite(cursor, self._stream_nos)
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

    @contextmanager
    def _read(self) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=False) as c:
            yield c

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        where, params = where_clause(query, "?", _us, stream_key=_STREAM_NO_OF.format(name="?"))
        params.append(limit)
        sql = f"SELECT {_COLUMNS} FROM {TABLE} WHERE {where} ORDER BY notification_id LIMIT ?"
        with self._read() as c:
            c.execute(sql, params)
            return [_row(r) for r in c.fetchall()]

    def scan(self, after: int, stop: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order (a primary-key range scan)."""
        with self._read() as c:
            c.sqlite_cursor.row_factory = None  # plain tuples: no per-row sqlite3.Row
            if stop is None:
                c.execute(
                    f"SELECT notification_id, topic, occurred_at, state FROM {TABLE} "
                    "WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                    (after, limit),
                )
            else:
                c.execute(
                    f"SELECT notification_id, topic, occurred_at, state FROM {TABLE} "
                    "WHERE notification_id > ? AND notification_id <= ? ORDER BY notification_id LIMIT ?",
                    (after, stop, limit),
                )
            rows: list[ScanRow] = c.fetchall()
            return rows

    def read_stream(self, stream: str) -> list[StreamRow]:
        """Return one stream's rows in version order (one query on the stream index)."""
        with self._read() as c:
            # Plain tuples: sqlite3.Row objects cost more than the row is worth here.
            c.sqlite_cursor.row_factory = None
            c.execute(_READ_STREAM_SQL, (stream,))
            rows: list[StreamRow] = c.fetchall()
            return rows

    def layout_problems(self, limit: int) -> list[tuple[int, str]]:
        """Rows whose stream number does not map to their stream's name (outside the chain).

        Returns up to ``limit`` (offset, detail) pairs in offset order; one pass over the table.
        """
        with self._read() as c:
            c.sqlite_cursor.row_factory = None
            c.execute(
                f"SELECT e.notification_id, e.originator_id, e.stream_no, s.no FROM {TABLE} e "
                "LEFT JOIN ledger_streams s ON s.name = e.originator_id "
                "WHERE s.no IS NOT e.stream_no ORDER BY e.notification_id LIMIT ?",
                (limit,),
            )
            return [
                (offset, f"stream {name!r} is numbered {mapped} but the row holds {held}")
                for offset, name, held, mapped in c.fetchall()
            ]

    def max_offset(self) -> int:
        """Return the highest offset written (still the head's after everything was pruned)."""
        with self._read() as c:
            c.execute(
                f"SELECT COALESCE((SELECT MAX(notification_id) FROM {TABLE}), "
                "(SELECT last_offset FROM ledger_head WHERE id = 1), 0)"
            )
            value = c.fetchone()[0]
        return int(value)

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``."""
        with self._read() as c:
            return _first_recorded_at_or_after(c, _us(when))

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        with self._read() as c:
            c.execute(
                f"SELECT COALESCE(({_LAST_VERSION_OF.format(name='?1')}), "
                "(SELECT version FROM ledger_pruned_streams WHERE stream = ?1), 0)",
                (stream,),
            )
            value = c.fetchone()[0]
        return int(value)

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        with self._read() as c:
            c.execute("SELECT last_offset, chain, recorded_at FROM ledger_head WHERE id = 1")
            r = c.fetchone()
        return None if r is None else Tail(r[0], r[1], _dt(r[2]))

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        with self._read() as c:
            c.execute("SELECT offset, chain, recorded_at FROM ledger_checkpoints ORDER BY offset")
            return [Checkpoint(r[0], r[1], _dt(r[2])) for r in c.fetchall()]

    def stats(self) -> BackendStats:
        """Return whole-ledger counts."""
        stats = BackendStats()
        with self._read() as c:
            c.execute(f"SELECT topic, COUNT(*) FROM {TABLE} GROUP BY topic")
            stats.by_type = {r[0]: r[1] for r in c.fetchall()}
            # recorded_at never decreases with the offset: the first and last rows hold the
            # extremes (and the primary key finds them without a scan).
            c.execute(
                f"SELECT COUNT(*), COUNT(DISTINCT stream_no), "
                f"(SELECT recorded_at FROM {TABLE} ORDER BY notification_id LIMIT 1), "
                f"(SELECT recorded_at FROM {TABLE} ORDER BY notification_id DESC LIMIT 1) FROM {TABLE}"
            )
            count, streams, first, last = c.fetchone()
        stats.events = count
        stats.streams = streams
        stats.first_recorded_at = _dt(first) if first is not None else None
        stats.last_recorded_at = _dt(last) if last is not None else None
        path = self.datastore.pool.db_name
        if os.path.exists(path):
            stats.size_bytes = os.path.getsize(path)
        return stats

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
                    self._insert_tracking(cursor, Tracking(view.name, view.position))
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

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self.write() as tx:
            assert isinstance(tx, _SQLiteWrite)
            tx.c.execute("DELETE FROM tracking WHERE application_name = ?", (name,))
            tx.c.execute("DELETE FROM ledger_views WHERE name = ?", (name,))

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Delete the rows recorded before ``before`` in one ``BEGIN IMMEDIATE`` transaction."""
        with self.write() as tx:
            assert isinstance(tx, _SQLiteWrite)
            c = tx.c
            c.execute("SELECT COALESCE(MAX(offset), 0) FROM ledger_prunes")
            floor = int(c.fetchone()[0])
            first_kept = _first_recorded_at_or_after(c, _us(before))
            if first_kept is None:
                c.execute(f"SELECT MAX(notification_id) FROM {TABLE}")
                wanted = max(int(c.fetchone()[0] or 0), floor)
            else:
                wanted = max(first_kept - 1, floor)
            c.execute("SELECT name, position FROM ledger_views")
            positions = {r[0]: int(r[1]) for r in c.fetchall()}
            through, held_back = plan_prune(wanted, floor, positions, force=force)
            if through <= floor:
                return PruneResult(0, floor, wanted, held_back)
            c.execute(f"SELECT chain FROM {TABLE} WHERE notification_id = ?", (through,))
            found = c.fetchone()
            if found is None:
                raise ValueError(f"cannot prune through offset {through}: its row is missing (run verify)")
            c.execute(
                "INSERT INTO ledger_pruned_streams (stream, version) "
                f"SELECT originator_id, MAX(originator_version) FROM {TABLE} WHERE notification_id <= ? "
                "GROUP BY originator_id ON CONFLICT (stream) DO UPDATE SET "
                "version = MAX(version, excluded.version)",
                (through,),
            )
            c.execute(f"DELETE FROM {TABLE} WHERE notification_id <= ?", (through,))
            events = c.sqlite_cursor.rowcount
            c.execute(
                "INSERT INTO ledger_prunes (offset, chain, recorded_at, events) VALUES (?, ?, ?, ?)",
                (through, found[0], _us(pruned_at), events),
            )
            return PruneResult(events, through, wanted, held_back)

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        with self._read() as c:
            c.execute("SELECT offset, chain, recorded_at, events FROM ledger_prunes ORDER BY offset")
            return [PruneMark(r[0], r[1], _dt(r[2]), r[3]) for r in c.fetchall()]

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take an exclusive lock file beside the database (works across processes)."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        return FileRunnerLock.try_acquire(f"{self.datastore.pool.db_name}.{digest}.runner.lock")


class _SQLiteWrite(WriteTransaction):
    def __init__(self, cursor: SQLiteCursor, stream_nos: dict[str, int]) -> None:
        self.c = cursor
        self.stream_nos = stream_nos
        """Committed stream numbers (the recorder's cache; read only here)."""
        self.new_stream_nos: dict[str, int] = {}
        """Numbers found or assigned in this transaction, cached once it commits."""

    def _numbers(self, streams: Sequence[str]) -> dict[str, int]:
        """Each stream's number: cached, else stored, else assigned (after the highest so far)."""
        known = self.stream_nos
        numbers = {s: n for s in set(streams) if (n := known.get(s)) is not None}
        numbers.update(self.new_stream_nos)
        missing = [s for s in dict.fromkeys(streams) if s not in numbers]
        for start in range(0, len(missing), 900):
            chunk = missing[start : start + 900]
            self.c.execute(
                f"SELECT name, no FROM ledger_streams WHERE name IN ({','.join('?' * len(chunk))})", chunk
            )
            found = dict(self.c.fetchall())
            numbers.update(found)
            self.new_stream_nos.update(found)
        fresh = [s for s in dict.fromkeys(streams) if s not in numbers]
        if fresh:
            # Numbers follow creation order (what keeps the stream index's writes together);
            # assigned under the write lock, and unique by index besides.
            self.c.execute("SELECT COALESCE(MAX(no), 0) FROM ledger_streams")
            highest = int(self.c.fetchone()[0])
            assigned = {s: highest + i for i, s in enumerate(fresh, start=1)}
            numbers.update(assigned)
            self.c.executemany("INSERT INTO ledger_streams (name, no) VALUES (?, ?)", list(assigned.items()))
            self.new_stream_nos.update(assigned)
        return numbers

    def existing(self, event_ids: list[UUID]) -> dict[UUID, Existing]:
        found: dict[UUID, Existing] = {}
        # Stay under SQLite's bound-parameter limit.
        for start in range(0, len(event_ids), 900):
            chunk = [e.bytes for e in event_ids[start : start + 900]]
            self.c.execute(
                f"SELECT event_id, notification_id, state FROM {TABLE} "
                f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in self.c.fetchall():
                found[UUID(bytes=r[0])] = Existing(r[1], r[2])
        return found

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for start in range(0, len(streams), 900):
            chunk = streams[start : start + 900]
            # One index lookup per stream; a GROUP BY would walk every row of each stream. The
            # pruned-streams lookup runs only for a stream without rows (COALESCE is lazy).
            self.c.execute(
                f"WITH s(id) AS (VALUES {','.join(['(?)'] * len(chunk))}) "
                f"SELECT id, COALESCE(({_LAST_VERSION_OF.format(name='s.id')}), "
                "(SELECT version FROM ledger_pruned_streams WHERE stream = s.id)) FROM s",
                chunk,
            )
            versions.update({r[0]: r[1] for r in self.c.fetchall() if r[1] is not None})
        return versions

    def tail(self) -> Tail:
        self.c.execute(
            f"SELECT notification_id, chain, recorded_at FROM {TABLE} ORDER BY notification_id DESC LIMIT 1"
        )
        r = self.c.fetchone()
        if r is None:
            # Everything may have been pruned: the chain continues from the head.
            self.c.execute("SELECT last_offset, chain, recorded_at FROM ledger_head WHERE id = 1")
            r = self.c.fetchone()
            if r is None:
                return Tail(0, GENESIS, None)
        return Tail(r[0], r[1], _dt(r[2]))

    def insert(self, rows: list[StoredRow]) -> None:
        offsets, streams, versions, topics, event_ids, agents, occurred, recorded, states, chains = zip(
            *rows, strict=True
        )
        numbers = self._numbers(streams)
        # Converted column by column with C-level map()s: UUID.bytes is a Python property and
        # to_epoch_us a Python function, a measurable cost per event when called per row.
        # Blobs are bound as bytearray: Python 3.11's sqlite3 binds bytes only after a failed
        # adapter look-up that formats an AttributeError each time (three per row); a bytearray
        # binds directly, to the same stored blob (the gains: bench/README.md, ingest).
        try:
            self.c.executemany(
                f"INSERT INTO {TABLE} ({_COLUMNS}, stream_no) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                zip(
                    offsets,
                    streams,
                    versions,
                    topics,
                    map(bytearray, map(_to_16_bytes, map(_int_of, event_ids))),
                    agents,
                    to_epoch_us_column(occurred),
                    _recorded_column(recorded),
                    map(bytearray, states),
                    map(bytearray, chains),
                    map(numbers.__getitem__, streams),
                    strict=True,
                ),
            )
        except sqlite3.IntegrityError as exc:
            # Offsets and versions are assigned under the write lock, so only an event id that
            # is already stored can collide.
            raise DuplicateKeyError(str(exc)) from exc

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        assert tail.recorded_at is not None
        self.c.execute(
            "INSERT INTO ledger_head (id, last_offset, chain, recorded_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_offset = excluded.last_offset, "
            "chain = excluded.chain, recorded_at = excluded.recorded_at",
            (tail.offset, tail.chain, _us(tail.recorded_at)),
        )
        if checkpoints:
            self.c.executemany(
                "INSERT INTO ledger_checkpoints (offset, chain, recorded_at) VALUES (?, ?, ?)",
                [(cp.offset, cp.chain, _us(cp.recorded_at)) for cp in checkpoints],
            )


# Two subqueries: SQLite answers a lone MIN() or MAX() from the primary key, but scans the
# table for both in one SELECT (linear in the ledger's size against constant time).
OFFSET_RANGE_SQL = (
    f"SELECT (SELECT MIN(notification_id) FROM {TABLE}), (SELECT MAX(notification_id) FROM {TABLE})"
)
FIRST_ROW_FROM_SQL = (
    f"SELECT notification_id, recorded_at FROM {TABLE} "
    "WHERE notification_id >= ? ORDER BY notification_id LIMIT 1"
)


def _first_recorded_at_or_after(c: Any, when_us: int) -> int | None:
    """The first offset whose ``recorded_at`` is at or after ``when_us``, by binary search.

    ``recorded_at`` never decreases with the offset (the ledger stamps each commit no earlier
    than its tail), so the rows are sorted by it; each probe is one primary-key seek for the
    first row at or after an offset, so a gap in the offsets could not mislead the search.
    """
    c.execute(OFFSET_RANGE_SQL)
    lo, hi = c.fetchone()
    if lo is None:
        return None
    c.execute(FIRST_ROW_FROM_SQL, (hi,))
    if c.fetchone()[1] < when_us:
        return None
    # Invariants: no row below lo qualifies; the first row at or after hi does.
    while lo < hi:
        mid = (lo + hi) // 2
        c.execute(FIRST_ROW_FROM_SQL, (mid,))
        offset, recorded = c.fetchone()
        if recorded >= when_us:
            hi = mid
        else:
            lo = offset + 1
    c.execute(FIRST_ROW_FROM_SQL, (lo,))
    return int(c.fetchone()[0])


_STREAM_NO_OF = "(SELECT no FROM ledger_streams WHERE name = {name})"
"""SQL for the number of the stream named by the SQL ``name`` (NULL, matching nothing, if none).

Rows are found by number and also matched by name: the mapping is outside the hash chain, and
a bad one must never let another stream's rows in."""

_LAST_VERSION_OF = (
    f"SELECT originator_version FROM {TABLE} "
    f"WHERE stream_no = {_STREAM_NO_OF} AND originator_id = {{name}} "
    "ORDER BY originator_version DESC LIMIT 1"
)
"""SQL for a stream's last stored version: walks the stream index back from its end and takes
the first row that is really the stream's (a bad mapping must not make versions repeat); MAX()
with the name check would read every row of the stream."""

_READ_STREAM_SQL = (
    f"SELECT notification_id, originator_version, recorded_at, state FROM {TABLE} "
    f"WHERE stream_no = {_STREAM_NO_OF.format(name='?1')} AND originator_id = ?1 ORDER BY originator_version"
)
"""SQL for one stream's rows, in version order along the stream index."""


_NEEDS_STREAM_NO_TRIGGER = (
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_needs_stream_no BEFORE INSERT ON {TABLE} "
    "WHEN NEW.stream_no IS NULL BEGIN SELECT RAISE(ABORT, "
    "'this ledger file has numbered streams: upgrade every rledger that writes it'); END"
)


def _number_streams(c: SQLiteCursor) -> None:
    """Convert a file with the name-keyed stream index to numbered streams (once, in one go).

    Each existing stream is numbered by its lowest stored offset (new streams then number on
    from the highest). Runs under the set-up lock, in one transaction that holds the write lock
    throughout (seconds per million events: the README's Backends table); a no-op on new files and on files
    already converted.
    """
    c.execute(f"SELECT \"notnull\" FROM pragma_table_info('{TABLE}') WHERE name = 'stream_no'")
    column = c.fetchone()
    if column is not None:
        if not column[0]:
            c.execute(_NEEDS_STREAM_NO_TRIGGER)  # converted: keep refusing rows without a number
        return
    c.execute(f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{TABLE}'")
    if c.fetchone() is None:
        return  # a new file: created with numbered streams
    c.execute("BEGIN IMMEDIATE")
    try:
        c.execute(f"ALTER TABLE {TABLE} ADD COLUMN stream_no INTEGER")
        c.execute(STREAMS_DDL)
        c.execute(
            "INSERT INTO ledger_streams (name, no) "
            f"SELECT originator_id, MIN(notification_id) FROM {TABLE} GROUP BY originator_id"
        )
        c.execute(
            f"UPDATE {TABLE} SET stream_no = (SELECT no FROM ledger_streams WHERE name = originator_id)"
        )
        c.execute(f"DROP INDEX IF EXISTS {TABLE}_stream")
        c.execute(f"CREATE UNIQUE INDEX {TABLE}_stream_no ON {TABLE} (stream_no, originator_version)")
        c.execute(STREAM_NUMBERS_DDL)
        # The added column cannot be NOT NULL: refuse a row without a number (an older rledger
        # still writing this file) instead of storing one that stream reads would never find.
        c.execute(_NEEDS_STREAM_NO_TRIGGER)
    except BaseException:
        c.execute("ROLLBACK")
        raise
    c.execute("COMMIT")


def open_sqlite(path: str, url: str, *, lock_timeout: int = 30) -> SQLiteLedgerRecorder:
    """Open (creating if needed) the ledger in the SQLite file at ``path``."""
    datastore = SQLiteDatastore(
        db_name=path,
        lock_timeout=lock_timeout,
        pool_timeout=float(lock_timeout),
        originator_id_type="text",
    )
    recorder = SQLiteLedgerRecorder(datastore, url)
    recorder.create_table()
    return recorder
