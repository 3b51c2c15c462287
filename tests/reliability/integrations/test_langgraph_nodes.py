"""LangGraph node runs as steps: a node that raises is a failed step with its error; an interrupt is not."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt

from reliability.integrations.langgraph import LangGraphAgent
from replay import DecisionTrailBuilder, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, fake_model


def two_nodes(second: Any) -> Any:
    def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
        graph = StateGraph(MessagesState)
        graph.add_node("first", lambda state: {"messages": [{"role": "user", "content": "more"}]})
        graph.add_node("second", second)
        graph.add_edge(START, "first")
        graph.add_edge("first", "second")
        graph.add_edge("second", END)
        return graph.compile(checkpointer=InMemorySaver())

    return build


def explode(state: MessagesState) -> dict[str, Any]:
    raise ValueError("the second node broke")


def ask(state: MessagesState) -> dict[str, Any]:
    interrupt("needs a human")
    return {}


@sync
async def test_a_node_that_raises_is_a_failed_step_with_its_error(make_ledger: Any) -> None:
    ledger = make_ledger()
    agent = LangGraphAgent(two_nodes(explode), fake_model([]))

    with pytest.raises(ValueError, match="the second node broke"):
        await run_workflow(agent, RunContext(ledger, "lg-fail", inputs=INPUTS), INPUTS)

    trail = await DecisionTrailBuilder(ledger).build_trail("lg-fail")
    assert [(s.agent, s.success, s.error) for s in trail.steps] == [
        ("first", True, None),
        ("second", False, "ValueError: the second node broke"),
    ]
    assert all(s.duration_ms is not None for s in trail.steps)
    assert trail.success is False


@sync
async def test_an_interrupted_node_is_not_a_failed_step(make_ledger: Any) -> None:
    ledger = make_ledger()
    agent = LangGraphAgent(two_nodes(ask), fake_model([]))

    await run_workflow(agent, RunContext(ledger, "lg-interrupt", inputs=INPUTS), INPUTS)

    trail = await DecisionTrailBuilder(ledger).build_trail("lg-interrupt")
    assert [(s.agent, s.success) for s in trail.steps] == [("first", True)]
