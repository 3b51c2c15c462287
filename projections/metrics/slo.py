"""The guide's SLO tracking: ``SLOTracker`` records explanation times and replay outcomes (MTTE, RSR)."""

from __future__ import annotations

from ledger import Clock, ExplanationRecorded, Ledger, ReplayAttempted, utc_now
from projections.fold.bound import ReportingFacade
from projections.fold.storage import MetricStorage
from projections.metrics.reports import SLOReport, SLOTargets
from projections.metrics.slo_fold import SLOProjection


class SLOTracker(ReportingFacade[SLOProjection, SLOReport]):
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
