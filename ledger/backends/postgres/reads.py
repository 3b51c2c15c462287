"""Reads of a PostgreSQL ledger: row pages, streams, offsets, the chain's head and counts.

Each read is one query on a pooled connection (no table lock: writers hold ``IN EXCLUSIVE MODE``,
which readers pass). Offsets are gapless but for pruning, so pages are key ranges on the primary
key; a stream is read on the ``(stream, version)`` index.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed

from ledger.backends.postgres.layout import COLUMNS, TABLE, Tables
from ledger.backends.postgres.pool import LedgerDatastore
from ledger.backends.postgres.writes import utc
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

_utc = utc


def _row(r: Sequence[Any]) -> StoredRow:
    return StoredRow(r[0], r[1], r[2], r[3], r[4], r[5], _utc(r[6]), _utc(r[7]), bytes(r[8]), bytes(r[9]))


class PostgresReads:
    """The read side of :class:`~ledger.backends.postgres.recorder.PostgresLedgerRecorder`."""

    def __init__(self, datastore: LedgerDatastore, url: str) -> None:
        self.datastore = datastore
        self.url = url
        self.tables = Tables(datastore.schema)

    def _fetch(self, sql: Composed | SQL, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.datastore.get_connection("read") as conn:
            cur = conn.cursor(row_factory=tuple_row, binary=True)
            cur.execute(sql, params)
            return cur.fetchall()

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        where, params = where_clause(query, "%s", lambda d: d)
        params.append(limit)
        sql = SQL("SELECT " + COLUMNS + " FROM {t} WHERE " + where + " ORDER BY notification_id LIMIT %s")
        return [_row(r) for r in self._fetch(sql.format(t=self.tables.events), params)]

    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
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
        upper = through if through is not None else 2**62
        rows = self._fetch(sql, [after, min(upper, after + limit), limit])
        if len(rows) < limit and after + limit < upper:
            last = rows[-1][0] if rows else after
            rows += self._fetch(sql, [last, upper, limit - len(rows)])
        return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def verify_scan(self, after: int, limit: int) -> list[VerifyRow]:
        """Return every column raw: the id as its 16 bytes and the times in µs, converted by the
        server (no UUID or datetime object is built per row)."""
        sql = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, uuid_send(event_id), agent, "
            "(extract(epoch FROM occurred_at) * 1000000)::bigint, "
            "(extract(epoch FROM recorded_at) * 1000000)::bigint, state, chain FROM {t} "
            "WHERE notification_id > %s AND notification_id <= %s ORDER BY notification_id LIMIT %s"
        ).format(t=self.tables.events)
        # A tight key range, as scan() reads (the planner serves it from the primary key);
        # past a gap (deleted or pruned rows) the open range finds the rest.
        rows = self._fetch(sql, [after, after + limit, limit])
        if len(rows) < limit:
            last = rows[-1][0] if rows else after
            rows += self._fetch(sql, [last, 2**62, limit - len(rows)])
        return rows

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
