"""A LangGraph graph with nested subgraphs and a tool that routes by returning a ``Command``.

``plan`` → ``write`` (a subgraph: ``draft`` asks the model, whose tool call goes to ``tools``;
the tool ``escalate`` returns ``Command(update=…, goto="review")``; ``review`` is a subgraph of
its own, ``check``). Recorded as ``tests/histories/langgraph_nested.jsonl``: a LangGraph upgrade
that changes subgraph namespaces or the ``Command`` form shows up as a divergence there.
"""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command

from reliability.integrations.langgraph import LangGraphAgent
from tests.reliability.integrations.react_graph import fake_model, usage

STEPS = ["plan", "write:draft", "write:tools", "write:review:check", "write:review", "write"]
"""The steps a run records, in order."""


@tool
def escalate(reason: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Send the draft to review: a route, not a plain result."""
    note = ToolMessage(content=f"escalated: {reason}", tool_call_id=tool_call_id)
    return Command(update={"messages": [note]}, goto="review")


def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """The graph (see the module docstring)."""
    bound = model.bind_tools(tools)

    review = StateGraph(MessagesState)
    review.add_node("check", lambda state: {"messages": [AIMessage(content="reviewed")]})
    review.add_edge(START, "check")
    review.add_edge("check", END)

    def draft(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    write = StateGraph(MessagesState)
    write.add_node("draft", draft)
    write.add_node("tools", ToolNode(tools))
    write.add_node("review", review.compile())
    write.add_edge(START, "draft")
    write.add_edge("draft", "tools")
    write.add_edge("review", END)

    graph = StateGraph(MessagesState)
    graph.add_node("plan", lambda state: {"messages": [AIMessage(content="plan: escalate")]})
    graph.add_node("write", write.compile())
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "write")
    graph.add_edge("write", END)
    return graph.compile(checkpointer=InMemorySaver())


def script() -> list[BaseMessage]:
    """The model's one answer: escalate."""
    call = {"name": "escalate", "args": {"reason": "refund over limit"}, "id": "call-7"}
    return [AIMessage(content="", tool_calls=[call], usage_metadata=usage(900, 30))]  # type: ignore[arg-type]


def make_agent(answers: list[BaseMessage] | None = None) -> LangGraphAgent:
    """The agent over a fresh scripted model, priced as gpt-4o."""
    return LangGraphAgent(
        build, fake_model(answers if answers is not None else script()), [escalate], model_name="gpt-4o"
    )
