"""``LangGraphAgent``: an orchestrator that builds and runs a LangGraph graph inside a run context."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from reliability.integrations.langgraph.callbacks import LedgerCallbackHandler
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
        config: Any = {
            "configurable": {"thread_id": ctx.workflow_id},
            "callbacks": [LedgerCallbackHandler(ctx)],
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
        async for mode, data in graph.astream(
            inputs, config, stream_mode=list(dict.fromkeys([*asked, "values", "checkpoints"]))
        ):
            if mode == "values":
                final[:] = [data]
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
