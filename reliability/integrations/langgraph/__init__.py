"""LangGraph runs recorded on the ledger and replayed offline (extra: ``[langgraph]``).

The design: the graph is built by the user's own function from a chat model and tools, and
:class:`LangGraphAgent` builds it with *recorded* ones — :class:`RecordedChatModel` puts each
chat model call on the tape (``ctx.call_model``), :func:`recorded_tool` each tool call
(``ctx.call_tool``) — and runs it inside a :class:`~replay.RunContext`, so a replay rebuilds the
same graph over the tape: simulated (no model, no tool runs), strict (real tools, recorded
model) or counterfactual (another model, parameters or prompt). :class:`LedgerCallbackHandler`
records each node run as a step (agent = node name, success or the error); each checkpoint the
graph's checkpointer saves is a ``CheckpointMarked`` with LangGraph's checkpoint id, so a trail
can be cut at it. The workflow id is the run's thread id. A subgraph's nodes are steps named by
their path (``"outer:inner"``); a tool's ``Command`` is recorded as its fields and replayed as a
``Command`` (:mod:`~reliability.integrations.langgraph.commands`); a stream its caller leaves
early completes the run as not successful, ``{"abandoned": …}`` (:meth:`LangGraphAgent.astream`).

Example::

    def build(model, tools):  # the user's graph, from any chat model and tools
        ...
        return graph.compile(checkpointer=InMemorySaver())

    agent = LangGraphAgent(build, ChatOpenAI(model="gpt-4o"), [search, lookup])
    ctx = RunContext(ledger, "thread-42", inputs=inputs)
    await run_workflow(agent, ctx, {"messages": [{"role": "user", "content": "…"}]})
    await Replayer(trail).simulated_replay(agent)
"""

from __future__ import annotations

from reliability.integrations.versions import require

require("langgraph")
require("langchain-core")

from reliability.integrations.langgraph import commands as _commands  # noqa: E402, F401  (registers Command)
from reliability.integrations.langgraph.agent import LangGraphAgent  # noqa: E402
from reliability.integrations.langgraph.callbacks import LedgerCallbackHandler  # noqa: E402
from reliability.integrations.langgraph.chat_model import RecordedChatModel, recorded_tool  # noqa: E402

__all__ = ["LangGraphAgent", "LedgerCallbackHandler", "RecordedChatModel", "recorded_tool"]
