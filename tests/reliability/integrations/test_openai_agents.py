"""The OpenAI Agents SDK with a fake ``Model``: a tool, a handoff, a guardrail; recorded and replayed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest
from agents import InputGuardrailTripwireTriggered

from ledger import Ledger
from replay import DecisionTrailBuilder, ModelChange, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.sdk_agents import FakeModel, call, make_run, text

QUESTION = "Where is order A-7?"


async def record(ledger: Ledger, question: str = QUESTION, workflow_id: str = "sdk-1") -> Any:
    ctx = RunContext(ledger, workflow_id, goal="answer the customer", inputs=question)
    await run_workflow(make_run(), ctx, question)
    return await DecisionTrailBuilder(ledger).build_trail(workflow_id)


@sync
async def test_an_agent_run_with_a_tool_and_a_handoff_is_recorded(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger)

    assert trail.outcome == "Order A-7 was delivered; a refund is possible." and trail.success
    assert [(s.agent, s.success) for s in trail.steps] == [
        ("guardrail:no_swearing", True),
        ("triage", True),
        ("billing", True),
    ]
    assert trail.state_changes == (("active_agent", "billing"),)
    assert [(c.tool, c.arguments, c.result) for c in trail.tool_calls] == [
        ("order_status", {"order_id": "A-7"}, "order 7: delivered".replace("7", "A-7"))
    ]
    calls = trail.history.model_tape
    # Each step carries its span's duration: an agent's spans its model calls (and its tool's).
    guard, triage, billing = (s.duration_ms for s in trail.steps)
    assert guard is not None and triage is not None and billing is not None
    assert triage >= calls[0].duration_ms
    assert billing >= calls[1].duration_ms + calls[2].duration_ms + trail.tool_calls[0].duration_ms
    assert [(c.call_index, c.agent) for c in calls] == [(0, "triage"), (1, "billing"), (2, "billing")]
    assert calls[0].messages == (
        {"role": "system", "content": "Route the customer."},
        {"role": "user", "content": QUESTION},
    )
    assert {"handoff": "transfer_to_billing"}.items() <= calls[0].tools[0].items()
    assert calls[1].tools[0]["name"] == "order_status"
    assert calls[0].response["tool_calls"][0]["name"] == "transfer_to_billing"
    assert calls[0].usage == {
        "input_tokens": 500,
        "output_tokens": 40,
        "cached_tokens": 100,
        "reasoning_tokens": 5,
    }
    # gpt-4o-mini: 400 * 0.15/M + 100 * 0.075/M + 40 * 0.60/M, each call linked to its cost.
    costs = {c.event_id: c.amount for c in trail.history.of_type("CostIncurred")}
    assert [costs[c.cost_event_id] for c in calls] == [Decimal("0.0000915")] * 3


@sync
async def test_a_simulated_replay_needs_no_model_and_no_tool_and_matches(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger)
    run = make_run([])  # a model with no answers left

    async def boom(*_: Any) -> Any:
        raise AssertionError("a simulated replay ran a tool")

    billing = run.agent.handoffs[0]
    billing.tools = [dataclasses.replace(t, on_invoke_tool=boom) for t in billing.tools]  # type: ignore[union-attr, type-var]

    result = await Replayer(trail).simulated_replay(run)

    assert result.success and result.is_exact_match(), result.differences
    assert not run.model.asked  # type: ignore[attr-defined]


@sync
async def test_a_tripped_guardrail_is_a_failed_step_with_its_reason(make_ledger: Any) -> None:
    ledger = make_ledger()
    ctx = RunContext(ledger, "sdk-rude", inputs="darn it, where is A-7?")

    with pytest.raises(InputGuardrailTripwireTriggered):
        await run_workflow(make_run(), ctx, "darn it, where is A-7?")

    trail = await DecisionTrailBuilder(ledger).build_trail("sdk-rude")
    failed = [s for s in trail.steps if not s.success]
    assert [(s.agent, s.error) for s in failed] == [
        ("guardrail:no_swearing", "tripwire triggered: rude word 'darn'")
    ]
    assert trail.success is False and trail.history.model_tape == []  # it stopped before the model


@sync
async def test_a_changed_model_answer_changes_the_path_and_is_reported(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger)
    # Another model answers billing at once, without the tool.
    run = make_run([])
    run.alternatives = {"gpt-4o": FakeModel([[text("It is on its way.", 9)]])}

    result = await Replayer(trail).counterfactual_replay(
        orchestrator=run, model_change=ModelChange(model="gpt-4o", from_call=1)
    )

    assert result.success and result.outcome == "It is on its way."
    found = {(d.location, d.field) for d in result.differences}
    assert {("model call 1", "model"), ("model call 2", "model_call"), ("call 0", "call")} <= found
    assert result.deltas["tool_calls"] == -1 and result.deltas["model_calls"] == -1


@sync
async def test_a_changed_tool_result_is_reported_at_its_ordinal(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger)
    run = make_run([])
    tools = run.tool_registry
    tools.register("order_status", lambda order_id: f"order {order_id}: lost")

    result = await Replayer(trail).strict_replay(run, tools)

    changed = [(d.location, d.field, d.significance) for d in result.differences]
    assert ("call 0", "result", "minor") in changed and ("model call 2", "request", "critical") in changed
    assert not result.success


def test_the_fake_model_scripts_are_what_the_tests_think() -> None:
    assert call("x", "{}", 1).call_id == "call-1" and text("hi", 2).content[0].text == "hi"  # type: ignore[union-attr]
