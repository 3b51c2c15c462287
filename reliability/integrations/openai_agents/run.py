"""``AgentsSDKRun``: an orchestrator running an Agents SDK agent inside a run context."""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import json
from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any
from uuid import uuid4

from agents import (
    Agent,
    FunctionTool,
    InputGuardrailTripwireTriggered,
    Model,
    OutputGuardrailTripwireTriggered,
    RunConfig,
    Runner,
    add_trace_processor,
)
from agents.stream_events import StreamEvent

from reliability.integrations.openai_agents.model import RecordedModel
from reliability.integrations.openai_agents.tracing import PROCESSOR, Route
from replay import RunContext, ToolRegistry

_TOOL_CONTEXT: contextvars.ContextVar[Any] = contextvars.ContextVar("sdk_tool_context")


def _real(tool: FunctionTool) -> Callable[..., Any]:
    # The registry entry running the SDK tool for real, with the SDK's tool context of the call.
    async def run(**arguments: Any) -> Any:
        return await tool.on_invoke_tool(_TOOL_CONTEXT.get(None), json.dumps(arguments))

    return run


def _recorded(tool: FunctionTool, ctx: RunContext) -> FunctionTool:
    async def invoke(tool_context: Any, arguments: str) -> Any:
        _TOOL_CONTEXT.set(tool_context)
        return await ctx.call_tool(tool.name, **(json.loads(arguments) if arguments else {}))

    return dataclasses.replace(tool, on_invoke_tool=invoke)


def _agents(start: Agent[Any]) -> list[Agent[Any]]:
    # Every agent reachable by handoffs (a handoff is an Agent, or a Handoff naming none).
    seen: dict[int, Agent[Any]] = {}
    todo = [start]
    while todo:
        agent = todo.pop()
        if id(agent) not in seen:
            seen[id(agent)] = agent
            todo += [h for h in agent.handoffs if isinstance(h, Agent)]
    return list(seen.values())


def _outcome(output: Any) -> Any:
    return output.model_dump(mode="json") if hasattr(output, "model_dump") else output


ABANDONED = "abandoned"
"""The key of the outcome of a run whose stream its caller left early (see :meth:`AgentsSDKRun.stream`)."""


def abandoned_outcome(events: int) -> dict[str, Any]:
    """The outcome of a run its caller stopped reading after ``events`` stream events: the
    reason, and what a replay needs to stop at the same event."""
    return {ABANDONED: f"the caller stopped reading the stream after {events} events", "events": events}


def _left_at(ctx: RunContext) -> int | None:
    # A strict or simulated replay of a run its caller left early leaves it at the same event
    # (a counterfactual one runs to its end: what its caller would read is unknown).
    recorded = ctx.original_outcome
    if ctx.replay_mode not in ("strict", "simulated") or not isinstance(recorded, dict):
        return None
    events = recorded.get("events")
    return events if ABANDONED in recorded and isinstance(events, int) else None


