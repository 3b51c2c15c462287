"""``AgentsSDKRun``: an orchestrator running an Agents SDK agent inside a run context."""

from __future__ import annotations

import contextvars
import dataclasses
import json
from collections.abc import Callable, Mapping
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

from reliability.integrations.openai_agents.model import RecordedModel
from reliability.integrations.openai_agents.tracing import PROCESSOR
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


class AgentsSDKRun:
    """Runs ``agent`` with recorded model and tools: the orchestrator replays re-run.

    Args:
        agent: the starting agent; agents it hands off to (``handoffs=[other_agent]``) are
            recorded too.
        model: the model every agent runs on (the SDK's ``RunConfig(model=…)``; a fake in tests).
        model_name: the model name recorded and priced.
        alternatives: models by name a counterfactual ``ModelChange(model=…)`` runs on.
        max_turns: the SDK's turn limit.

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
    ) -> None:
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

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        """Run the agent; return its final output (JSON)."""
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
        config = RunConfig(model=model, trace_id=trace_id, workflow_name=ctx.workflow_id)
        try:
            result = await Runner.run(
                self._instrumented(ctx), inputs, run_config=config, max_turns=self.max_turns
            )
        except (InputGuardrailTripwireTriggered, OutputGuardrailTripwireTriggered) as exc:
            guardrail = exc.guardrail_result.guardrail
            name = guardrail.get_name()
            reason = exc.guardrail_result.output.output_info
            ctx.record_step(False, agent=f"guardrail:{name}", error=f"tripwire triggered: {reason}")
            raise
        finally:
            PROCESSOR.unroute(trace_id)
        return _outcome(result.final_output)
