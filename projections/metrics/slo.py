"""The guide's SLO tracking: ``SLOTracker`` records explanation times and replay outcomes (MTTE, RSR)."""

from __future__ import annotations

from ledger import Clock, ExplanationRecorded, Ledger, ReplayAttempted, utc_now
from projections.fold.bound import ReportingFacade
from projections.fold.storage import MetricStorage
from projections.metrics.measured_once import claim_automatic
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
        checkpoint_id: str | int | None = None,
        duration_ms: float = 0.0,
        success: bool = True,
        *,
        error: str | None = None,
    ) -> ExplanationRecorded:
        """Append one explanation timing for workflow ``thread_id``.

        When a :class:`~replay.DecisionTrailBuilder` in this process has already recorded the
        explanation of ``thread_id`` at ``checkpoint_id`` (it records every one), this call is
        that measurement: nothing is appended and the builder's event is returned (see
        ``projections.metrics.measured_once``), so following the guide counts it once.
        """
        automatic = claim_automatic(
            self.ledger, ExplanationRecorded, workflow=thread_id, checkpoint=_text(checkpoint_id)
        )
        if automatic is not None:
            return automatic
        event = ExplanationRecorded(
            workflow_id=thread_id,
            checkpoint_id=_text(checkpoint_id),
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
        checkpoint_id: str | int | None = None,
        replay_mode: str = "strict",
        success: bool = True,
        *,
        replay_workflow_id: str | None = None,
    ) -> ReplayAttempted:
        """Append one replay outcome for workflow ``thread_id``.

        When a :class:`~replay.Replayer` in this process has already recorded a ``replay_mode``
        replay of ``thread_id`` at ``checkpoint_id`` (it records every one), this call is that
        observation: nothing is appended and the replayer's event is returned.
        """
        automatic = claim_automatic(
            self.ledger,
            ReplayAttempted,
            workflow=thread_id,
            checkpoint=_text(checkpoint_id),
            mode=replay_mode,
        )
        if automatic is not None:
            return automatic
        event = ReplayAttempted(
            workflow_id=thread_id,
            checkpoint_id=_text(checkpoint_id),
            replay_mode=replay_mode,  # validated by the model
            success=success,
            replay_workflow_id=replay_workflow_id,
            occurred_at=self.now(),
        )
        await self.ledger.append_async(event)
        return event

    def _report_from(self, p: SLOProjection, since_us: int | None, until_us: int | None) -> SLOReport:
        return p.report(self.targets, since_us=since_us, until_us=until_us)


def _text(checkpoint_id: str | int | None) -> str | None:
    # Events store a checkpoint as text; the guide may pass an offset as a number.
    return None if checkpoint_id is None else str(checkpoint_id)
