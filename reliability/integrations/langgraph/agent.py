"""``LangGraphAgent``: an orchestrator that builds and runs a LangGraph graph inside a run context."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from reliability.integrations.langgraph.callbacks import LedgerCallbackHandler
from reliability.integrations.langgraph.chat_model import RecordedChatModel, real_tool, recorded_tool
from reliability.integrations.langgraph.steps import NodeSteps
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


ABANDONED = "abandoned"
"""The key of the outcome of a run whose stream its caller left early (see :meth:`LangGraphAgent.astream`)."""


def abandoned_outcome(chunks: int, stream_mode: str | Sequence[str], subgraphs: bool) -> dict[str, Any]:
    """The outcome of a run its caller stopped reading after ``chunks`` chunks: the reason, and
    what a replay needs to stop at the same chunk (the stream's modes and ``subgraphs``)."""
    return {
        ABANDONED: f"the caller stopped reading the stream after {chunks} chunks",
        "chunks": chunks,
        "stream_mode": stream_mode if isinstance(stream_mode, str) else list(stream_mode),
        "subgraphs": subgraphs,
    }


def _left_at(ctx: RunContext) -> tuple[int, str | list[str], bool] | None:
    # A strict or simulated replay of a run its caller left early leaves it at the same chunk
    # (a counterfactual one runs the graph to its end: what its caller would read is unknown).
    recorded = ctx.original_outcome
    if ctx.replay_mode not in ("strict", "simulated") or not isinstance(recorded, dict):
        return None
    if ABANDONED not in recorded or not isinstance(recorded.get("chunks"), int):
        return None
    return recorded["chunks"], recorded.get("stream_mode", "updates"), bool(recorded.get("subgraphs"))


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
        self, ctx: RunContext, inputs: Any, modes: Sequence[str], subgraphs: bool, final: list[Any]
    ) -> AsyncGenerator[tuple[tuple[str, ...], str, Any], None]:
        # One graph run, recorded: the chunks of the caller's stream modes (with their namespace),
        # and the final state in ``final``. The run streams its values and checkpoints whatever
        # the caller asks, so a streamed run records exactly what an unstreamed one does; it
        # streams its subgraphs too (their nodes are steps), the caller gets theirs if asked.
        graph, config = self._graph(ctx)
        asked = list(dict.fromkeys(modes))
        steps = NodeSteps(ctx)
        own = ["values", "checkpoints", "tasks", "updates"]
        # Subgraphs are streamed only for a graph that has some (streaming them costs LangGraph
        # ~5 % of a run that has none). LangGraph's "messages" stream differs with subgraphs
        # streamed (a subgraph's messages come from its nodes, not whole from the subgraph
        # node): for a caller who asks for it without subgraphs, a callback handler records the
        # subgraphs' nodes instead (the messages stream runs callbacks anyway).
        has_subgraphs = next(iter(graph.get_subgraphs()), None) is not None
        nested = subgraphs or (has_subgraphs and "messages" not in asked)
        if has_subgraphs and not nested:
            config["callbacks"] = [LedgerCallbackHandler(ctx, subgraph_nodes_only=True)]
        async for item in graph.astream(
            inputs, config, stream_mode=list(dict.fromkeys([*asked, *own])), subgraphs=nested
        ):
            namespace, mode, data = item if nested else ((), *item)
            if mode == "tasks":
                steps.task(namespace, data)
            elif mode == "updates":
                steps.update(namespace, data)
            elif namespace:  # a subgraph's values and checkpoints are its parent's business
                pass
            elif mode == "values":
                final[:] = [data]
            elif mode == "checkpoints":
                checkpoint = data["config"]["configurable"]["checkpoint_id"]
                step = data.get("metadata", {}).get("step")
                ctx.mark_checkpoint(
                    str(checkpoint), f"langgraph step {step}, next: {list(data.get('next', ()))}"
                )
            if mode in asked and (subgraphs or not namespace):
                yield namespace, mode, data

    async def run(self, ctx: RunContext, inputs: Any) -> Any:
        """Build the graph over recorded model and tools and run it; return the outcome.

        The thread id is the workflow id; each checkpoint the graph's checkpointer saves is
        recorded as ``CheckpointMarked`` with LangGraph's checkpoint id. A strict or simulated
        replay of a stream its caller left early streams the same modes and leaves it at the
        same chunk, so it reproduces that run (and its ``abandoned`` outcome).
        """
        left = _left_at(ctx)
        if left is not None:
            chunks, stream_mode, subgraphs = left
            read = 0
            async with contextlib.aclosing(self.astream(ctx, inputs, stream_mode, subgraphs=subgraphs)) as s:
                async for _ in s:
                    read += 1
                    if read >= chunks:
                        break
            return ctx.outcome
        final: list[Any] = []
        async for _ in self._chunks(ctx, inputs, (), False, final):
            pass
        return self.outcome(final[0] if final else None)

    async def astream(
        self,
        ctx: RunContext,
        inputs: Any,
        stream_mode: str | Sequence[str] = "updates",
        *,
        subgraphs: bool = False,
    ) -> AsyncGenerator[Any, None]:
        """Run the graph as ``graph.astream`` does, yielding its chunks, recorded as :meth:`run`.

        ``stream_mode`` and ``subgraphs`` are LangGraph's: one mode yields its chunks, a list of
        modes yields ``(mode, chunk)`` pairs; with ``subgraphs=True`` each is preceded by its
        namespace (``(namespace, chunk)``, ``(namespace, mode, chunk)``). When the stream ends the
        workflow is completed with the outcome. A stream its caller leaves early — closes it
        (``break`` out of :meth:`stream`, ``aclose()``), or leaves the run context with it still
        open — completes the workflow as not successful, with the outcome
        :func:`abandoned_outcome` (``{"abandoned": "the caller stopped reading the stream after N
        chunks", …}``), and flushes a buffered context. In ``messages`` mode a chat model that
        streams sends its reply token by token, recorded once whole (``RecordedChatModel._stream``).
        """
        single = isinstance(stream_mode, str)
        modes = [stream_mode] if isinstance(stream_mode, str) else list(stream_mode)
        final: list[Any] = []
        chunks = ctx.read_through(
            self._chunks(ctx, inputs, modes, subgraphs, final),
            lambda read: abandoned_outcome(read, stream_mode, subgraphs),
        )
        async with contextlib.aclosing(chunks) as items:
            async for namespace, mode, data in items:
                if subgraphs:
                    yield (namespace, data) if single else (namespace, mode, data)
                else:
                    yield data if single else (mode, data)
        ctx.complete(self.outcome(final[0] if final else None))

    def stream(
        self,
        ctx: RunContext,
        inputs: Any,
        stream_mode: str | Sequence[str] = "updates",
        *,
        subgraphs: bool = False,
    ) -> Iterator[Any]:
        """:meth:`astream` for synchronous callers (``graph.stream``): runs on an event loop of its own.

        Call it from a thread with no running event loop (async code uses :meth:`astream`).
        """
        loop = asyncio.new_event_loop()
        chunks = self.astream(ctx, inputs, stream_mode, subgraphs=subgraphs)
        try:
            while True:
                try:
                    yield loop.run_until_complete(anext(chunks))
                except StopAsyncIteration:
                    return
        finally:
            loop.run_until_complete(chunks.aclose())
            loop.close()
