"""How a ledger lies in a SQLite file: its tables and indexes, the SQL its reads share, conversions.

Tables: ``ledger_events`` (the rows; the stream index is on ``(stream_no, originator_version)``),
``ledger_streams`` (stream name -> number, in creation order), ``ledger_head``,
``ledger_checkpoints``, ``ledger_views`` (stored projections), ``ledger_prunes`` and
``ledger_pruned_streams`` (retention), and ``tracking`` (each projection's position). Every
statement is the ledger's own; ``tracking`` keeps the layout ``eventsourcing`` 9.5 gives its
single-row tracking table (and its ``__migration__`` row), so files made when the library
created it open unchanged.
"""

from __future__ import annotations

from typing import Any

from eventsourcing.sqlite import SQLiteCursor

TABLE = "ledger_events"
COLUMNS = (
    "notification_id, originator_id, originator_version, topic, event_id, agent, "
    "occurred_at, recorded_at, state, chain"
)


STREAMS_DDL = (
    "CREATE TABLE IF NOT EXISTS ledger_streams (name TEXT PRIMARY KEY, no INTEGER NOT NULL) WITHOUT ROWID"
)
STREAM_NUMBERS_DDL = "CREATE UNIQUE INDEX IF NOT EXISTS ledger_streams_no ON ledger_streams (no)"


TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS tracking (application_name TEXT, notification_id INTEGER, "
    "PRIMARY KEY (application_name)) WITHOUT ROWID"
)
MIGRATION_ROW = "INSERT OR IGNORE INTO tracking VALUES ('__migration__', 1)"
"""The row by which eventsourcing 9.5 recognises a single-row tracking table (written with it)."""

INSERT_TRACKING = (
    "INSERT INTO tracking VALUES (?1, ?2) ON CONFLICT (application_name) DO UPDATE "
    "SET notification_id = ?2 WHERE tracking.notification_id < ?2 RETURNING notification_id"
)
"""Record a position; returns no row (refused) unless it advances the stored one."""

MAX_TRACKING = "SELECT MAX(notification_id) FROM tracking WHERE application_name = ?"

CREATE_STATEMENTS = [
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
    # a binary search over the primary key (first_recorded_at_or_after). The index
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
    "CREATE TABLE IF NOT EXISTS ledger_pruned_streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL)",
    TRACKING_DDL,
]
"""Run in order, in one transaction, whenever a file is opened (each is idempotent)."""


# Two subqueries: SQLite answers a lone MIN() or MAX() from the primary key, but scans the
# table for both in one SELECT (linear in the ledger's size against constant time).
OFFSET_RANGE_SQL = (
    f"SELECT (SELECT MIN(notification_id) FROM {TABLE}), (SELECT MAX(notification_id) FROM {TABLE})"
)
FIRST_ROW_FROM_SQL = (
    f"SELECT notification_id, recorded_at FROM {TABLE} "
    "WHERE notification_id >= ? ORDER BY notification_id LIMIT 1"
)


def first_recorded_at_or_after(c: Any, when_us: int) -> int | None:
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


STREAM_NO_OF = "(SELECT no FROM ledger_streams WHERE name = {name})"
"""SQL for the number of the stream named by the SQL ``name`` (NULL, matching nothing, if none).

Rows are found by number and also matched by name: the mapping is outside the hash chain, and
a bad one must never let another stream's rows in."""

LAST_VERSION_OF = (
    f"SELECT originator_version FROM {TABLE} "
    f"WHERE stream_no = {STREAM_NO_OF} AND originator_id = {{name}} "
    "ORDER BY originator_version DESC LIMIT 1"
)
"""SQL for a stream's last stored version: walks the stream index back from its end and takes
the first row that is really the stream's (a bad mapping must not make versions repeat); MAX()
with the name check would read every row of the stream."""

READ_STREAM_SQL = (
    f"SELECT notification_id, originator_version, recorded_at, state FROM {TABLE} "
    f"WHERE stream_no = {STREAM_NO_OF.format(name='?1')} AND originator_id = ?1 ORDER BY originator_version"
)
"""SQL for one stream's rows, in version order along the stream index."""


NEEDS_STREAM_NO_TRIGGER = (
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_needs_stream_no BEFORE INSERT ON {TABLE} "
    "WHEN NEW.stream_no IS NULL BEGIN SELECT RAISE(ABORT, "
    "'this ledger file has numbered streams: upgrade every rledger that writes it'); END"
)


def number_streams(c: SQLiteCursor) -> None:
    """Convert a file with the name-keyed stream index to numbered streams (once, in one go).

    Each existing stream is numbered by its lowest stored offset (new streams then number on
    from the highest). Runs under the set-up lock, in one transaction that holds the write lock
    throughout (seconds per million events: the README's Backends table); a no-op on new files
    and on files already converted.
    """
    c.execute(f"SELECT \"notnull\" FROM pragma_table_info('{TABLE}') WHERE name = 'stream_no'")
    column = c.fetchone()
    if column is not None:
        if not column[0]:
            c.execute(NEEDS_STREAM_NO_TRIGGER)  # converted: keep refusing rows without a number
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
        c.execute(NEEDS_STREAM_NO_TRIGGER)
    except BaseException:
        c.execute("ROLLBACK")
        raise
    c.execute("COMMIT")
