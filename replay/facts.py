"""The facts a run records besides its tool calls: steps, evidence, costs, replans and checkpoints."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import (
    CheckpointMarked,
    CostIncurred,
    EvidenceCollected,
    HumanIntervened,
    LedgerEvent,
    PlanRevised,
    StateChanged,
    StepRecorded,
)
from projections.metrics import PriceTable


class FactRecorder:
    """The recording methods of :class:`~replay.RunContext` for everything but tool calls.

    A mixin: the context supplies the attributes below, its clock (``now``) and where an event
    goes (``_record``: straight to the ledger, or buffered until the run completes).
    """

    workflow_id: str
    agent: str | None
    prices: PriceTable
    price_at: datetime | None

    def now(self) -> datetime:
        """The context's clock, as aware UTC."""
        raise NotImplementedError

    def _record(self, event: LedgerEvent) -> None:
        raise NotImplementedError

    def record_step(
        self,
        success: bool = True,
        *,
        agent: str | None = None,
        mode: str | None = None,
        declared_mode: str | None = None,
        required_compensation: bool = False,
        required_human: bool = False,
        error: str | None = None,
        duration_ms: float | None = None,
    ) -> None:
        """Record one step of an agent (``duration_ms``: how long the step took, if measured)."""
        self._record(
            StepRecorded(
                workflow_id=self.workflow_id,
                agent=agent or self.agent or "orchestrator",
                success=success,
                mode=mode,
                declared_mode=declared_mode,
                required_compensation=required_compensation,
                required_human=required_human,
                error=error,
                duration_ms=None if duration_ms is None else round(duration_ms, 3),
                occurred_at=self.now(),
            )
        )

    def collect_evidence(
        self,
        evidence_type: str,
        source: str,
        content: Any,
        *,
        confidence: str = "verified",
        based_on: tuple[UUID, ...] = (),
        agent: str | None = None,
    ) -> UUID:
        """Record an evidence item; return its id (to cite it in ``based_on``)."""
        event = EvidenceCollected(
            workflow_id=self.workflow_id,
            agent=agent or self.agent,
            evidence_type=evidence_type,
            source=source,
            content=content,
            confidence=confidence,  # validated by the model
            based_on=based_on,
            occurred_at=self.now(),
        )
        self._record(event)
        return event.event_id

    def record_llm_cost(
        self,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        *,
        agent: str | None = None,
        amount: Decimal | None = None,
    ) -> None:
        """Record an LLM call's tokens, priced with the context's table unless ``amount`` is given."""
        at = self.now()
        price = self.prices.lookup(model, self.price_at or at) if amount is None else None
        if price is not None:
            amount = price.cost(prompt_tokens, completion_tokens)
        self._record(
            CostIncurred(
                workflow_id=self.workflow_id,
                agent=agent or self.agent,
                category="llm",
                model=model,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                amount=amount,
                price_version=price.version if price is not None else None,
                status="priced" if amount is not None else "unpriced",
                occurred_at=at,
            )
        )

    def revise_plan(self, reason: str | None = None) -> None:
        """Record a replan."""
        self._record(
            PlanRevised(workflow_id=self.workflow_id, agent=self.agent, reason=reason, occurred_at=self.now())
        )

    def human_intervened(self, reason: str | None = None) -> None:
        """Record that a human had to step in."""
        self._record(
            HumanIntervened(
                workflow_id=self.workflow_id, agent=self.agent, reason=reason, occurred_at=self.now()
            )
        )

    def set_state(self, key: str, value: Any) -> None:
        """Record a state change."""
        self._record(
            StateChanged(
                workflow_id=self.workflow_id, agent=self.agent, key=key, value=value, occurred_at=self.now()
            )
        )

    def mark_checkpoint(self, checkpoint_id: str, label: str | None = None) -> None:
        """Record a named point a trail can be built up to."""
        self._record(
            CheckpointMarked(
                workflow_id=self.workflow_id,
                agent=self.agent,
                checkpoint_id=checkpoint_id,
                label=label,
                occurred_at=self.now(),
            )
        )
