"""Reads of a SQLite ledger: row pages, streams, offsets, the chain's head, counts and layout checks.

Each read is one short read transaction from the library's pool (WAL mode: readers run alongside
the one writer). Pages are primary-key ranges; a stream is read on the ``(stream_no, version)``
index, matching the row's own stream name too (the numbering is outside the hash chain).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore

from ledger.backends.rows import (
    BackendStats,
    Checkpoint,
    ReadQuery,
    ScanRow,
    StoredRow,
    StreamRow,
    Tail,
    VerifyRow,
)
from ledger.backends.sql import where_clause
from ledger.backends.sqlite.layout import (
    COLUMNS,
    LAST_VERSION_OF,
    READ_STREAM_SQL,
    STREAM_NO_OF,
    TABLE,
    first_recorded_at_or_after,
)
from ledger.timeutil import from_epoch_us, to_epoch_us

_us = to_epoch_us
_dt = from_epoch_us


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(
        offset=r[0],
        stream=r[1],
        version=r[2],
        type=r[3],
        event_id=UUID(bytes=r[4]),
        agent=r[5],
        occurred_at=_dt(r[6]),
        recorded_at=_dt(r[7]),
        state=r[8],
        chain=r[9],
    )


class SQLiteReads:
    """The read side of :class:`~ledger.backends.sqlite.recorder.SQLiteLedgerRecorder`."""

    def __init__(self, datastore: SQLiteDatastore, url: str) -> None:
        self.datastore = datastore
        self.url = url

    @contextmanager
    def _read(self) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=False) as c:
            yield c

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        where, params = where_clause(query, "?", _us, stream_no_sql=STREAM_NO_OF.format(name="?"))
        params.append(limit)
        sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE {where} ORDER BY notification_id LIMIT ?"
        with self._read() as c:
            c.execute(sql, params)
            return [_row(r) for r in c.fetchall()]

    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order (a primary-key range scan)."""
        with self._read() as c:
            c.sqlite_cursor.row_factory = None  # plain tuples: no per-row sqlite3.Row
            if through is None:
                c.execute(
                    f"SELECT notification_id, topic, occurred_at, state FROM {TABLE} "
                    "WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                    (after, limit),
                )
            else:
                c.execute(
                    f"SELECT notification_id, topic, occurred_at, state FROM {TABLE} "
                    "WHERE notification_id > ? AND notification_id <= ? ORDER BY notification_id LIMIT ?",
                    (after, through, limit),
                )
            rows: list[ScanRow] = c.fetchall()
            return rows

    def verify_scan(self, after: int, limit: int) -> list[VerifyRow]:
        """Return every column raw, as stored (a primary-key range scan, plain tuples)."""
        with self._read() as c:
            c.sqlite_cursor.row_factory = None
            c.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE notification_id > ? ORDER BY notification_id LIMIT ?",
                (after, limit),
            )
            rows: list[VerifyRow] = c.fetchall()
            return rows

    def read_stream(self, stream: str) -> list[StreamRow]:
        """Return one stream's rows in version order (one query on the stream index)."""
        with self._read() as c:
            # Plain tuples: sqlite3.Row objects cost more than the row is worth here.
            c.sqlite_cursor.row_factory = None
            c.execute(READ_STREAM_SQL, (stream,))
            rows: list[StreamRow] = c.fetchall()
            return rows

    def layout_problems(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """Rows whose stream number does not map to their stream's name (outside the chain).

        Returns up to ``limit`` (offset, detail) pairs after offset ``after``, in offset order;
        one pass over that range.
        """
        with self._read() as c:
            c.sqlite_cursor.row_factory = None
            c.execute(
                f"SELECT e.notification_id, e.originator_id, e.stream_no, s.no FROM {TABLE} e "
                "LEFT JOIN ledger_streams s ON s.name = e.originator_id "
                "WHERE e.notification_id > ? AND s.no IS NOT e.stream_no ORDER BY e.notification_id LIMIT ?",
                (after, limit),
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
            return first_recorded_at_or_after(c, _us(when))

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        with self._read() as c:
            c.execute(
                f"SELECT COALESCE(({LAST_VERSION_OF.format(name='?1')}), "
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
