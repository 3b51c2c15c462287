"""A LangGraph tool returning a value with no JSON form (a pydantic model): recorded, replayed as itself."""

from __future__ import annotations

from typing import Any

import pydantic
from langchain_core.tools import tool

from reliability.integrations.langgraph import LangGraphAgent
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, build, fake_model, search

seen: list[str] = []


class OrderStatus(pydantic.BaseModel):
    order_id: str
    refundable: bool


@tool
def lookup(order_id: str) -> OrderStatus:
    """Look an order up (a model object, not JSON)."""
    seen.append(order_id)
    return OrderStatus(order_id=order_id, refundable=True)


def agent(answers: Any = None) -> LangGraphAgent:
    return LangGraphAgent(build, fake_model(answers), [search, lookup], model_name="gpt-4o")


@sync
async def test_a_model_object_tool_result_is_recorded_marked_and_served_back_as_itself(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    await run_workflow(agent(), RunContext(ledger, "lg-values", inputs=INPUTS), INPUTS)
    trail = await DecisionTrailBuilder(ledger).build_trail("lg-values")

    stored = trail.tool_calls[1].result
    assert stored["__ledger_value__"] == "pydantic" and stored["value"] == {
        "order_id": "A-7",
        "refundable": True,
    }
    seen.clear()

    result = await Replayer(trail).simulated_replay(agent([]))

    # The graph saw the same object (its tool message, so the next model request, is the same).
    assert result.success and result.is_exact_match(), result.differences
    assert seen == []  # served from the tape, not run