class AgentsSDKRun:
    """Runs ``agent`` with recorded model and tools: the orchestrator replays re-run.

    Args:
        agent: the starting agent; agents it hands off to (``handoffs=[other_agent]``) are
            recorded too.
        model: the model every agent runs on (the SDK's ``RunConfig(model=…)``; a fake in tests).
        model_name: the model name recorded and priced.
        alternatives: models by name a counterfactual ``ModelChange(model=…)`` runs on.
        max_turns: the SDK's turn limit.
        streamed: run with ``Runner.run_streamed`` (the model's ``stream_response``) instead of
            ``Runner.run``; recorded the same (what a replay of a streamed run re-runs).

    The inputs are the SDK's input (a string, or a list of input items). A tripped guardrail
    ends the run as failed, with a failed step ``guardrail:<name>`` whose error is the reason
    the guardrail gave (its ``output_info``).
    """

    def __init__(
        self,
        agent: Agent[Any],
        model: Model,
        model_name: str,
        *,
        alternatives: Mapping[str, Model] | None = None,
        max_turns: int = 10,
        streamed: bool = False,
    ) -> None:
        self.streamed = streamed
        self.agent = agent
        self.model = model
        self.model_name = model_name
        self.alternatives = dict(alternatives or {})
        self.max_turns = max_turns

    def _function_tools(self) -> list[FunctionTool]:
        return [t for a in _agents(self.agent) for t in a.tools if isinstance(t, FunctionTool)]

    @property
    def tool_registry(self) -> ToolRegistry:
        """The real function tools by name (what a strict replay runs)."""
        return ToolRegistry({t.name: _real(t) for t in self._function_tools()})

    def _instrumented(self, ctx: RunContext) -> Agent[Any]:
        clones = {id(a): a.clone() for a in _agents(self.agent)}
        for original_id, clone in clones.items():
            clone.tools = [_recorded(t, ctx) if isinstance(t, FunctionTool) else t for t in clone.tools]
            clone.handoffs = [clones.get(id(h), h) for h in clone.handoffs]
            del original_id
        return clones[id(self.agent)]

    def _start(self, ctx: RunContext) -> tuple[str, Route, RunConfig]:
        if not PROCESSOR.installed:  # the SDK's processors are global: add the ledger's once
            add_trace_processor(PROCESSOR)
            PROCESSOR.installed = True
        if ctx.replay_of is None:
            for tool in self._function_tools():
                if tool.name not in ctx.tools:
                    ctx.tools.register(tool.name, _real(tool))
        trace_id = f"trace_{uuid4().hex}"
        route = PROCESSOR.route(trace_id, ctx, defer_tripwires=True)
        model = RecordedModel(
            self.model, ctx, self.model_name, self.alternatives, agent_of=lambda: route.current_agent
        )
        return trace_id, route, RunConfig(model=model, trace_id=trace_id, workflow_name=ctx.workflow_id)

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        """Run the agent (``Runner.run``, or streamed if ``streamed``); return its final output (JSON).

        A strict or simulated replay of a stream its caller left early streams and leaves it at
        the same event, so it reproduces that run (and its ``abandoned`` outcome).
        """
        left = _left_at(ctx)
        if left is not None:
            read = 0
            async with contextlib.aclosing(self.stream(ctx, inputs)) as s:
                async for _ in s:
                    read += 1
                    if read >= left:
                        break
            return ctx.outcome
        if self.streamed:
            final: list[Any] = []
            async for _ in self._events(ctx, inputs, final):
                pass
            return _outcome(final[0])
        trace_id, _, config = self._start(ctx)
        try:
            result = await Runner.run(
                self._instrumented(ctx), inputs, run_config=config, max_turns=self.max_turns
            )
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as exc:
            _record_tripwire(ctx, exc)
            raise
        finally:
            PROCESSOR.unroute(trace_id)
        return _outcome(result.final_output)

    async def _events(
        self, ctx: RunContext, inputs: Any, final: list[Any]
    ) -> AsyncGenerator[StreamEvent, None]:
        trace_id, _, config = self._start(ctx)
        try:
            result = Runner.run_streamed(
                self._instrumented(ctx), inputs, run_config=config, max_turns=self.max_turns
            )
            async for event in result.stream_events():
                yield event
            final[:] = [result.final_output]
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as exc:
            _record_tripwire(ctx, exc)
            raise
        finally:
            PROCESSOR.unroute(trace_id)

    async def stream(self, ctx: RunContext, inputs: Any) -> AsyncGenerator[StreamEvent, None]:
        """Run the agent with ``Runner.run_streamed``, yielding its stream events, recorded as :meth:`run`.

        When the stream ends the workflow is completed with the final output (JSON). A stream
        its caller leaves early — closes it (``aclose()``, ``break`` inside ``aclosing``), or
        leaves the run context with it still open — completes the workflow as not successful,
        with the outcome :func:`abandoned_outcome`, and flushes a buffered context. A tripped
        guardrail is recorded as in :meth:`run` and raised from the stream.
        """
        final: list[Any] = []
        events = ctx.read_through(self._events(ctx, inputs, final), abandoned_outcome)
        async with contextlib.aclosing(events) as items:
            async for event in items:
                yield event
        ctx.complete(_outcome(final[0]))


def _record_tripwire(
    ctx: RunContext, exc: InputGuardrailTripwireTriggered | OutputGuardrailTripwireTriggered
) -> None:
    # The failed guardrail step, with the reason the guardrail gave (its output_info).
    name = exc.guardrail_result.guardrail.get_name()
    reason = exc.guardrail_result.output.output_info
    ctx.record_step(False, agent=f"guardrail:{name}", error=f"tripwire triggered: {reason}")
