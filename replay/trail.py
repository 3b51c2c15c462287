"""Decision trails: what a workflow did and why, rebuilt from the ledger alone.

A trail lists the goal, inputs, plan revisions, steps, tool calls, model calls, state changes and evidence
(graded verified / claimed / inferred, with provenance) up to a checkpoint, plus the outcome,
duration, tokens and cost. Claims that no verified evidence backs are listed. ``explain``
(``replay.explanation``) renders a trail as Markdown; building and explaining one through
:class:`~replay.DecisionTrailBuilder` (``replay.builder``) records one MTTE measurement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from ledger import Ledger, as_utc
from projections.guards import Evidence
from replay.history import History
from replay.tools import ToolRegistry


@dataclass(frozen=True)
class StepRecord:
    """One step on a trail."""

    agent: str
    success: bool
    mode: str | None
    declared_mode: str | None
    error: str | None
    offset: int
    duration_ms: float | None = None
    """How long the step took, when its recorder measured it."""


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
class ModelCallRecord:
    """One model call on a trail (an entry of the model tape)."""

    call_index: int | None
    model: str
    response: Any
    usage: dict[str, int]
    success: bool
    error: str | None
    duration_ms: float | None
    offset: int


@dataclass(frozen=True)
class DecisionTrail:
    """Everything a workflow did up to a checkpoint, from its history.

    ``ledger`` is where the trail was read from (``None`` for a history loaded from a file);
    replays record into it by default. ``tools`` are the real tools of the builder that built
    it (``DecisionTrailBuilder(tool_registry=…)``): what strict and counterfactual replays run
    when they are given none.
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
    model_calls: tuple[ModelCallRecord, ...] = ()
    ledger: Ledger | None = field(default=None, repr=False, compare=False)
    build_started: float = field(default=0.0, repr=False, compare=False)
    tools: ToolRegistry | None = field(default=None, repr=False, compare=False)

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
    history: History,
    *,
    ledger: Ledger | None = None,
    build_started: float = 0.0,
    tools: ToolRegistry | None = None,
) -> DecisionTrail:
    """Fold a history into a :class:`DecisionTrail`."""
    goal = None
    inputs: Any = None
    plan: list[str] = []
    steps: list[StepRecord] = []
    calls: list[ToolCallRecord] = []
    model_calls: list[ModelCallRecord] = []
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
                    e["agent"],
                    e["success"],
                    get("mode"),
                    get("declared_mode"),
                    get("error"),
                    rec.offset,
                    get("duration_ms"),
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
        elif kind == "ModelCalled":
            model_calls.append(
                ModelCallRecord(
                    get("call_index"),
                    e["model"],
                    get("response"),
                    get("usage") or {},
                    get("success", True),
                    get("error"),
                    get("duration_ms"),
                    rec.offset,
                )
            )
        elif kind == "EvidenceCollected":
            # The same Evidence as the collector's (projections.guards), with its offset.
            evidence.append(
                Evidence(
                    id=UUID(e["event_id"]),
                    source=e["source"],
                    type=e["evidence_type"],
                    content=get("content"),
                    content_hash=get("content_hash"),
                    confidence=e["confidence"],
                    based_on=tuple(UUID(x) for x in get("based_on") or ()),
                    workflow_id=get("workflow_id"),
                    agent=get("agent"),
                    timestamp=as_utc(datetime.fromisoformat(e["occurred_at"])),
                    offset=rec.offset,
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
        model_calls=tuple(model_calls),
        ledger=ledger,
        build_started=build_started,
        tools=tools,
    )
