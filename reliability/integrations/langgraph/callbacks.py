"""A LangChain callback handler that records each LangGraph node run as a step."""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.errors import GraphBubbleUp

from reliability.integrations.langgraph.steps import path_of
from replay import RunContext


def _node_of(name: Any, tags: list[str] | None, metadata: dict[str, Any] | None) -> str | None:
    # A node's own run carries a "graph:step:N" tag and is named after its node; the runnables
    # inside it inherit the node's metadata but not that tag. A subgraph's node is named by its
    # path ("outer:inner"), as the agent's own recording names it.
    meta = metadata or {}
    node = meta.get("langgraph_node")
    if node and name == node and any(t.startswith("graph:step:") for t in tags or ()):
        namespace = meta.get("langgraph_checkpoint_ns")
        return path_of(namespace) if isinstance(namespace, str) and "|" in namespace else str(node)
    return None


class LedgerCallbackHandler(BaseCallbackHandler):
    """Records each node run of a graph as a ``StepRecorded`` (agent = node name, duration).

    A subgraph's nodes are steps too, named by their path (``"outer:inner"``).

    A node that raises is a failed step with the error; LangGraph's own control flow
    (interrupts, ``Command`` to a parent: ``GraphBubbleUp``) is not a failure and is not
    recorded as one. Model and tool calls are recorded by :class:`RecordedChatModel` and
    :func:`recorded_tool`, not here, so nothing is counted twice.

    Args:
        ctx: the run context the steps are recorded in.
        subgraph_nodes_only: record only the nodes of subgraphs (``LangGraphAgent`` records the
            graph's own nodes from its stream, and a subgraph's this way when a ``messages``
            stream must not stream subgraphs).
    """

    run_inline = True  # record in the graph's own order, not from a thread pool

    def __init__(self, ctx: RunContext, *, subgraph_nodes_only: bool = False) -> None:
        self.ctx = ctx
        self.subgraph_nodes_only = subgraph_nodes_only
        self._running: dict[UUID, tuple[str, float]] = {}

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Note when a node starts."""
        node = _node_of(kwargs.get("name"), tags, metadata)
        if node is not None and (":" in node or not self.subgraph_nodes_only):
            self._running[run_id] = (node, time.perf_counter())

    def _finish(self, run_id: UUID, error: str | None) -> None:
        started = self._running.pop(run_id, None)
        if started is None:
            return
        node, at = started
        duration_ms = (time.perf_counter() - at) * 1000
        self.ctx.record_step(error is None, agent=node, error=error, duration_ms=duration_ms)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a node that finished as a successful step."""
        self._finish(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a node that raised as a failed step (control flow excepted)."""
        if isinstance(error, GraphBubbleUp):
            self._running.pop(run_id, None)
            return
        self._finish(run_id, f"{type(error).__name__}: {error}")
