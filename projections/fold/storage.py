"""Where a guide object's events live: a ledger opened from a URL, in memory by default.

The storages are the guide's names for a ledger: ``MemoryMetricStorage()`` (nothing survives the
process) and ``SQLMetricStorage(url)`` (SQLite or PostgreSQL). ``RedisMetricStorage``, which also
keeps the stored metric projections current before it prunes, is in ``projections.metrics``.
"""

from __future__ import annotations

from ledger import Clock, Ledger, LedgerError, open_ledger, utc_now


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
    """A SQLite or PostgreSQL ledger: ``SQLMetricStorage("postgresql://…")`` or ``"sqlite:///f.db"``."""

    def __init__(self, url: str, *, clock: Clock = utc_now) -> None:
        if not url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise LedgerError(f"SQLMetricStorage needs a sqlite:/// or postgresql:// URL, got '{url}'")
        super().__init__(open_ledger(url, clock=clock))
