"""Re-running a recorded workflow: strict, simulated or counterfactual, with a precise diff.

- **Strict**: the orchestrator runs again with real tools; its tool calls (by ordinal: name,
  arguments, result, error) and outcome are compared with the recording. Success = no critical
  difference. A changed tool result alone is minor; anything that changes what the workflow did
  or decided (another tool, other arguments, a missing or extra call, an error, the outcome) is
  critical.
- **Simulated**: the orchestrator runs again with every tool call served from the tape by
  ordinal and name, arguments checked; no real tool runs. A call the tape does not have, or a
  different one, is a divergence at its ordinal. Success = no divergence.
- **Counterfactual**: the orchestrator runs with changed inputs and/or overridden tool results
  (tools from a registry if given, else from the tape); every difference is "expected", success
  means the run completed, and the result carries the deltas in cost, steps and SVR.

Every replay is recorded as its own workflow (``WorkflowStarted.replay_of`` links it to the
original) and a ``ReplayAttempted`` event, which feeds RSR.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

import orjson

from ledger import Clock, Ledger, LedgerError, ReplayAttempted, ToolCalled, new_event_id, open_ledger, utc_now
from replay.context import Orchestrator, RecordedToolFailureError, RunContext, ToolRegistry, run_workflow
from replay.trail import DecisionTrail

Significance = Literal["critical", "minor", "expected"]


class ReplayMode(StrEnum):
    """The three ways to re-run a recorded workflow."""

    STRICT = "strict"
    SIMULATED = "simulated"
    COUNTERFACTUAL = "counterfactual"


@dataclass(frozen=True)
class Difference:
    """One way a replay differs from the recording.

    Attributes:
        field: what differs: ``tool``, ``arguments``, ``result``, ``error``, ``call``,
            ``outcome`` or ``success``.
        location: where: ``call 3`` (the ordinal) or ``outcome``.
        significance: ``critical``, ``minor`` or ``expected``.
        original: the recorded value.
        replayed: the replayed value.
        call_index: the tool call's ordinal, if the difference is in a call.
        description: the difference in words.
    """

    field: str
    location: str
    significance: Significance
    original: Any
    replayed: Any
    call_index: int | None
    description: str


class ReplayDivergedError(LedgerError):
    """Raised by a replay asked to raise on divergence."""

    def __init__(self, result: ReplayResult) -> None:
        self.result = result
        first = result.first_divergence
        super().__init__(
            f"{result.mode} replay of '{result.original_workflow_id}' diverged"
            + (f" at {first.location}: {first.description}" if first else "")
        )


@dataclass(frozen=True)
class ReplayResult:
    """What a replay found; frozen."""

    mode: ReplayMode
    original_workflow_id: str
    replay_workflow_id: str
    success: bool
    completed: bool
    outcome: Any
    original_outcome: Any
    differences: tuple[Difference, ...]
    duration_ms: float
    error: str | None = None
    deltas: Mapping[str, Any] = field(default_factory=dict)

    @property
    def first_divergence(self) -> Difference | None:
        """The first difference that is not expected (by ordinal, the outcome last)."""
        return next((d for d in self.differences if d.significance != "expected"), None)

    @property
    def critical_differences(self) -> list[Difference]:
        """The differences that make a strict or simulated replay fail."""
        return [d for d in self.differences if d.significance == "critical"]

    def is_exact_match(self) -> bool:
        """True when nothing at all differs (not even a minor tool result)."""
        return not self.differences

    def raise_if_diverged(self) -> ReplayResult:
        """Raise :class:`ReplayDivergedError` unless the replay succeeded; else return self."""
        if not self.success:
            raise ReplayDivergedError(self)
        return self

    @property
    def outcome_changed(self) -> bool:
        """Whether the replay's outcome differs from the recording's."""
        return bool(_json(self.outcome) != _json(self.original_outcome))


def _json(value: Any) -> Any:
    """The JSON form of a value, as the ledger stores it (tuples become lists, and so on)."""
    return orjson.loads(orjson.dumps(value, default=str))


class NotOnTapeError(LookupError):
    """A simulated call the tape cannot serve (raised into the orchestrator)."""


class _TapeRegistry(ToolRegistry):
    """Serves calls from the recording by ordinal; overrides and real tools where allowed."""

    def __init__(
        self,
        tape: list[ToolCalled],
        divergences: list[Difference],
        *,
        significance: Significance,
        overrides: Mapping[str, Any] | None = None,
        real: ToolRegistry | None = None,
    ) -> None:
        super().__init__()
        self.tape = tape
        self.divergences = divergences
        self.significance = significance
        self.overrides = dict(overrides or {})
        self.real = real

    def _diverge(self, field_: str, index: int, original: Any, replayed: Any, text: str) -> None:
        self.divergences.append(
            Difference(field_, f"call {index}", self.significance, original, replayed, index, text)
        )

    def _serve(self, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        """Serve a call from an override or the tape (raising what the recording raised)."""
        if call_index >= len(self.tape):
            self._diverge(
                "call",
                call_index,
                None,
                name,
                f"extra call to '{name}': the recording has no call {call_index}",
            )
            raise NotOnTapeError(f"call {call_index} to '{name}' is not on the tape")
        taped = self.tape[call_index]
        if taped.tool != name:
            self._diverge(
                "tool",
                call_index,
                taped.tool,
                name,
                f"called '{name}' where the recording called '{taped.tool}'",
            )
            raise NotOnTapeError(f"call {call_index}: the tape has '{taped.tool}', not '{name}'")
        if _json(arguments) != _json(taped.arguments):
            self._diverge(
                "arguments",
                call_index,
                taped.arguments,
                _json(arguments),
                f"'{name}' called with other arguments",
            )
        if not taped.success:
            raise RecordedToolFailureError(taped.error or "recorded failure")
        return taped.result

    async def call(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        if name in self.overrides:
            value = self.overrides[name]
            return value(**arguments) if callable(value) else value
        if self.real is not None and name in self.real:
            return await self.real.call(ctx, name, call_index, arguments)
        return self._serve(name, call_index, arguments)

    def call_sync(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        if name in self.overrides:
            value = self.overrides[name]
            return value(**arguments) if callable(value) else value
        if self.real is not None and name in self.real:
            return self.real.call_sync(ctx, name, call_index, arguments)
        return self._serve(name, call_index, arguments)


def _compare_calls(original: list[ToolCalled], replayed: list[ToolCalled]) -> list[Difference]:
    out: list[Difference] = []
    for i in range(max(len(original), len(replayed))):
        loc = f"call {i}"
        if i >= len(replayed):
            o = original[i]
            out.append(
                Difference(
                    "call", loc, "critical", o.tool, None, i, f"missing call: the recording called '{o.tool}'"
                )
            )
            continue
        if i >= len(original):
            r = replayed[i]
            out.append(Difference("call", loc, "critical", None, r.tool, i, f"extra call to '{r.tool}'"))
            continue
        o, r = original[i], replayed[i]
        if o.tool != r.tool:
            out.append(
                Difference(
                    "tool", loc, "critical", o.tool, r.tool, i, f"called '{r.tool}' instead of '{o.tool}'"
                )
            )
            continue
        if _json(o.arguments) != _json(r.arguments):
            out.append(
                Difference(
                    "arguments",
                    loc,
                    "critical",
                    o.arguments,
                    r.arguments,
                    i,
                    f"'{o.tool}' called with other arguments",
                )
            )
        if o.success != r.success:
            out.append(
                Difference(
                    "error",
                    loc,
                    "critical",
                    o.error,
                    r.error,
                    i,
                    f"'{o.tool}' {'now fails' if o.success else 'no longer fails'}",
                )
            )
        elif _json(o.result) != _json(r.result):
            out.append(
                Difference(
                    "result", loc, "minor", o.result, r.result, i, f"'{o.tool}' returned another result"
                )
            )
    return out


def _svr(events: list[Any]) -> float | None:
    steps = [e for e in events if e.type == "StepRecorded"]
    return None if not steps else sum(1 for s in steps if s.success) / len(steps)


def _cost(events: list[Any]) -> Decimal:
    return sum((e.amount for e in events if e.type == "CostIncurred" and e.amount is not None), Decimal(0))


class Replayer:
    """Replays the workflow of a decision trail (see the module docstring).

    Args:
        trail: the recording to replay.
        ledger: where replays are recorded (default: the ledger the trail was read from; an
            in-memory ledger for a trail loaded from a file).
        clock: aware UTC time source for the replay's events.
    """

    def __init__(self, trail: DecisionTrail, *, ledger: Ledger | None = None, clock: Clock = utc_now) -> None:
        self.trail = trail
        self.ledger = ledger or trail.ledger or open_ledger("memory://")
        self.clock = clock

    async def _run(
        self,
        mode: ReplayMode,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
        tools: ToolRegistry,
        inputs: Any,
        divergences: list[Difference],
    ) -> tuple[RunContext, bool, Any, str | None]:
        original = self.trail.workflow_id
        ctx = RunContext(
            ledger=self.ledger,
            workflow_id=f"{original}~{mode.value}-{new_event_id().hex[-10:]}",
            tools=tools,
            clock=self.clock,
            buffered=True,
            goal=self.trail.goal,
            inputs=inputs,
            replay_of=original,
            replay_mode=mode.value,
            price_at=self.trail.history.started_at,
        )
        try:
            outcome = await run_workflow(orchestrator, ctx, inputs)
        except Exception as exc:
            return ctx, False, ctx.outcome, f"{type(exc).__name__}: {exc}"
        return ctx, True, outcome, None

    def _finish(
        self,
        mode: ReplayMode,
        ctx: RunContext,
        completed: bool,
        outcome: Any,
        error: str | None,
        differences: list[Difference],
        started: float,
        *,
        success: bool,
        deltas: Mapping[str, Any] | None = None,
    ) -> ReplayResult:
        result = ReplayResult(
            mode=mode,
            original_workflow_id=self.trail.workflow_id,
            replay_workflow_id=ctx.workflow_id,
            success=success,
            completed=completed,
            outcome=outcome,
            original_outcome=self.trail.outcome,
            differences=tuple(differences),
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
            deltas=dict(deltas or {}),
        )
        self.ledger.append(
            ReplayAttempted(
                workflow_id=self.trail.workflow_id,
                checkpoint_id=self.trail.checkpoint,
                replay_mode=mode.value,
                success=success,
                replay_workflow_id=ctx.workflow_id,
                differences=len(differences),
                critical_differences=len(result.critical_differences),
                error=error,
                occurred_at=self.clock(),
            )
        )
        return result

    def _outcome_differences(
        self, completed: bool, outcome: Any, success: bool | None, significance: Significance
    ) -> list[Difference]:
        # A run that failed the way the recording failed has the same (error) outcome.
        del completed
        out = []
        if _json(outcome) != _json(self.trail.outcome):
            out.append(
                Difference(
                    "outcome",
                    "outcome",
                    significance,
                    self.trail.outcome,
                    outcome,
                    None,
                    "the outcome differs",
                )
            )
        if success is not None and self.trail.success is not None and success != self.trail.success:
            out.append(
                Difference(
                    "success",
                    "outcome",
                    significance,
                    self.trail.success,
                    success,
                    None,
                    "the workflow's success differs",
                )
            )
        return out

    async def strict_replay(
        self,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
        tool_registry: ToolRegistry,
        *,
        raise_on_divergence: bool = False,
    ) -> ReplayResult:
        """Re-run with real tools and compare calls and outcome with the recording."""
        started = time.perf_counter()
        ctx, completed, outcome, error = await self._run(
            ReplayMode.STRICT, orchestrator, tool_registry, self.trail.inputs, []
        )
        replayed = sorted(
            (e for e in ctx.recorded if isinstance(e, ToolCalled)), key=lambda c: c.call_index or 0
        )
        differences = _compare_calls(self.trail.history.tape, replayed)
        differences += self._outcome_differences(completed, outcome, ctx.success, "critical")
        ok = not any(d.significance == "critical" for d in differences)
        result = self._finish(
            ReplayMode.STRICT, ctx, completed, outcome, error, differences, started, success=ok
        )
        return result.raise_if_diverged() if raise_on_divergence else result

    async def simulated_replay(
        self,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
        *,
        raise_on_divergence: bool = False,
    ) -> ReplayResult:
        """Re-run with every tool call served from the recording; report divergences."""
        started = time.perf_counter()
        tape = self.trail.history.tape
        divergences: list[Difference] = []
        tools = _TapeRegistry(tape, divergences, significance="critical")
        ctx, completed, outcome, error = await self._run(
            ReplayMode.SIMULATED, orchestrator, tools, self.trail.inputs, divergences
        )
        if ctx.call_count < len(tape) and not any(d.field in ("call", "tool") for d in divergences):
            for i in range(ctx.call_count, len(tape)):
                divergences.append(
                    Difference(
                        "call",
                        f"call {i}",
                        "critical",
                        tape[i].tool,
                        None,
                        i,
                        f"missing call: the recording called '{tape[i].tool}'",
                    )
                )
        differences = sorted(divergences, key=lambda d: d.call_index if d.call_index is not None else 1 << 30)
        differences += self._outcome_differences(completed, outcome, ctx.success, "critical")
        ok = not differences
        result = self._finish(
            ReplayMode.SIMULATED, ctx, completed, outcome, error, differences, started, success=ok
        )
        return result.raise_if_diverged() if raise_on_divergence else result

    async def counterfactual_replay(
        self,
        alternative_inputs: Mapping[str, Any] | Any = None,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any] | None = None,
        tool_registry: ToolRegistry | None = None,
        *,
        tool_overrides: Mapping[str, Any] | None = None,
    ) -> ReplayResult:
        """Re-run with changed inputs and/or tool results; report expected differences and deltas."""
        if orchestrator is None:
            raise ValueError("counterfactual_replay needs orchestrator=")
        started = time.perf_counter()
        original_inputs = self.trail.inputs
        if isinstance(original_inputs, Mapping) and isinstance(alternative_inputs, Mapping):
            inputs: Any = {**original_inputs, **alternative_inputs}
        else:
            inputs = original_inputs if alternative_inputs is None else alternative_inputs
        divergences: list[Difference] = []
        tools = _TapeRegistry(
            self.trail.history.tape,
            divergences,
            significance="expected",
            overrides=tool_overrides,
            real=tool_registry,
        )
        ctx, completed, outcome, error = await self._run(
            ReplayMode.COUNTERFACTUAL, orchestrator, tools, inputs, divergences
        )
        replayed = sorted(
            (e for e in ctx.recorded if isinstance(e, ToolCalled)), key=lambda c: c.call_index or 0
        )
        differences = [
            Difference(d.field, d.location, "expected", d.original, d.replayed, d.call_index, d.description)
            for d in _compare_calls(self.trail.history.tape, replayed)
        ]
        differences += self._outcome_differences(completed, outcome, ctx.success, "expected")
        original_events = [r.event for r in self.trail.history]
        svr_before, svr_after = _svr(original_events), _svr(ctx.recorded)
        replay_events: list[Any] = list(ctx.recorded)
        deltas = {
            "cost": _cost(replay_events) - _cost(original_events),
            "steps": sum(1 for e in replay_events if e.type == "StepRecorded")
            - sum(1 for e in original_events if e.type == "StepRecorded"),
            "svr": None if svr_before is None or svr_after is None else svr_after - svr_before,
            "tool_calls": ctx.call_count - len(self.trail.history.tape),
        }
        return self._finish(
            ReplayMode.COUNTERFACTUAL,
            ctx,
            completed,
            outcome,
            error,
            differences,
            started,
            success=completed,
            deltas=deltas,
        )
