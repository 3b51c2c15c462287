"""A real LangGraph ReAct graph (two tools, a conditional edge, fake chat models) recorded and replayed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from langchain_core.messages import AIMessage

from ledger import Ledger
from replay import DecisionTrailBuilder, ModelChange, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, fake_model, make_agent, script, usage


async def record(ledger: Ledger, workflow_id: str = "thread-1") -> Any:
    ctx = RunContext(ledger, workflow_id, goal="answer a refund question", inputs=INPUTS)
    outcome = await run_workflow(make_agent(), ctx, INPUTS)
    return outcome, await DecisionTrailBuilder(ledger).build_trail(workflow_id)


@sync
async def test_a_graph_run_is_recorded_with_steps_model_calls_costs_tools_and_checkpoints(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    outcome, trail = await record(ledger)

    assert outcome == "Order A-7 is refundable." == trail.outcome and trail.success
    assert [s.agent for s in trail.steps] == ["agent", "tools", "agent", "tools", "agent"]
    assert all(s.success for s in trail.steps)
    # Each node's step carries its duration, which spans the model or tool call made inside it.
    inside = [c.duration_ms for c in trail.history.model_tape]
    inside[1:1] = [trail.tool_calls[0].duration_ms]
    inside[3:3] = [trail.tool_calls[1].duration_ms]
    spans = [(s.duration_ms, d) for s, d in zip(trail.steps, inside, strict=True)]
    assert all(step is not None and d is not None and step >= d for step, d in spans), spans
    assert [(c.tool, c.arguments) for c in trail.tool_calls] == [
        ("search", {"query": "refunds"}),
        ("lookup", {"order_id": "A-7"}),
    ]
    calls = trail.history.model_tape
    assert [(c.call_index, c.model, c.agent) for c in calls] == [(i, "gpt-4o", "agent") for i in range(3)]
    assert calls[0].messages[0] == {
        "role": "system",
        "content": pytest.approx(calls[0].messages[0]["content"]),
    }
    assert calls[0].messages[1] == {"role": "user", "content": "Can I get a refund for order A-7?"}
    assert [t["function"]["name"] for t in calls[0].tools] == ["search", "lookup"]
    assert calls[0].response["tool_calls"] == [
        {"name": "search", "args": {"query": "refunds"}, "id": "call-1"}
    ]
    assert calls[1].usage == {"input_tokens": 1200, "output_tokens": 40, "reasoning_tokens": 10}
    # Each call's cost is linked to it; cached input is priced as cached (gpt-4o: 2.50 / 1.25 / 10 $/M).
    costs = {c.event_id: c for c in trail.history.of_type("CostIncurred")}
    first = costs[calls[0].cost_event_id]
    assert (first.prompt_tokens, first.cached_tokens, first.completion_tokens) == (1000, 400, 50)
    assert first.amount == Decimal("0.0025")
    assert trail.cost == Decimal("0.0025") + Decimal("0.0034") + Decimal("0.0037")
    # Every checkpoint the checkpointer saved is on the trail, and a trail can stop at one.
    marks = trail.history.of_type("CheckpointMarked")
    assert len(marks) == 7 and marks[-1].label == "langgraph step 5, next: []"
    cut = await DecisionTrailBuilder(ledger).build_trail("thread-1", marks[3].checkpoint_id)
    assert len(cut.tool_calls) == 1 and cut.success is None


@sync
async def test_the_trail_explains_model_calls(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)

    markdown = await DecisionTrailBuilder(ledger).explain_decision(trail)

    assert "**tool calls:** 2; **model calls:** 3;" in markdown
    assert "model call 0: `gpt-4o` → `asks for search`" in markdown
    assert "model call 2: `gpt-4o` → `Order A-7 is refundable.`" in markdown


@sync
async def test_a_simulated_replay_runs_no_model_and_no_tool_and_matches(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    agent = make_agent([])  # a model with no answers: any real call would fail

    def no_tool(**_: Any) -> Any:
        raise AssertionError("a simulated replay ran a tool")

    agent.tools = [t.model_copy(update={"coroutine": no_tool, "func": no_tool}) for t in agent.tools]

    result = await Replayer(trail).simulated_replay(agent)

    assert result.success and result.is_exact_match(), result.differences
    assert result.outcome == "Order A-7 is refundable."


@sync
async def test_a_strict_replay_runs_real_tools_and_serves_the_model_from_the_tape(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    agent = make_agent([])

    result = await Replayer(trail).strict_replay(agent, agent.tool_registry)

    assert result.success and result.is_exact_match(), result.differences


@sync
async def test_a_changed_tool_result_is_reported_at_its_ordinal(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    agent = make_agent([])
    tools = agent.tool_registry
    tools.register("lookup", lambda order_id: {"order_id": order_id, "status": "lost", "refundable": True})

    result = await Replayer(trail).strict_replay(agent, tools)

    assert not result.success
    changed = [(d.location, d.field, d.significance) for d in result.differences]
    # Tool call 1 returned something else; so the next model request (model call 2) differs.
    assert ("call 1", "result", "minor") in changed
    assert ("model call 2", "request", "critical") in changed
    assert result.first_divergence is not None


@sync
async def test_a_changed_model_response_changes_the_path_and_is_reported(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    # From model call 1 on, another model answers at once instead of looking the order up.
    direct = fake_model([AIMessage(content="Yes, refunds take 5 days.", usage_metadata=usage(1200, 10))])  # type: ignore[arg-type]
    agent = make_agent([])
    agent.alternatives = {"gpt-4o-mini": direct}

    result = await Replayer(trail).counterfactual_replay(
        orchestrator=agent, model_change=ModelChange(model="gpt-4o-mini", from_call=1)
    )

    assert result.success and result.outcome == "Yes, refunds take 5 days."
    found = {(d.location, d.field) for d in result.differences}
    assert {("model call 1", "model"), ("model call 2", "model_call"), ("call 1", "call")} <= found
    assert result.deltas["tool_calls"] == -1 and result.deltas["model_calls"] == -1
    assert result.deltas["steps"] == -2 and result.deltas["outcome_changed"] is True
    assert result.deltas["tokens"] == 1210 - (1240 + 1420)
    # gpt-4o-mini is priced: 1200 * 0.15/M + 10 * 0.60/M replaces calls 1 and 2 of gpt-4o.
    assert result.deltas["cost"] == Decimal("0.000186") - Decimal("0.0034") - Decimal("0.0037")


@sync
async def test_a_counterfactual_prompt_change_runs_the_changed_call_for_real(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    agent = make_agent(script()[2:])  # the real (fake) model answers what it is asked now

    result = await Replayer(trail).counterfactual_replay(
        orchestrator=agent, model_change=ModelChange(prompt="Answer briefly.", from_call=2)
    )

    assert result.success and not result.outcome_changed
    replayed = [r.event for r in ledger.read(workflow_id=result.replay_workflow_id, types="ModelCalled")]
    assert replayed[2].messages[0] == {"role": "system", "content": "Answer briefly."}
    assert replayed[1].messages[0]["content"] != "Answer briefly."  # served from the tape
    assert [(d.location, d.field) for d in result.differences] == [("model call 2", "request")]
