"""Where a guide object's events live: a ledger opened from a URL, in memory by default.

The storages are the guide's names for a ledger: ``MemoryMetricStorage()`` (nothing survives the
process) and ``SQLMetricStorage(db)`` (SQLite or PostgreSQL: a URL, or a connection or pool the
caller already has, whose database the ledger opens with connections of its own).
``RedisMetricStorage``, which also keeps the stored metric projections current before it prunes,
is in ``projections.metrics``.
"""

from __future__ import annotations

from ledger import Clock, Ledger, LedgerError, open_ledger, url_of, utc_now


class MetricStorage:
    """Where a facade's events live: a ledger, opened from a URL."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def close(self) -> None:
        """Close the underlying ledger."""
        self.ledger.close()


class MemoryMetricStorage(MetricStorage):
    """An in-memory ledger (the default): nothing survives the process."""

    def __init__(self, *, clock: Clock = utc_now) -> None:
        super().__init__(open_ledger("memory://", clock=clock))


class SQLMetricStorage(MetricStorage):
    """A SQLite or PostgreSQL ledger, from a URL or from the connection a user has in hand.

    ``SQLMetricStorage("postgresql://…")``, ``SQLMetricStorage("sqlite:///f.db")``, or a psycopg
    ``Connection``/``AsyncConnection``, a psycopg_pool ``ConnectionPool``/``AsyncConnectionPool``
    or a ``sqlite3.Connection`` to a file (see :func:`ledger.url_of`). The ledger does not share
    the caller's connection: it opens its own to the same database, because its appends lock its
    table in transactions of their own, which must not interleave with the caller's transaction.

    Args:
        db: the URL, connection or pool.
        schema: the PostgreSQL schema of the ledger, for a connection or pool (default: the
            first entry of a ``search_path`` in the connection's options, else ``public``).
        clock: returns aware UTC datetimes; the ledger's commit times come from it.

    Raises:
        LedgerError: ``db`` is not a SQLite or PostgreSQL URL or connection, or is an in-memory
            SQLite database (the ledger needs a file other processes can open).
    """

    def __init__(self, db: object, *, schema: str | None = None, clock: Clock = utc_now) -> None:
        url = url_of(db, schema=schema)
        if not url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise LedgerError(f"SQLMetricStorage needs a sqlite:/// or postgresql:// URL, got '{url}'")
        super().__init__(open_ledger(url, clock=clock))
