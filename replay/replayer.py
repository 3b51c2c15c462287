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

Model calls (``ctx.call_model``, ``replay.models``) are on the tape too, numbered on their own:
strict and simulated replays serve each from the recording by ordinal and report a different
request as a divergence at ``model call N`` (``replay.model_tape``: the fallback by request
hash); counterfactual replays can change the model, its parameters or the prompt
(:class:`~replay.ModelChange`).

A trail cut at a checkpoint (or an offset) before the workflow completed is compared as a
prefix: strict and simulated replays compare the calls up to the cut, and no outcome (the trail
has none). A strict replay's calls past the cut are not "extra"; a simulated replay stops at the
first call past the cut (the tape ends there), which is not a divergence.

Every replay is recorded as its own workflow (``WorkflowStarted.replay_of`` links it to the
original) and a ``ReplayAttempted`` event, which feeds RSR.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ledger import Clock, Ledger, ModelCalled, ReplayAttempted, ToolCalled, new_event_id, open_ledger, utc_now
from projections.metrics import note_automatic
from replay.context import Orchestrator, RunContext, run_workflow
from replay.model_tape import Fallback, ModelChange, ModelTape, compare_model_calls
from replay.redacted import NotComparable, compare_redacted
from replay.result import Difference, ReplayMode, ReplayResult, Significance, live_json, stored_json
from replay.tape import TapeRegistry, compare_calls
from replay.tools import ToolRegistry, Tools, as_tool_registry
from replay.trail import DecisionTrail


def _svr(events: list[Any]) -> float | None:
    steps = [e for e in events if e.type == "StepRecorded"]
    return None if not steps else sum(1 for s in steps if s.success) / len(steps)


def _cost(events: list[Any]) -> Decimal:
    return sum((e.amount for e in events if e.type == "CostIncurred" and e.amount is not None), Decimal(0))


