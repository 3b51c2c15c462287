"""Decision trails: what a workflow did and why, rebuilt from the ledger alone, and explained.

A trail lists the goal, inputs, plan revisions, steps, tool calls, state changes and evidence
(graded verified / claimed / inferred, with provenance) up to a checkpoint, plus the outcome,
duration, tokens and cost. Claims that no verified evidence backs are listed. Building a trail
and explaining it through :class:`DecisionTrailBuilder` records one MTTE measurement.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from ledger import Clock, ExplanationRecorded, Ledger, LedgerError, utc_now
from projections.fold import gc_paused
from replay.history import History


@dataclass(frozen=True)
class Evidence:
    """One evidence item on a trail."""

    id: UUID
    type: str
    source: str
    content: Any
    confidence: str
    based_on: tuple[UUID, ...]
    agent: str | None
    offset: int


@dataclass(frozen=True)
class StepRecord:
    """One step on a trail."""

    agent: str
    success: bool
    mode: str | None
    declared_mode: str | None
    error: str | None
    offset: int


@dataclass(frozen=True)
class ToolCallRecord:
    """One tool call on a trail (an entry of the tape)."""

    call_index: int | None
    tool: str
    arguments: dict[str, Any]
    result: Any
    success: bool
    error: str | None
    duration_ms: float | None
    offset: int


@dataclass(frozen=True)
class DecisionTrail:
    """Everything a workflow did up to a checkpoint, from its history.

    ``ledger`` is where the trail was read from (``None`` for a history loaded from a file);
    replays record into it by default.
    """

    workflow_id: str
    checkpoint: str | None
    goal: str | None
    inputs: Any
    plan: tuple[str, ...]
    steps: tuple[StepRecord, ...]
    tool_calls: tuple[ToolCallRecord, ...]
    state_changes: tuple[tuple[str, Any], ...]
    evidence: tuple[Evidence, ...]
    outcome: Any
    success: bool | None
    duration_ms: float | None
    tokens: int
    cost: Decimal
    unpriced_cost_events: int
    history: History = field(repr=False, compare=False)
    ledger: Ledger | None = field(default=None, repr=False, compare=False)
    build_started: float = field(default=0.0, repr=False, compare=False)

    @property
    def completed(self) -> bool:
        """Whether the trail reaches the workflow's completion."""
        return self.success is not None

    @property
    def verified(self) -> list[Evidence]:
        """Verified evidence (tools, databases, APIs, user input)."""
        return [e for e in self.evidence if e.confidence == "verified"]

    @property
    def claimed(self) -> list[Evidence]:
        """Claims (agent output)."""
        return [e for e in self.evidence if e.confidence == "claimed"]

    @property
    def inferred(self) -> list[Evidence]:
        """Inferences, each citing the evidence it was derived from."""
        return [e for e in self.evidence if e.confidence == "inferred"]

    @property
    def unbacked_claims(self) -> list[Evidence]:
        """Claims that cite no verified evidence (directly or through an inference)."""
        by_id = {e.id: e for e in self.evidence}

        def backed(item: Evidence, seen: frozenset[UUID]) -> bool:
            for ref in item.based_on:
                source = by_id.get(ref)
                if source is None or ref in seen:
                    continue
                if source.confidence == "verified" or backed(source, seen | {ref}):
                    return True
            return False

        return [c for c in self.claimed if not backed(c, frozenset({c.id}))]


def build_trail(
    history: History, *, ledger: Ledger | None = None, build_started: float = 0.0
) -> DecisionTrail:
    """Fold a history into a :class:`DecisionTrail`."""
    goal = None
    inputs: Any = None
    plan: list[str] = []
    steps: list[StepRecord] = []
    calls: list[ToolCallRecord] = []
    states: list[tuple[str, Any]] = []
    evidence: list[Evidence] = []
    outcome: Any = None
    success: bool | None = None
    duration: float | None = None
    tokens = 0
    cost = Decimal(0)
    unpriced = 0
    # Plain dicts: the events were validated when written (see replay.history).
    for rec in history:
        e = rec.data
        kind = e["type"]
        get = e.get
        if kind == "WorkflowStarted":
            goal, inputs = get("goal"), get("input")
        elif kind == "StepRecorded":
            steps.append(
                StepRecord(
                    e["agent"], e["success"], get("mode"), get("declared_mode"), get("error"), rec.offset
                )
            )
        elif kind == "ToolCalled":
            calls.append(
                ToolCallRecord(
                    get("call_index"),
                    e["tool"],
                    get("arguments") or {},
                    get("result"),
                    get("success", True),
                    get("error"),
                    get("duration_ms"),
                    rec.offset,
                )
            )
        elif kind == "EvidenceCollected":
            content = get("content")
            evidence.append(
                Evidence(
                    UUID(e["event_id"]),
                    e["evidence_type"],
                    e["source"],
                    content if content is not None else get("content_hash"),
                    e["confidence"],
                    tuple(UUID(x) for x in get("based_on") or ()),
                    get("agent"),
                    rec.offset,
                )
            )
        elif kind == "PlanRevised":
            plan.append(get("reason") or "(no reason given)")
        elif kind == "StateChanged":
            states.append((e["key"], get("value")))
        elif kind == "CostIncurred":
            tokens += int(get("prompt_tokens") or 0) + int(get("completion_tokens") or 0)
            if get("amount") is not None:
                cost += Decimal(e["amount"])
            else:
                unpriced += 1
        elif kind == "WorkflowCompleted":
            outcome, success, duration = get("outcome"), get("success", True), get("duration_ms")
    if duration is None and success is not None:
        first = datetime.fromisoformat(history.events[0].data["occurred_at"])
        last = datetime.fromisoformat(history.events[-1].data["occurred_at"])
        duration = (last - first).total_seconds() * 1000
    return DecisionTrail(
        workflow_id=history.workflow_id,
        checkpoint=history.checkpoint,
        goal=goal,
        inputs=inputs,
        plan=tuple(plan),
        steps=tuple(steps),
        tool_calls=tuple(calls),
        state_changes=tuple(states),
        evidence=tuple(evidence),
        outcome=outcome,
        success=success,
        duration_ms=duration,
        tokens=tokens,
        cost=cost,
        unpriced_cost_events=unpriced,
        history=history,
        ledger=ledger,
        build_started=build_started,
    )


