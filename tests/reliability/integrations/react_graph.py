"""A ReAct-style LangGraph agent for the tests and the benchmark: two tools, a conditional edge.

The chat model is langchain-core's ``FakeMessagesListChatModel`` answering from a script, so
nothing reaches a network; a fresh model per run (it counts its answers).
"""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, SystemMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from reliability.integrations.langgraph import LangGraphAgent

SYSTEM = "You answer refund questions. Look things up before you answer."


@tool
def search(query: str) -> str:
    """Search the help centre."""
    return f"3 articles about {query}"


@tool
def lookup(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    return {"order_id": order_id, "status": "delivered", "refundable": True}


def usage(prompt: int, completion: int, *, cached: int = 0, reasoning: int = 0) -> dict[str, Any]:
    """A usage_metadata block with every bucket the recorder reads."""
    return {
        "input_tokens": prompt,
        "output_tokens": completion,
        "total_tokens": prompt + completion,
        "input_token_details": {"cache_read": cached},
        "output_token_details": {"reasoning": reasoning},
    }


def script() -> list[BaseMessage]:
    """The model's answers for the usual run: search, then look the order up, then answer."""
    return [
        AIMessage(
            content="",
            tool_calls=[{"name": "search", "args": {"query": "refunds"}, "id": "call-1"}],
            usage_metadata=usage(1000, 50, cached=400),  # type: ignore[arg-type]
        ),
        AIMessage(
            content="",
            tool_calls=[{"name": "lookup", "args": {"order_id": "A-7"}, "id": "call-2"}],
            usage_metadata=usage(1200, 40, reasoning=10),  # type: ignore[arg-type]
        ),
        AIMessage(content="Order A-7 is refundable.", usage_metadata=usage(1400, 20)),  # type: ignore[arg-type]
    ]


def fake_model(answers: list[BaseMessage] | None = None) -> FakeMessagesListChatModel:
    """A fresh scripted chat model."""
    return FakeMessagesListChatModel(responses=answers if answers is not None else script())


def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """The graph: ``agent`` calls the model; a conditional edge goes to ``tools`` or ends."""
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke([SystemMessage(SYSTEM), *state["messages"]])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


def make_agent(answers: list[BaseMessage] | None = None) -> LangGraphAgent:
    """The agent over a fresh scripted model, priced as gpt-4o."""
    return LangGraphAgent(build, fake_model(answers), [search, lookup], model_name="gpt-4o")


INPUTS = {"messages": [{"role": "user", "content": "Can I get a refund for order A-7?"}]}
