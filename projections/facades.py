"""The user guide's API for metrics and SLOs, and the storages every facade runs on.

Each facade takes a ledger (``ledger=``) or a storage (``storage=``) and a ``clock=``; with
neither it runs on an in-memory ledger, as the guide says. Recording appends events (the guide's
``async`` methods stay ``async`` and use group commit); reports fold whatever is new in the
ledger into the facade's projection first, so two facades on one ledger — in two processes —
see each other's data.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from ledger import (
    ExplanationRecorded,
    Ledger,
    LedgerError,
    ReplayAttempted,
    StepRecorded,
    WorkflowCompleted,
    open_ledger,
)
from ledger.errors import PrunedRangeError
from ledger.events import as_utc, utc_now
from ledger.store import Clock
from projections.costs import CostProjection
from projections.engine import Projection, dt_to_us
from projections.reliability import ReliabilityProjection
from projections.reports import (
    MetricsReport,
    MetricTargets,
    SLOReport,
    SLOTargets,
)
from projections.runner import ProjectionRunner, RunnerBusyError, fold_range, load_stored
from projections.slo import SLOProjection

P = TypeVar("P", bound=Projection)
R = TypeVar("R")


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


class _Facade(Generic[P]):
    projection_type: type[P]

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if storage is not None and ledger is not None:
            raise ValueError("pass either storage= or ledger=, not both")
        if ledger is None:
            ledger = (storage or MemoryMetricStorage(clock=clock)).ledger
        self.ledger = ledger
        self.clock = clock
        # Folding and reporting both touch the projection's state (its columns flush pending
        # rows, its caches advance), so one lock covers the fold and the computation.
        self._lock = threading.RLock()
        self._projection: P = load_stored(ledger, self.projection_type)

    def now(self) -> datetime:
        """The facade's clock, as aware UTC."""
        return as_utc(self.clock())

    def projection(self, as_of: int | None = None) -> P:
        """Return the projection folded up to ``as_of`` (default: everything in the ledger).

        The live projection is shared: compute on it through :meth:`compute` when other threads
        may report at the same time.
        """
        if as_of is not None:
            fresh = self.projection_type()
            fold_range(self.ledger, [fresh], until=min(as_of, self.ledger.latest_offset()))
            return fresh
        with self._lock:
            try:
                fold_range(self.ledger, [self._projection])
            except PrunedRangeError:
                # Retention removed events this facade had not folded: start again from the
                # stored projection (which kept its totals), then fold what remains.
                self._projection = load_stored(self.ledger, self.projection_type)
                fold_range(self.ledger, [self._projection])
            return self._projection

    def compute(self, fn: Callable[[P], R], as_of: int | None = None) -> R:
        """Fold new events and run ``fn`` on the projection, safely against concurrent callers."""
        if as_of is not None:
            return fn(self.projection(as_of))
        with self._lock:
            return fn(self.projection())

    def window(
        self, p: Projection, since: datetime | None, until: datetime | None
    ) -> tuple[int | None, int | None]:
        """Resolve a half-open report window; ``until=None`` means now (the clock).

        When no folded event lies at or after now, an open window gives the same answer, and
        lets the projection serve its incremental all-time report.
        """
        since_us = dt_to_us(since)
        if until is not None:
            return since_us, dt_to_us(until)
        now_us = dt_to_us(self.now())
        if since_us is None and now_us is not None and p.latest_event_us < now_us:
            return None, None
        return since_us, now_us


class _Reporting(_Facade[P], Generic[P, R]):
    """A facade whose report is one projection's report over a window."""

    def _report_from(self, p: P, since_us: int | None, until_us: int | None) -> R:
        raise NotImplementedError

    def report(
        self, since: datetime | None = None, until: datetime | None = None, *, as_of: int | None = None
    ) -> R:
        """Return the report over ``[since, until)`` (event time; ``until`` defaults to now).

        ``as_of`` computes it over the ledger as it was at that offset.
        """

        def run(p: P) -> R:
            since_us, until_us = self.window(p, since, until)
            return self._report_from(p, since_us, until_us)

        return self.compute(run, as_of)

    async def get_report(
        self, since: datetime | None = None, until: datetime | None = None, *, as_of: int | None = None
    ) -> R:
        """Like :meth:`report`, folding new events off the event loop."""
        return await asyncio.to_thread(self.report, since, until, as_of=as_of)


