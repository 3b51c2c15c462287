"""``LangGraphAgent``: an orchestrator that builds and runs a LangGraph graph inside a run context."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from reliability.integrations.langgraph.chat_model import RecordedChatModel, real_tool, recorded_tool
from replay import RunContext, ToolRegistry

GraphBuilder = Callable[[BaseChatModel, list[BaseTool]], Any]
"""The user's graph: ``build(model, tools) -> compiled graph``."""


def last_message_content(state: Any) -> Any:
    """The default outcome: the content of the final state's last message."""
    messages = state.get("messages") if isinstance(state, dict) else None
    if not messages:
        return None
    last = messages[-1]
    return last.content if isinstance(last, BaseMessage) else last


class _NodeSteps:
    """Node runs as steps, from the "tasks" and "updates" streams (no callback handler needed).

    A task's start chunk starts its clock. Its step is recorded at the first of: its update
    (a node that finished; so a caller who stops reading right after a node's update still has
    the step), or its result chunk (a node that failed, with the error, or wrote nothing). An
    interrupted node is not a step yet (it runs again when resumed), nor a failure.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.running: dict[str, tuple[str, float]] = {}  # task id -> (node, started)

    def _record(self, task_id: str, error: Any = None) -> None:
        node, started = self.running.pop(task_id)
        self.ctx.record_step(
            error is None,
            agent=node,
            error=None if error is None else f"{type(error).__name__}: {error}",
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def task(self, chunk: Any) -> None:
        """A "tasks" chunk: a node run starting (its input) or ending (its result or error)."""
        task_id = chunk["id"]
        if "input" in chunk:
            self.running[task_id] = (str(chunk["name"]), time.perf_counter())
        elif task_id in self.running and (chunk.get("error") is not None or not chunk.get("interrupts")):
            self._record(task_id, chunk.get("error"))

    def update(self, chunk: Any) -> None:
        """An "updates" chunk: the nodes named in it finished (the oldest running task of each)."""
        for node in chunk if isinstance(chunk, dict) else ():
            task_id = next((t for t, (name, _) in self.running.items() if name == node), None)
            if task_id is not None:
                self._record(task_id)


class LangGraphAgent:
    """Runs a graph built from recorded model and tools: the orchestrator replays re-run.

    Args:
        build: the user's function building the compiled graph from a chat model and tools.
        model: the real chat model (or a fake one).
        tools: the real tools.
        model_name: the model name recorded and priced (default: the chat model's).
        outcome: the workflow's outcome from the final state (default: the last message's content).
        recursion_limit: LangGraph's step limit for one run.
        alternatives: chat models by name a counterfactual ``ModelChange(model=…)`` runs on.
    """

    def __init__(
        self,
        build: GraphBuilder,
        model: BaseChatModel,
        tools: Sequence[BaseTool] = (),
        *,
        model_name: str | None = None,
        outcome: Callable[[Any], Any] = last_message_content,
        recursion_limit: int = 25,
        alternatives: dict[str, BaseChatModel] | None = None,
    ) -> None:
        self.alternatives = dict(alternatives or {})
        self._schemas: dict[str, dict[str, Any]] | None = None
        self.build = build
        self.model = model
        self.tools = list(tools)
        self.model_name = model_name or ""
        self.outcome = outcome
        self.recursion_limit = recursion_limit

    @property
    def tool_registry(self) -> ToolRegistry:
        """The real tools by name (what a strict replay runs)."""
        return ToolRegistry({t.name: real_tool(t) for t in self.tools})

    def _graph(self, ctx: RunContext) -> tuple[Any, Any]:
        # The user's graph over recorded model and tools, and the run's config.
        if ctx.replay_of is None:  # recording: the real tools run from the context's registry
            for tool in self.tools:
                if tool.name not in ctx.tools:
                    ctx.tools.register(tool.name, real_tool(tool))
        if self._schemas is None:  # the recorded tools are new each run; their schemas are not
            self._schemas = {t.name: convert_to_openai_tool(t) for t in self.tools}
        model = RecordedChatModel(
            inner=self.model,
            ctx=ctx,
            recorded_model=self.model_name,
            alternatives=self.alternatives,
            schemas=self._schemas,
        )
        graph = self.build(model, [recorded_tool(t, ctx) for t in self.tools])
        # No callback handler: LangChain runs callbacks for every runnable of every node once one
        # is configured (~15 % of a no-I/O run); node runs come from the "tasks" stream instead.
        config: Any = {
            "configurable": {"thread_id": ctx.workflow_id},
            "recursion_limit": self.recursion_limit,
        }
        return graph, config

    async def _chunks(
        self, ctx: RunContext, inputs: Any, modes: Sequence[str], final: list[Any]
    ) -> AsyncIterator[tuple[str, Any]]:
        # One graph run, recorded: the chunks of the caller's stream modes, and the final
        # state in ``final``. The run streams its values and checkpoints whatever the caller
        # asks, so a streamed run records exactly what an unstreamed one does.
        graph, config = self._graph(ctx)
        asked = list(dict.fromkeys(modes))
        steps = _NodeSteps(ctx)
        own = ["values", "checkpoints", "tasks", "updates"]
        async for mode, data in graph.astream(
            inputs, config, stream_mode=list(dict.fromkeys([*asked, *own]))
        ):
            if mode == "values":
                final[:] = [data]
            elif mode == "tasks":
                steps.task(data)
            elif mode == "updates":
                steps.update(data)
            elif mode == "checkpoints":
                checkpoint = data["config"]["configurable"]["checkpoint_id"]
                step = data.get("metadata", {}).get("step")
                ctx.mark_checkpoint(
                    str(checkpoint), f"langgraph step {step}, next: {list(data.get('next', ()))}"
                )
            if mode in asked:
                yield mode, data

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        """Build the graph over recorded model and tools and run it; return the outcome.

        The thread id is the workflow id; each checkpoint the graph's checkpointer saves is
        recorded as ``CheckpointMarked`` with LangGraph's checkpoint id.
        """
        final: list[Any] = []
        async for _ in self._chunks(ctx, inputs, (), final):
            pass
        return self.outcome(final[0] if final else None)

    async def astream(
        self, ctx: RunContext, inputs: Any, stream_mode: str | Sequence[str] = "updates"
    ) -> AsyncGenerator[Any, None]:
        """Run the graph as ``graph.astream`` does, yielding its chunks, recorded as :meth:`run`.

        ``stream_mode`` is LangGraph's: one mode yields its chunks, a list of modes yields
        ``(mode, chunk)`` pairs. When the stream ends the workflow is completed with the
        outcome; a stream left early leaves that to the context (which completes the run,
        without an outcome, when it is left). Each model call's reply arrives whole (a
        ``messages`` chunk per call, not per token): the recorded model answers once per call.
        """
        single = isinstance(stream_mode, str)
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
        final: list[Any] = []
        async for mode, data in self._chunks(ctx, inputs, modes, final):
            yield data if single else (mode, data)
        ctx.complete(self.outcome(final[0] if final else None))

    def stream(
        self, ctx: RunContext, inputs: Any, stream_mode: str | Sequence[str] = "updates"
    ) -> Iterator[Any]:
        """:meth:`astream` for synchronous callers (``graph.stream``): runs on an event loop of its own.

        Call it from a thread with no running event loop (async code uses :meth:`astream`).
        """
        loop = asyncio.new_event_loop()
        chunks = self.astream(ctx, inputs, stream_mode)
        try:
            while True:
                try:
                    yield loop.run_until_complete(anext(chunks))
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(chunks.aclose())
            loop.close()
