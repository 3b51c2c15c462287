"""Writes to a PostgreSQL ledger: the primitives of one transaction holding the table lock."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.sql import SQL

from ledger.backends.postgres.layout import COPY_TYPES, TAIL_SQL, Tables
from ledger.backends.rows import GENESIS, Checkpoint, StoredId, StoredRow, Tail
from ledger.backends.transaction import DuplicateKeyError, WriteTransaction


def utc(value: datetime) -> datetime:
    """Return a ``timestamptz`` in UTC (it comes back in the session's time zone)."""
    return value.astimezone(UTC)


class PostgresWrite(WriteTransaction):
    """One table-locked transaction's primitives for the commit algorithm (and prune)."""

    def __init__(
        self,
        tables: Tables,
        cur: psycopg.Cursor[tuple[Any, ...]],
        *,
        last: tuple[tuple[Any, ...] | None] | None = None,
    ) -> None:
        self.tables = tables
        self.cur = cur
        self._last = last
        """The last row (in a 1-tuple; ``(None,)`` if the table is empty) as read when the lock
        was taken; ``None`` once used or if not read."""

    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        self.cur.execute(
            SQL("SELECT event_id, notification_id, state FROM {t} WHERE event_id = ANY(%s)").format(
                t=self.tables.events
            ),
            [event_ids],
        )
        return {row[0]: StoredId(row[1], bytes(row[2])) for row in self.cur.fetchall()}

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        # One index lookup per stream; a GROUP BY would walk every row of each stream. The
        # pruned-streams lookup runs only for a stream without rows (COALESCE is lazy).
        self.cur.execute(
            SQL(
                "SELECT s, COALESCE((SELECT MAX(originator_version) FROM {t} WHERE originator_id = s), "
                "(SELECT version FROM {p} WHERE stream = s)) FROM unnest(%s::text[]) AS s"
            ).format(t=self.tables.events, p=self.tables.pruned_streams),
            [streams],
        )
        return {row[0]: row[1] for row in self.cur.fetchall() if row[1] is not None}

    def tail(self) -> Tail:
        if self._last is not None:
            (row,) = self._last
            self._last = None  # good only before this transaction writes
        else:
            self.cur.execute(SQL(TAIL_SQL).format(t=self.tables.events))
            row = self.cur.fetchone()
        if row is None:
            # Everything may have been pruned: the chain continues from the head.
            self.cur.execute(
                SQL("SELECT last_offset, chain, recorded_at FROM {h}").format(h=self.tables.head)
            )
            row = self.cur.fetchone()
            if row is None:
                return Tail(0, GENESIS, None)
        return Tail(row[0], bytes(row[1]), utc(row[2]))

    def insert(self, rows: list[StoredRow]) -> None:
        # Binary COPY inside the locked transaction: the fastest way in, and the table lock
        # still orders offsets by commit.
        try:
            with self.cur.copy(self.tables.copy) as copy:
                copy.set_types(COPY_TYPES)
                write = copy.write_row
                for r in rows:
                    write(
                        (
                            r.offset,
                            r.stream,
                            r.version,
                            r.type,
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
            ).format(h=self.tables.head),
            [tail.offset, tail.chain, tail.recorded_at],
        )
        if checkpoints:
            self.cur.executemany(
                SQL('INSERT INTO {c} ("offset", chain, recorded_at) VALUES (%s, %s, %s)').format(
                    c=self.tables.checkpoints
                ),
                [(cp.offset, cp.chain, cp.recorded_at) for cp in checkpoints],
            )
