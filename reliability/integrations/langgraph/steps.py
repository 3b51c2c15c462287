"""Node runs as steps, from the graph's "tasks" and "updates" streams (no callback handler needed)."""

from __future__ import annotations

import time
from typing import Any

from replay import RunContext


def path_of(checkpoint_ns: str) -> str:
    """A node's path from LangGraph's checkpoint namespace: ``"write:<id>|draft:<id>"`` → ``"write:draft"``.

    LangGraph forbids ``:`` and ``|`` in node names, so the path is unambiguous.
    """
    return ":".join(part.split(":", 1)[0] for part in checkpoint_ns.split("|"))


class NodeSteps:
    """Records each node run as a step; a subgraph's nodes as ``"outer:inner"`` steps of their own.

    The chunks come with their namespace (``subgraphs=True``): ``()`` for the graph's own nodes,
    ``("write:<task id>",)`` for the nodes of the subgraph run by node ``write``, and so on down.
    A task's start chunk starts its clock. Its step is recorded at the first of: its update
    (a node that finished; so a caller who stops reading right after a node's update still has
    the step), or its result chunk (a node that failed, with the error, or wrote nothing). An
    interrupted node is not a step yet (it runs again when resumed), nor a failure. A subgraph
    node's step comes after its inner nodes' steps (it finishes last) and spans them; an inner
    node that handed a ``Command`` to the parent graph ends when its subgraph node does.
    """

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        # task id -> (node path, started, its namespace, node name)
        self.running: dict[str, tuple[str, float, tuple[str, ...], str]] = {}
        self._prefixes: dict[tuple[str, ...], str] = {(): ""}

    def _prefix(self, namespace: tuple[str, ...]) -> str:
        # One string per subgraph run, made once (its chunks all carry the same namespace).
        prefix = self._prefixes.get(namespace)
        if prefix is None:
            prefix = self._prefixes[namespace] = "".join(f"{p.split(':', 1)[0]}:" for p in namespace)
        return prefix

    def _record(self, task_id: str, error: Any = None) -> None:
        node, started, namespace, name = self.running.pop(task_id)
        if error is None and self.running:
            # A subgraph node that finished while nodes of its own run are still "running": they
            # ended by handing a Command to this graph's parent (``Command.PARENT``, LangGraph's
            # control flow, not a failure), which has no update of its own. They are steps that
            # succeeded, before their subgraph node's (matched by namespace, so another run of
            # the same subgraph in parallel keeps its own).
            inner = (*namespace, f"{name}:{task_id}")  # the namespace of the subgraph it ran
            depth = len(inner)
            for waiting in [t for t, (*_, ns, _) in self.running.items() if ns[:depth] == inner]:
                self._record(waiting)
        self.ctx.record_step(
            error is None,
            agent=node,
            error=None if error is None else f"{type(error).__name__}: {error}",
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    def task(self, namespace: tuple[str, ...], chunk: Any) -> None:
        """A "tasks" chunk: a node run starting (its input) or ending (its result or error)."""
        task_id = chunk["id"]
        if "input" in chunk:
            name = str(chunk["name"])
            self.running[task_id] = (self._prefix(namespace) + name, time.perf_counter(), namespace, name)
        elif task_id in self.running and (chunk.get("error") is not None or not chunk.get("interrupts")):
            self._record(task_id, chunk.get("error"))

    def update(self, namespace: tuple[str, ...], chunk: Any) -> None:
        """An "updates" chunk: the nodes named in it finished (the oldest running task of each)."""
        prefix = self._prefix(namespace)
        for node in chunk if isinstance(chunk, dict) else ():
            path = prefix + node
            task_id = next((t for t, (name, *_) in self.running.items() if name == path), None)
            if task_id is not None:
                self._record(task_id)
