"""Small orchestrators and tools shared by the replay tests, each deterministic.

``Pipeline`` calls one tool per name in ``calls`` (each with the same ``topic``) and records a
step after each; its outcome depends only on the inputs, so changing a tool's *result* changes
nothing but that call's result, while changing the *code* (another order, an extra call, a
missing call) changes exactly the calls it should. ``Reviewer`` scores items, records a step
that fails below a threshold and an LLM cost per item, for exact counterfactual deltas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

from ledger import Ledger
from ledger.store import Clock
from replay import DecisionTrail, DecisionTrailBuilder, RunContext, ToolRegistry, run_workflow

CALLS = ("search", "lookup", "rank", "draft")
"""The recorded pipeline's tool calls, by ordinal."""

TOPIC = {"topic": "refunds"}
"""The recorded pipeline's inputs."""


def echo(tool: str, topic: str) -> dict[str, Any]:
    """What every pipeline tool returns: its name and the topic."""
    return {"tool": tool, "topic": topic}


def pipeline_tools(**replaced: Any) -> ToolRegistry:
    """The pipeline's tools (plus ``audit``), with some replaced by the given callables."""
    tools: dict[str, Any] = {name: partial(echo, name) for name in (*CALLS, "audit")}
    tools.update(replaced)
    return ToolRegistry(tools)


@dataclass(frozen=True)
class Pipeline:
    """Calls ``calls`` in order with ``topic=inputs["topic"]``; one step per call."""

    calls: tuple[str, ...] = CALLS

    async def run(self, ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run the calls; the outcome is the topic only."""
        for name in self.calls:
            await ctx.call_tool(name, topic=inputs["topic"])
            ctx.record_step(True, agent=name)
        return {"topic": inputs["topic"]}


@dataclass(frozen=True)
class SyncPipeline:
    """:class:`Pipeline` for a synchronous orchestrator (``call_tool_sync``)."""

    calls: tuple[str, ...] = CALLS

    def run(self, ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run the calls synchronously; the outcome is the topic only."""
        for name in self.calls:
            ctx.call_tool_sync(name, topic=inputs["topic"])
            ctx.record_step(True, agent=name)
        return {"topic": inputs["topic"]}


class Sampler:
    """A stand-in model that answers the same prompt differently each time (like sampling)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, prompt: str) -> str:
        self.calls += 1
        return f"answer {self.calls} to {prompt}"


class AskTwice:
    """Sends the same prompt to ``llm`` twice and returns both answers."""

    async def run(self, ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Ask twice."""
        first = await ctx.call_tool("llm", prompt=inputs["prompt"])
        second = await ctx.call_tool("llm", prompt=inputs["prompt"])
        return {"answers": [first, second]}


def score(item: str) -> dict[str, int]:
    """An item's score: its length."""
    return {"score": len(item)}


SCORE_TOOLS = ToolRegistry({"score": score})
"""The reviewer's tools."""

PROMPT_TOKENS, COMPLETION_TOKENS = 1000, 500
"""Tokens of each review's LLM call."""

REVIEW_COST = Decimal("0.00045")
"""One review's cost on gpt-4o-mini at $0.15 / $0.60 per million tokens: 1000 * 0.15e-6 + 500 * 0.60e-6."""

REVIEW_INPUTS = {"items": ["ab", "abcd", "abcdef", "abcdefgh"], "threshold": 3}
"""Scores 2, 4, 6, 8 against 3: three of four steps pass (SVR 0.75)."""


class Reviewer:
    """Scores each item; a step fails when the score is below the threshold; one LLM cost per item."""

    async def run(self, ctx: RunContext, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Review the items."""
        passed = 0
        for item in inputs["items"]:
            result = await ctx.call_tool("score", item=item)
            ok = result["score"] >= inputs["threshold"]
            ctx.record_step(ok, agent="reviewer", error=None if ok else "below threshold")
            ctx.record_llm_cost("gpt-4o-mini", PROMPT_TOKENS, COMPLETION_TOKENS, agent="reviewer")
            passed += ok
        return {"passed": passed, "of": len(inputs["items"])}


async def record_run(
    ledger: Ledger,
    clock: Clock,
    workflow_id: str,
    orchestrator: Any,
    inputs: Any,
    tools: ToolRegistry,
    *,
    goal: str | None = None,
) -> DecisionTrail:
    """Run ``orchestrator`` through a :class:`RunContext` and return its trail (no MTTE recorded)."""
    ctx = RunContext(ledger, workflow_id, tools=tools, clock=clock, goal=goal, inputs=inputs)
    await run_workflow(orchestrator, ctx, inputs)
    return DecisionTrailBuilder(ledger, clock=clock, record_mtte=False).build(workflow_id)