def _short(value: Any, limit: int = 120) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value, default=str).decode()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def explain(trail: DecisionTrail) -> str:
    """Return the trail as Markdown: outcome, timeline, evidence by grade, unbacked claims."""
    verdict = "in progress" if trail.success is None else ("succeeded" if trail.success else "FAILED")
    lines = [
        f"# Decision trail: {trail.workflow_id}",
        "",
        f"- **Goal:** {trail.goal or '(none recorded)'}",
        f"- **Inputs:** `{_short(trail.inputs)}`",
        f"- **Outcome:** {verdict} — `{_short(trail.outcome)}`",
        f"- **Duration:** {'unknown' if trail.duration_ms is None else f'{trail.duration_ms:,.0f} ms'}",
        f"- **Steps:** {len(trail.steps)} ({sum(1 for s in trail.steps if not s.success)} failed); "
        f"**tool calls:** {len(trail.tool_calls)}; **replans:** {len(trail.plan)}",
        f"- **Tokens:** {trail.tokens:,}; **cost:** {trail.cost.normalize():f} USD"
        + (f" (+{trail.unpriced_cost_events} unpriced)" if trail.unpriced_cost_events else ""),
    ]
    if trail.checkpoint:
        lines.append(f"- **Up to checkpoint:** {trail.checkpoint}")
    if trail.plan:
        lines += ["", "## Plan revisions", *[f"{i}. {r}" for i, r in enumerate(trail.plan, 1)]]
    lines += ["", "## Timeline", "", "| offset | what | detail |", "|---|---|---|"]
    for rec in trail.history:
        e = rec.data
        kind = e["type"]
        if kind == "ToolCalled":
            detail = f"`{e['tool']}({_short(e.get('arguments'), 60)})` → " + (
                f"`{_short(e.get('result'), 60)}`"
                if e.get("success", True)
                else f"**error** {e.get('error')}"
            )
        elif kind == "StepRecorded":
            detail = f"{e['agent']}: {'ok' if e['success'] else 'failed ' + (e.get('error') or '')}"
            mode, declared = e.get("mode"), e.get("declared_mode")
            if mode and declared and mode.lower() != declared.lower():
                detail += f" (mode {mode}, declared {declared})"
        elif kind == "EvidenceCollected":
            detail = f"{e['confidence']} {e['evidence_type']} from {e['source']}"
        elif kind == "CostIncurred":
            what = e.get("model") or e.get("tool") or e.get("category")
            price = (
                f"{Decimal(e['amount']):f} {e.get('currency', 'USD')}"
                if e.get("amount") is not None
                else "unpriced"
            )
            tokens_used = int(e.get("prompt_tokens") or 0) + int(e.get("completion_tokens") or 0)
            detail = f"{what}: {price}, {tokens_used} tokens"
        elif kind in _SHOWN:
            detail = _short({k: v for k, v in e.items() if k in _SHOWN[kind]})
        else:
            detail = ""
        cell = detail.replace("|", "\\|")
        lines.append(f"| {rec.offset} | {kind} | {cell} |")
    for title, items in (
        ("Verified evidence", trail.verified),
        ("Claims", trail.claimed),
        ("Inferences", trail.inferred),
    ):
        lines += ["", f"## {title} ({len(items)})"]
        lines += [f"- {e.type} from {e.source}: `{_short(e.content, 80)}`" for e in items] or ["- none"]
    unbacked = trail.unbacked_claims
    lines += ["", f"## Claims without verified backing ({len(unbacked)})"]
    lines += [f"- {c.type} from {c.source}: `{_short(c.content, 80)}`" for c in unbacked] or ["- none"]
    return "\n".join(lines) + "\n"


_SHOWN = {
    "WorkflowStarted": ("goal", "replay_of", "replay_mode"),
    "WorkflowCompleted": ("success", "outcome"),
    "CheckpointMarked": ("checkpoint_id", "label"),
    "StateChanged": ("key", "value"),
    "PlanRevised": ("reason",),
}


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

    def build(self, thread_id: str, checkpoint_id: str | int | None = None) -> DecisionTrail:
        """Build the trail of ``thread_id`` up to ``checkpoint_id`` (synchronously)."""
        started = time.perf_counter()
        try:
            history = History.load(self.ledger, thread_id, checkpoint_id)
        except LedgerError as exc:
            self._record(thread_id, checkpoint_id, started, error=str(exc))
            raise
        with gc_paused():
            return build_trail(history, ledger=self.ledger, build_started=started)

    async def build_trail(self, thread_id: str, checkpoint_id: str | int | None = None) -> DecisionTrail:
        """Build the trail of ``thread_id`` up to ``checkpoint_id`` without blocking the loop."""
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