class ReliabilityMetrics(_Reporting[ReliabilityProjection, MetricsReport]):
    """SVR, CR, PC, HIR, MA, tool latency and workflow time (the guide's "Reliability Metrics")."""

    projection_type = ReliabilityProjection

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        targets: MetricTargets | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.targets = targets or MetricTargets()

    async def record_step(
        self,
        agent: str,
        success: bool,
        mode: str | None = None,
        declared_mode: str | None = None,
        *,
        required_compensation: bool = False,
        required_human: bool = False,
        tool_duration_ms: float | None = None,
        workflow_id: str | None = None,
        error: str | None = None,
        occurred_at: datetime | None = None,
    ) -> StepRecorded:
        """Append a ``StepRecorded`` event; ``mode``, ``declared_mode`` may be positional."""
        event = StepRecorded(
            agent=agent,
            success=success,
            mode=mode,
            declared_mode=declared_mode,
            required_compensation=required_compensation,
            required_human=required_human,
            tool_duration_ms=tool_duration_ms,
            workflow_id=workflow_id,
            error=error,
            occurred_at=occurred_at or self.now(),
        )
        await self.ledger.append_async(event)
        return event

    async def record_workflow(
        self,
        workflow_id: str,
        total_steps: int | None = None,
        total_retries: int | None = None,
        *,
        required_compensation: bool = False,
        required_human: bool = False,
        agents_involved: Sequence[str] = (),
        duration_ms: float | None = None,
        success: bool = True,
        occurred_at: datetime | None = None,
    ) -> WorkflowCompleted:
        """Append a ``WorkflowCompleted`` event with the workflow's reported totals."""
        event = WorkflowCompleted(
            workflow_id=workflow_id,
            total_steps=total_steps,
            total_retries=total_retries,
            required_compensation=required_compensation,
            required_human=required_human,
            agents_involved=tuple(agents_involved),
            duration_ms=duration_ms,
            success=success,
            occurred_at=occurred_at or self.now(),
        )
        await self.ledger.append_async(event)
        return event

    def _report_from(
        self, p: ReliabilityProjection, since_us: int | None, until_us: int | None
    ) -> MetricsReport:
        return p.report(self.targets, since_us=since_us, until_us=until_us)


class SLOTracker(_Reporting[SLOProjection, SLOReport]):
    """Mean time to explain and replay success rate (the guide's "SLO Tracking")."""

    projection_type = SLOProjection

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        targets: SLOTargets | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.targets = targets or SLOTargets()

    async def record_mtte(
        self,
        thread_id: str,
        checkpoint_id: str | None = None,
        duration_ms: float = 0.0,
        success: bool = True,
        *,
        error: str | None = None,
    ) -> ExplanationRecorded:
        """Append one explanation timing for workflow ``thread_id``."""
        event = ExplanationRecorded(
            workflow_id=thread_id,
            checkpoint_id=checkpoint_id,
            duration_ms=duration_ms,
            success=success,
            error=error,
            occurred_at=self.now(),
        )
        await self.ledger.append_async(event)
        return event

    async def record_rsr(
        self,
        thread_id: str,
        checkpoint_id: str | None = None,
        replay_mode: str = "strict",
        success: bool = True,
        *,
        replay_workflow_id: str | None = None,
    ) -> ReplayAttempted:
        """Append one replay outcome for workflow ``thread_id``."""
        event = ReplayAttempted(
            workflow_id=thread_id,
            checkpoint_id=checkpoint_id,
            replay_mode=replay_mode,  # validated by the model
            success=success,
            replay_workflow_id=replay_workflow_id,
            occurred_at=self.now(),
        )
        await self.ledger.append_async(event)
        return event

    def _report_from(self, p: SLOProjection, since_us: int | None, until_us: int | None) -> SLOReport:
        return p.report(self.targets, since_us=since_us, until_us=until_us)
