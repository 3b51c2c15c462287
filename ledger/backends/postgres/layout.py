"""How a ledger lies in a PostgreSQL schema: its tables, their DDL, and the statements they share.

Tables (in the URL's ``?schema=``, default ``public``): ``ledger_events`` (the rows),
``ledger_head``, ``ledger_checkpoints``, ``ledger_views`` (stored projections),
``ledger_prunes`` and ``ledger_pruned_streams`` (retention), and ``notification_tracking`` (each
projection's position). Every statement is the ledger's own; ``notification_tracking`` keeps
the layout ``eventsourcing`` 9.5 gives its single-row tracking table (and its ``__migration__``
row), so databases made when the library created it open unchanged.
"""

from __future__ import annotations

from psycopg.sql import SQL, Composed, Identifier

TABLE = "ledger_events"
CHANNEL = "ledger_events"
"""The ``NOTIFY`` channel every commit signals (what ``wait_for_events`` listens on)."""

COLUMNS = (
    "notification_id, originator_id, originator_version, topic, event_id, agent, "
    "occurred_at, recorded_at, state, chain"
)
TAIL_SQL = "SELECT notification_id, chain, recorded_at FROM {t} ORDER BY notification_id DESC LIMIT 1"
COPY_TYPES = ("int8", "text", "int8", "text", "uuid", "text", "timestamptz", "timestamptz", "bytea", "bytea")


class Tables:
    """The qualified names of one ledger's tables, and the statements that need them.

    Args:
        schema: the PostgreSQL schema holding the ledger.
    """

    def __init__(self, schema: str) -> None:
        self.schema = schema
        name = Identifier(schema)
        self.events = SQL("{0}.{1}").format(name, Identifier(TABLE))
        self.head = SQL("{0}.ledger_head").format(name)
        self.checkpoints = SQL("{0}.ledger_checkpoints").format(name)
        self.views = SQL("{0}.ledger_views").format(name)
        self.prunes = SQL("{0}.ledger_prunes").format(name)
        self.pruned_streams = SQL("{0}.ledger_pruned_streams").format(name)
        self.tracking = SQL("{0}.notification_tracking").format(name)
        self.copy = SQL("COPY {t} (" + COLUMNS + ") FROM STDIN (FORMAT BINARY)").format(t=self.events)
        self.insert_tracking = SQL(
            "INSERT INTO {k} VALUES (%(name)s, %(position)s) ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = %(position)s WHERE {k}.notification_id < %(position)s "
            "RETURNING notification_id"
        ).format(k=self.tracking)
        """Record a position; returns no row (refused) unless it advances the stored one."""

    def create_statements(self) -> list[Composed]:
        """Return the DDL, run in order under the set-up lock whenever a ledger is opened."""
        t = self.events
        return [
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
            ).format(h=self.head),
            SQL(
                'CREATE TABLE IF NOT EXISTS {c} ("offset" bigint PRIMARY KEY, '
                "chain bytea NOT NULL, recorded_at timestamptz NOT NULL)"
            ).format(c=self.checkpoints),
            SQL(
                "CREATE TABLE IF NOT EXISTS {v} (name text PRIMARY KEY, position bigint NOT NULL, "
                "state bytea NOT NULL, digest text NOT NULL, updated_at timestamptz NOT NULL)"
            ).format(v=self.views),
            SQL(
                'CREATE TABLE IF NOT EXISTS {p} ("offset" bigint PRIMARY KEY, chain bytea NOT NULL, '
                "recorded_at timestamptz NOT NULL, events bigint NOT NULL)"
            ).format(p=self.prunes),
            # A stream's version outlives its pruned rows, so a stream never restarts at 1.
            SQL("CREATE TABLE IF NOT EXISTS {p} (stream text PRIMARY KEY, version bigint NOT NULL)").format(
                p=self.pruned_streams
            ),
            SQL(
                "CREATE TABLE IF NOT EXISTS {k} (application_name text, notification_id bigint, "
                "PRIMARY KEY (application_name)) WITH (autovacuum_enabled = true, "
                "autovacuum_vacuum_threshold = 100000000, autovacuum_vacuum_scale_factor = 0.5, "
                "autovacuum_analyze_threshold = 1000, autovacuum_analyze_scale_factor = 0.01)"
            ).format(k=self.tracking),
            # The row by which eventsourcing 9.5 recognises a single-row tracking table.
            SQL("INSERT INTO {k} VALUES ('__migration__', 1) ON CONFLICT DO NOTHING").format(k=self.tracking),
        ]
