"""Trails built from a ledger and explained, each explanation's time recorded (MTTE)."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

from ledger import Clock, ExplanationRecorded, Ledger, LedgerError, utc_now
from projections.fold import gc_paused
from replay.explanation import explain
from replay.history import History
from replay.trail import DecisionTrail, build_trail


class DecisionTrailBuilder:
    """Builds trails from a ledger and explains them, recording each explanation's time (MTTE).

    The guide's constructor takes a state manager, tool registry and checkpoint manager; here
    the ledger is all three, so they are accepted and ignored.
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        clock: Clock = utc_now,
        record_mtte: bool = True,
        **_legacy: Any,
    ) -> None:
        self.ledger = ledger
        self.clock = clock
        self.record_mtte = record_mtte
        # Trails already explained once (by id; weak, so a trail is forgotten with its last use).
        self._explained: weakref.WeakValueDictionary[int, DecisionTrail] = weakref.WeakValueDictionary()

    def build(self, workflow_id: str, checkpoint_id: str | int | None = None) -> DecisionTrail:
        """Build the trail of ``workflow_id`` up to ``checkpoint_id`` (synchronously)."""
        started = time.perf_counter()
        try:
            history = History.load(self.ledger, workflow_id, checkpoint_id)
        except LedgerError as exc:
            self._record(workflow_id, checkpoint_id, started, error=str(exc))
            raise
        with gc_paused():
            return build_trail(history, ledger=self.ledger, build_started=started)

    async def build_trail(self, thread_id: str, checkpoint_id: str | int | None = None) -> DecisionTrail:
        """Build the trail of ``thread_id`` up to ``checkpoint_id`` without blocking the loop.

        ``thread_id`` is the guide's name for a workflow id; it is kept only in the guide's own
        signatures (``build_trail``, ``record_mtte``, ``record_rsr``).
        """
        return await asyncio.to_thread(self.build, thread_id, checkpoint_id)

    def explain(self, trail: DecisionTrail) -> str:
        """Explain a trail as Markdown and record the MTTE measurement.

        The first explanation of a trail built from this builder's ledger measures from the
        start of its build to the text; explaining the same trail again is a new request that
        measures its own rendering only (measuring from the build would count the time the
        trail sat unused as time to explain).
        """
        asked = time.perf_counter()
        with gc_paused():
            text = explain(trail)
        if trail.ledger is self.ledger and trail.build_started:
            first = self._explained.get(id(trail)) is not trail
            if first:
                self._explained[id(trail)] = trail
            self._record(trail.workflow_id, trail.checkpoint, trail.build_started if first else asked)
        return text

    async def explain_decision(self, trail: DecisionTrail) -> str:
        """The guide's name for :meth:`explain`."""
        return await asyncio.to_thread(self.explain, trail)

    def _record(
        self, workflow_id: str, checkpoint: str | int | None, started: float, *, error: str | None = None
    ) -> None:
        if not self.record_mtte:
            return
        self.ledger.append(
            ExplanationRecorded(
                workflow_id=workflow_id,
                checkpoint_id=None if checkpoint is None else str(checkpoint),
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                success=error is None,
                error=error,
                occurred_at=self.clock(),
            )
        )