def _tokens(events: list[Any]) -> int:
    return sum(e.prompt_tokens + e.completion_tokens for e in events if e.type == "CostIncurred")


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

    @property
    def cut(self) -> bool:
        """Whether the trail stops at a checkpoint before its workflow completed (a prefix)."""
        return self.trail.checkpoint is not None and not self.trail.completed

    async def _run(
        self,
        mode: ReplayMode,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
        tools: ToolRegistry,
        inputs: Any,
        models: ModelTape,
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
            models=models,
            original_outcome=self.trail.outcome,
        )
        try:
            outcome = await run_workflow(orchestrator, ctx, inputs)
        except Exception as exc:
            return ctx, False, ctx.outcome, f"{type(exc).__name__}: {exc}"
        return ctx, True, outcome, None

    def _model_tape(self, divergences: list[Difference], fallback: Fallback) -> ModelTape:
        return ModelTape(
            self.trail.history.model_tape,
            divergences,
            significance="critical",
            fallback=fallback,
            cut=self.cut,
        )

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
        not_comparable: Sequence[NotComparable] = (),
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
            not_comparable=tuple(not_comparable),
        )
        attempt = ReplayAttempted(
            workflow_id=self.trail.workflow_id,
            checkpoint_id=self.trail.checkpoint,
            replay_mode=mode.value,
            success=success,
            replay_workflow_id=ctx.workflow_id,
            differences=len(differences),
            critical_differences=len(result.critical_differences),
            not_comparable=len(not_comparable),
            error=error,
            occurred_at=self.clock(),
        )
        self.ledger.append(attempt)
        note_automatic(self.ledger, attempt)  # the guide's record_rsr that follows is this one
        return result

    def _outcome_differences(
        self,
        completed: bool,
        outcome: Any,
        success: bool | None,
        significance: Significance,
        not_comparable: list[NotComparable] | None = None,
    ) -> list[Difference]:
        # A run that failed the way the recording failed has the same (error) outcome.
        del completed
        out = []
        ends = self.trail.history.of_type("WorkflowCompleted")
        done = ends[-1] if ends else None
        differs, unknown = compare_redacted(
            done, "outcome", stored_json(self.trail.outcome), live_json(outcome), None
        )
        if not_comparable is not None:
            not_comparable += unknown
        if differs:
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
        tool_registry: Tools | None = None,
        *,
        raise_on_divergence: bool = False,
        model_fallback: Fallback = "ordinal",
    ) -> ReplayResult:
        """Re-run with real tools and recorded model replies; compare calls and outcome.

        ``tool_registry`` (a :class:`ToolRegistry` or a mapping of name to callable) defaults to
        the tools of the builder that built the trail (``DecisionTrailBuilder(tool_registry=…)``).
        Model calls are served from the tape by ordinal (``replay.model_tape``; ``model_fallback=
        "hash"`` also serves a reordered call by its request hash).
        """
        started = time.perf_counter()
        real = as_tool_registry(tool_registry) or self.trail.tools
        if real is None:
            raise ValueError(
                "strict_replay runs real tools: pass tool_registry= (or build the trail with one)"
            )
        model_divergences: list[Difference] = []
        models = self._model_tape(model_divergences, model_fallback)
        ctx, completed, outcome, error = await self._run(
            ReplayMode.STRICT, orchestrator, real, self.trail.inputs, models
        )
        if models.reached_cut and not completed:
            error = None  # stopped at the trail's checkpoint, as it should
        models.missing(ctx.model_call_count)
        replayed = sorted(
            (e for e in ctx.recorded if isinstance(e, ToolCalled)), key=lambda c: c.call_index or 0
        )
        tape = self.trail.history.tape
        unknown: list[NotComparable] = []
        if self.cut:
            differences = compare_calls(tape, replayed[: len(tape)], unknown)
        else:
            differences = compare_calls(tape, replayed, unknown)
            differences += self._outcome_differences(completed, outcome, ctx.success, "critical", unknown)
        differences = model_divergences + differences
        ok = not any(d.significance == "critical" for d in differences)
        result = self._finish(
            ReplayMode.STRICT,
            ctx,
            completed,
            outcome,
            error,
            differences,
            started,
            success=ok,
            not_comparable=unknown,
        )
        return result.raise_if_diverged() if raise_on_divergence else result

    async def simulated_replay(
        self,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any],
        *,
        raise_on_divergence: bool = False,
        model_fallback: Fallback = "ordinal",
    ) -> ReplayResult:
        """Re-run with every tool and model call served from the recording; report divergences.

        Nothing real runs: no tool and no model. ``model_fallback="hash"`` also serves a model
        call whose request moved by its request hash (``replay.model_tape``).
        """
        started = time.perf_counter()
        tape = self.trail.history.tape
        divergences: list[Difference] = []
        tools = TapeRegistry(tape, divergences, significance="critical", cut=self.cut, not_comparable=[])
        models = self._model_tape(divergences, model_fallback)
        ctx, completed, outcome, error = await self._run(
            ReplayMode.SIMULATED, orchestrator, tools, self.trail.inputs, models
        )
        models.missing(ctx.model_call_count)
        if (tools.reached_cut or models.reached_cut) and not completed:
            error = None  # the replay stopped at the trail's checkpoint, as it should
        stopped = any(d.field in ("call", "tool") or d.location.startswith("model") for d in divergences)
        if ctx.call_count < len(tape) and not stopped:
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
        if not self.cut:
            differences += self._outcome_differences(
                completed, outcome, ctx.success, "critical", tools.not_comparable
            )
        ok = not any(d.significance == "critical" for d in differences)
        result = self._finish(
            ReplayMode.SIMULATED,
            ctx,
            completed,
            outcome,
            error,
            differences,
            started,
            success=ok,
            not_comparable=tools.not_comparable,
        )
        return result.raise_if_diverged() if raise_on_divergence else result

    async def counterfactual_replay(
        self,
        alternative_inputs: Mapping[str, Any] | Any = None,
        orchestrator: Orchestrator | Callable[[RunContext, Any], Any] | None = None,
        tool_registry: Tools | None = None,
        *,
        tool_overrides: Mapping[str, Any] | None = None,
        model_change: ModelChange | None = None,
    ) -> ReplayResult:
        """Re-run with changed inputs, tool results and/or model calls; report differences and deltas.

        ``model_change`` (:class:`~replay.ModelChange`) changes the model, its parameters or the
        system prompt from a model call on: the calls before it are served from the tape, the
        changed call and every call after it run for real (or on ``model_change.invoke``). The
        deltas are in cost, tokens, steps, SVR, tool and model calls, and whether the outcome
        changed.
        """
        if orchestrator is None:
            raise ValueError("counterfactual_replay needs orchestrator=")
        started = time.perf_counter()
        original_inputs = self.trail.inputs
        if isinstance(original_inputs, Mapping) and isinstance(alternative_inputs, Mapping):
            inputs: Any = {**original_inputs, **alternative_inputs}
        else:
            inputs = original_inputs if alternative_inputs is None else alternative_inputs
        divergences: list[Difference] = []
        tools = TapeRegistry(
            self.trail.history.tape,
            divergences,
            significance="expected",
            overrides=tool_overrides,
            real=as_tool_registry(tool_registry) or self.trail.tools,
        )
        models = ModelTape(
            self.trail.history.model_tape,
            divergences,
            significance="expected",
            change=model_change,
            counterfactual=True,
        )
        ctx, completed, outcome, error = await self._run(
            ReplayMode.COUNTERFACTUAL, orchestrator, tools, inputs, models
        )
        replayed = sorted(
            (e for e in ctx.recorded if isinstance(e, ToolCalled)), key=lambda c: c.call_index or 0
        )
        differences = [
            Difference(d.field, d.location, "expected", d.original, d.replayed, d.call_index, d.description)
            for d in compare_calls(self.trail.history.tape, replayed)
        ]
        replayed_models = [e for e in ctx.recorded if isinstance(e, ModelCalled)]
        differences += compare_model_calls(self.trail.history.model_tape, replayed_models)
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
            "model_calls": ctx.model_call_count - len(self.trail.history.model_tape),
            "tokens": _tokens(replay_events) - _tokens(original_events),
            "outcome_changed": live_json(outcome) != stored_json(self.trail.outcome),
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
