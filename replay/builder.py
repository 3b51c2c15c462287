"""Trails built from a ledger and explained, each explanation's time recorded (MTTE)."""

from __future__ import annotations

import asyncio
import os
import time
import weakref

from ledger import Clock, ExplanationRecorded, Ledger, LedgerError, open_ledger, utc_now
from projections.fold import gc_paused
from projections.metrics import note_automatic
from replay.explanation import explain
from replay.history import CheckpointNotFoundError, History, WorkflowNotFoundError
from replay.tools import Tools, as_tool_registry
from replay.trail import DecisionTrail, build_trail


def _sources(ledger: object, state_manager: object, checkpoint_manager: object) -> list[tuple[str, object]]:
    return [("ledger", ledger), ("state_manager", state_manager), ("checkpoint_manager", checkpoint_manager)]


class DecisionTrailBuilder:
    """Builds trails from a ledger and explains them, recording each explanation's time (MTTE).

    The ledger is the guide's state manager and checkpoint manager: it holds every state change
    and checkpoint. So the ledger to read is ``ledger``, else a ``state_manager`` or
    ``checkpoint_manager`` that is a :class:`~ledger.Ledger` or a ledger URL, else
    ``$RLEDGER_URL``; with none of these, :class:`~ledger.LedgerError` says how to give one.

    Args:
        ledger: the ledger (or its URL) to read and to record MTTE into.
        state_manager: the guide's name for the ledger (a ``Ledger`` or a URL).
        tool_registry: the real tools (a :class:`~replay.ToolRegistry` or a mapping of name to
            callable) that strict and counterfactual replays of this builder's trails run
            when they are given none; building and explaining never run a tool.
        checkpoint_manager: the guide's name for the ledger (a ``Ledger`` or a URL).
        clock: aware UTC time source for the recorded measurements.
        record_mtte: whether to record each explanation (``ExplanationRecorded``).
    """

    def __init__(
        self,
        ledger: Ledger | str | None = None,
        *,
        state_manager: Ledger | str | None = None,
        tool_registry: Tools | None = None,
        checkpoint_manager: Ledger | str | None = None,
        clock: Clock = utc_now,
        record_mtte: bool = True,
    ) -> None:
        given = [(n, v) for n, v in _sources(ledger, state_manager, checkpoint_manager) if v is not None]
        for name, value in given:
            if not isinstance(value, Ledger | str):
                raise TypeError(
                    f"DecisionTrailBuilder({name}=…) must be a Ledger or a ledger URL (the ledger is the "
                    f"state and checkpoint manager), not {type(value).__name__}"
                )
        source = given[0][1] if given else os.environ.get("RLEDGER_URL")
        if source is None:
            raise LedgerError(
                "DecisionTrailBuilder needs a ledger: pass ledger= (or state_manager= / checkpoint_manager=) "
                "as a Ledger or a URL such as 'sqlite:///ledger.db', or set $RLEDGER_URL"
            )
        self._owned = isinstance(source, str)
        self.ledger: Ledger = open_ledger(source) if isinstance(source, str) else source  # type: ignore[assignment]
        self.tools = as_tool_registry(tool_registry)
        self.clock = clock
        self.record_mtte = record_mtte
        # Trails already explained once (by id; weak, so a trail is forgotten with its last use).
        self._explained: weakref.WeakValueDictionary[int, DecisionTrail] = weakref.WeakValueDictionary()

    def close(self) -> None:
        """Close the ledger if this builder opened it from a URL."""
        if self._owned:
            self.ledger.close()

    def build(self, workflow_id: str, checkpoint_id: str | int | None = None) -> DecisionTrail:
        """Build the trail of ``workflow_id`` up to ``checkpoint_id`` (synchronously).

        Raises:
            WorkflowNotFoundError: the ledger has no events of ``workflow_id``.
            CheckpointNotFoundError: the workflow has no such checkpoint.

        Neither is an explanation that failed, so neither records an MTTE measurement; any
        other error reading the history is recorded as a failed explanation and re-raised.
        """
        started = time.perf_counter()
        try:
            history = History.load(self.ledger, workflow_id, checkpoint_id)
        except (WorkflowNotFoundError, CheckpointNotFoundError):
            raise  # nothing to explain: the caller's mistake, not a failed explanation (no MTTE)
        except LedgerError as exc:
            self._record(workflow_id, checkpoint_id, started, error=str(exc))
            raise
        with gc_paused():
            return build_trail(history, ledger=self.ledger, build_started=started, tools=self.tools)

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
        event = ExplanationRecorded(
            workflow_id=workflow_id,
            checkpoint_id=None if checkpoint is None else str(checkpoint),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            success=error is None,
            error=error,
            occurred_at=self.clock(),
        )
        self.ledger.append(event)
        note_automatic(self.ledger, event)  # the guide's record_mtte that follows is this one
