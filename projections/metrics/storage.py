"""The guide's Redis storage: a shared ledger that keeps the stored metric projections and prunes."""

from __future__ import annotations

from datetime import timedelta

from ledger import Clock, Ledger, LedgerError, open_ledger, utc_now
from projections.fold.runner import ProjectionRunner, RunnerBusyError
from projections.fold.storage import MetricStorage
from projections.metrics.cost_fold import CostProjection
from projections.metrics.reliability_fold import ReliabilityProjection
from projections.metrics.slo_fold import SLOProjection


class RedisMetricStorage(MetricStorage):
    """A Redis ledger shared by many processes, with automatic clean-up after ``ttl_days``.

    ``RedisMetricStorage(redis_url="redis://localhost:6379", ttl_days=90)``. After appends (at
    most every ``sweep_every`` of the clock) it folds new events into the stored reliability, SLO
    and cost projections, then removes events older than ``ttl_days`` that they have folded: the
    reports keep their totals. ``ttl_days=None`` keeps everything. The URL may name a database
    (``/0``) and a key prefix (``?prefix=name``, default ``ledger``) to keep ledgers apart.
    """

    def __init__(
        self,
        redis_url: str = "redis://localhost:6379",
        ttl_days: float | None = 90,
        *,
        clock: Clock = utc_now,
        sweep_every: timedelta = timedelta(hours=1),
    ) -> None:
        if not redis_url.startswith(("redis:", "rediss:")):
            raise LedgerError(f"RedisMetricStorage needs a redis:// URL, got '{redis_url}'")
        super().__init__(open_ledger(redis_url, clock=clock))
        self.ttl_days = ttl_days
        if ttl_days is not None:
            self.ledger.keep_for(
                timedelta(days=ttl_days), every=sweep_every, prepare=_fold_stored_core_projections
            )


def _fold_stored_core_projections(ledger: Ledger) -> None:
    """Bring the stored reliability, SLO and cost projections up to date before a prune."""
    runner = ProjectionRunner(ledger, (ReliabilityProjection, SLOProjection, CostProjection))
    try:
        runner.acquire()
    except RunnerBusyError:
        return  # another process keeps them current; the prune waits for its saved positions
    try:
        runner.catch_up()
    finally:
        runner.release()
