"""Writes to a SQLite ledger: the primitives of one ``BEGIN IMMEDIATE`` transaction.

Rows go in by one ``executemany`` per commit, converted column by column; each stream's number
is found (cached, stored, or assigned in creation order) before its rows are inserted.
"""

from __future__ import annotations

import itertools
import operator
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.sqlite import SQLiteCursor

from ledger.backends.rows import GENESIS, Checkpoint, StoredId, StoredRow, Tail
from ledger.backends.sqlite.layout import COLUMNS, LAST_VERSION_OF, TABLE
from ledger.backends.transaction import DuplicateKeyError, WriteTransaction
from ledger.timeutil import from_epoch_us, to_epoch_us, to_epoch_us_column

_us = to_epoch_us
_dt = from_epoch_us
_int_of = operator.attrgetter("int")
_to_16_bytes = operator.methodcaller("to_bytes", 16, "big")


def _recorded_column(times: Sequence[datetime]) -> Iterable[int]:
    """Epoch microseconds of commit times, converted once when all are the same (one commit)."""
    if times and times.count(times[0]) == len(times):
        return itertools.repeat(_us(times[0]), len(times))
    return to_epoch_us_column(times)


class SQLiteWrite(WriteTransaction):
    """One ``BEGIN IMMEDIATE`` transaction's primitives for the commit algorithm (and prune)."""

    def __init__(self, cursor: SQLiteCursor, stream_nos: dict[str, int]) -> None:
        self.cursor = cursor
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
            self.cursor.execute(
                f"SELECT name, no FROM ledger_streams WHERE name IN ({','.join('?' * len(chunk))})", chunk
            )
            found = dict(self.cursor.fetchall())
            numbers.update(found)
            self.new_stream_nos.update(found)
        fresh = [s for s in dict.fromkeys(streams) if s not in numbers]
        if fresh:
            # Numbers follow creation order (what keeps the stream index's writes together);
            # assigned under the write lock, and unique by index besides.
            self.cursor.execute("SELECT COALESCE(MAX(no), 0) FROM ledger_streams")
            highest = int(self.cursor.fetchone()[0])
            assigned = {s: highest + i for i, s in enumerate(fresh, start=1)}
            numbers.update(assigned)
            self.cursor.executemany(
                "INSERT INTO ledger_streams (name, no) VALUES (?, ?)", list(assigned.items())
            )
            self.new_stream_nos.update(assigned)
        return numbers

    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        found: dict[UUID, StoredId] = {}
        # Stay under SQLite's bound-parameter limit.
        for start in range(0, len(event_ids), 900):
            chunk = [e.bytes for e in event_ids[start : start + 900]]
            self.cursor.execute(
                f"SELECT event_id, notification_id, state FROM {TABLE} "
                f"WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in self.cursor.fetchall():
                found[UUID(bytes=r[0])] = StoredId(r[1], r[2])
        return found

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        versions: dict[str, int] = {}
        for start in range(0, len(streams), 900):
            chunk = streams[start : start + 900]
            # One index lookup per stream; a GROUP BY would walk every row of each stream. The
            # pruned-streams lookup runs only for a stream without rows (COALESCE is lazy).
            self.cursor.execute(
                f"WITH s(id) AS (VALUES {','.join(['(?)'] * len(chunk))}) "
                f"SELECT id, COALESCE(({LAST_VERSION_OF.format(name='s.id')}), "
                "(SELECT version FROM ledger_pruned_streams WHERE stream = s.id)) FROM s",
                chunk,
            )
            versions.update({r[0]: r[1] for r in self.cursor.fetchall() if r[1] is not None})
        return versions

    def tail(self) -> Tail:
        self.cursor.execute(
            f"SELECT notification_id, chain, recorded_at FROM {TABLE} ORDER BY notification_id DESC LIMIT 1"
        )
        r = self.cursor.fetchone()
        if r is None:
            # Everything may have been pruned: the chain continues from the head.
            self.cursor.execute("SELECT last_offset, chain, recorded_at FROM ledger_head WHERE id = 1")
            r = self.cursor.fetchone()
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
            self.cursor.executemany(
                f"INSERT INTO {TABLE} ({COLUMNS}, stream_no) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
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
        self.cursor.execute(
            "INSERT INTO ledger_head (id, last_offset, chain, recorded_at) VALUES (1, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET last_offset = excluded.last_offset, "
            "chain = excluded.chain, recorded_at = excluded.recorded_at",
            (tail.offset, tail.chain, _us(tail.recorded_at)),
        )
        if checkpoints:
            self.cursor.executemany(
                "INSERT INTO ledger_checkpoints (offset, chain, recorded_at) VALUES (?, ?, ?)",
                [(cp.offset, cp.chain, _us(cp.recorded_at)) for cp in checkpoints],
            )
