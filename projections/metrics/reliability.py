"""The guide's ``ReliabilityMetrics``: records steps and workflows, reports the metrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ledger import Clock, Ledger, StepRecorded, WorkflowCompleted, utc_now
from projections.fold.bound import ReportingFacade
from projections.fold.storage import MetricStorage
from projections.metrics.reliability_fold import ReliabilityProjection
from projections.metrics.reports import MetricsReport, MetricTargets


class ReliabilityMetrics(ReportingFacade[ReliabilityProjection, MetricsReport]):
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
