"""Recording a run: the run context appends what an orchestrator does, the tape first.

Every tool call through ``ctx.call_tool`` / ``ctx.call_tool_sync`` becomes a ``ToolCalled``
event with its arguments, result or error, duration and ordinal; steps, evidence, costs, modes,
plan revisions, state changes and checkpoints become their events. Leaving the context completes
the workflow; an exception completes it as failed, with the error, and propagates.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from ledger import Ledger
from replay import RunContext, ToolError, ToolRegistry, UnknownToolError, run_workflow
from tests.conftest import ManualClock
from tests.replay.support import CALLS, TOPIC, Pipeline, SyncPipeline, pipeline_tools


def events_of(ledger: Ledger, workflow_id: str) -> list[Any]:
    return [r.event for r in ledger.read(workflow_id=workflow_id)]


def test_call_tool_records_name_arguments_result_duration_and_ordinal(
    ledger: Ledger, clock: ManualClock
) -> None:
    ctx = RunContext(ledger, "wf-1", tools=pipeline_tools(), clock=clock, goal="answer", inputs=TOPIC)

    outcome = asyncio.run(run_workflow(Pipeline(), ctx, TOPIC))

    assert outcome == {"topic": "refunds"}
    events = events_of(ledger, "wf-1")
    assert [e.type for e in events] == [
        "WorkflowStarted",
        *(t for _ in CALLS for t in ("ToolCalled", "StepRecorded")),
        "WorkflowCompleted",
    ]
    calls = [e for e in events if e.type == "ToolCalled"]
    assert [(c.call_index, c.tool, c.arguments, c.result, c.success, c.error) for c in calls] == [
        (i, name, {"topic": "refunds"}, {"tool": name, "topic": "refunds"}, True, None)
        for i, name in enumerate(CALLS)
    ]
    assert all(c.duration_ms is not None and c.duration_ms >= 0 for c in calls)
    started, completed = events[0], events[-1]
    assert (started.goal, started.input, started.replay_of) == ("answer", {"topic": "refunds"}, None)
    assert (completed.success, completed.outcome) == (True, {"topic": "refunds"})
    assert completed.duration_ms is not None and completed.duration_ms >= 0
    assert all(e.occurred_at == clock.now for e in events)


def test_a_synchronous_orchestrator_records_through_call_tool_sync(
    ledger: Ledger, clock: ManualClock
) -> None:
    ctx = RunContext(ledger, "wf-sync", tools=pipeline_tools(), clock=clock, inputs=TOPIC)

    outcome = asyncio.run(run_workflow(SyncPipeline(), ctx, TOPIC))

    assert outcome == {"topic": "refunds"}
    calls = [e for e in events_of(ledger, "wf-sync") if e.type == "ToolCalled"]
    assert [(c.call_index, c.tool, c.result["tool"]) for c in calls] == [
        (i, name, name) for i, name in enumerate(CALLS)
    ]


def test_with_ctx_records_a_synchronous_run_and_completes_it(ledger: Ledger, clock: ManualClock) -> None:
    with RunContext(ledger, "wf-with", tools=pipeline_tools(), clock=clock) as ctx:
        result = ctx.call_tool_sync("search", topic="shipping")
        ctx.record_step(True, agent="router", mode="explore", declared_mode="explore")

    assert result == {"tool": "search", "topic": "shipping"}
    events = events_of(ledger, "wf-with")
    assert [e.type for e in events] == ["WorkflowStarted", "ToolCalled", "StepRecorded", "WorkflowCompleted"]
    assert events[-1].success is True
    assert ctx.completed


def test_async_with_ctx_completes_with_the_outcome_given(ledger: Ledger, clock: ManualClock) -> None:
    async def orchestrate() -> None:
        async with RunContext(ledger, "wf-async", tools=pipeline_tools(), clock=clock) as ctx:
            await ctx.call_tool("lookup", topic="warranty")
            ctx.complete({"answer": 42}, total_retries=1)
            ctx.complete({"answer": "ignored: a workflow completes once"})

    asyncio.run(orchestrate())

    completed = [e for e in events_of(ledger, "wf-async") if e.type == "WorkflowCompleted"]
    assert [(c.success, c.outcome, c.total_retries) for c in completed] == [(True, {"answer": 42}, 1)]


def test_an_exception_completes_the_workflow_as_failed_with_the_error_and_propagates(
    ledger: Ledger, clock: ManualClock
) -> None:
    class Crashes:
        async def run(self, ctx: RunContext, inputs: Any) -> Any:
            await ctx.call_tool("search", topic="refunds")
            raise ValueError("the plan made no sense")

    ctx = RunContext(ledger, "wf-crash", tools=pipeline_tools(), clock=clock)
    with pytest.raises(ValueError, match="the plan made no sense"):
        asyncio.run(run_workflow(Crashes(), ctx, TOPIC))

    events = events_of(ledger, "wf-crash")
    assert [e.type for e in events] == ["WorkflowStarted", "ToolCalled", "WorkflowCompleted"]
    assert events[-1].success is False
    assert events[-1].outcome == {"error": "ValueError: the plan made no sense"}
    assert (ctx.completed, ctx.success) == (True, False)


def test_an_exception_inside_with_ctx_completes_the_workflow_as_failed(
    ledger: Ledger, clock: ManualClock
) -> None:
    with pytest.raises(RuntimeError, match="disk full"), RunContext(ledger, "wf-crash-sync", clock=clock):
        raise RuntimeError("disk full")

    (completed,) = [e for e in events_of(ledger, "wf-crash-sync") if e.type == "WorkflowCompleted"]
    assert (completed.success, completed.outcome) == (False, {"error": "RuntimeError: disk full"})


def test_a_failing_tool_records_its_error_at_its_ordinal_and_raises_tool_error(
    ledger: Ledger, clock: ManualClock
) -> None:
    def broken(topic: str) -> None:
        raise ConnectionError(f"no route to the {topic} index")

    ctx = RunContext(ledger, "wf-tool-fails", tools=pipeline_tools(lookup=broken), clock=clock)
    with pytest.raises(ToolError) as raised:
        asyncio.run(run_workflow(Pipeline(), ctx, TOPIC))

    assert (raised.value.tool, raised.value.call_index) == ("lookup", 1)
    calls = [e for e in events_of(ledger, "wf-tool-fails") if e.type == "ToolCalled"]
    assert [(c.call_index, c.tool, c.success) for c in calls] == [(0, "search", True), (1, "lookup", False)]
    assert calls[1].error == "ConnectionError: no route to the refunds index"
    assert calls[1].result is None
    completed = events_of(ledger, "wf-tool-fails")[-1]
    assert completed.type == "WorkflowCompleted"
    assert completed.success is False


def test_a_synchronous_failing_tool_is_recorded_too(ledger: Ledger, clock: ManualClock) -> None:
    def broken(topic: str) -> None:
        raise KeyError(topic)

    with (
        pytest.raises(ToolError),
        RunContext(ledger, "wf-sync-fails", tools=pipeline_tools(search=broken), clock=clock) as ctx,
    ):
        ctx.call_tool_sync("search", topic="refunds")

    (call,) = [e for e in events_of(ledger, "wf-sync-fails") if e.type == "ToolCalled"]
    assert (call.call_index, call.success, call.error) == (0, False, "KeyError: 'refunds'")


def test_calling_an_unregistered_tool_is_recorded_as_a_failed_call(
    ledger: Ledger, clock: ManualClock
) -> None:
    async def orchestrate() -> None:
        async with RunContext(ledger, "wf-unknown-tool", tools=ToolRegistry({}), clock=clock) as ctx:
            await ctx.call_tool("teleport", to="mars")

    with pytest.raises(ToolError) as raised:
        asyncio.run(orchestrate())

    assert isinstance(raised.value.__cause__, UnknownToolError)
    (call,) = [e for e in events_of(ledger, "wf-unknown-tool") if e.type == "ToolCalled"]
    assert (call.tool, call.arguments, call.success) == ("teleport", {"to": "mars"}, False)
    assert "no tool named 'teleport'" in (call.error or "")


def test_evidence_costs_modes_plans_state_and_checkpoints_are_recorded(
    ledger: Ledger, clock: ManualClock
) -> None:
    with RunContext(ledger, "wf-facts", tools=pipeline_tools(), clock=clock, agent="lead") as ctx:
        hits = ctx.call_tool_sync("search", topic="refunds")
        fact = ctx.collect_evidence("search_result", "search", hits)
        guess = ctx.collect_evidence(
            "intent", "planner", "wants money back", confidence="inferred", based_on=(fact,)
        )
        ctx.collect_evidence("answer", "writer", "refund approved", confidence="claimed", based_on=(guess,))
        ctx.record_step(True, agent="writer", mode="execute", declared_mode="explore")
        ctx.record_llm_cost("gpt-4o-mini", 1000, 500, agent="writer")
        ctx.record_llm_cost("local-model-without-a-price", 10, 5)
        ctx.revise_plan("the first plan missed the warranty case")
        ctx.human_intervened("manager approval")
        ctx.set_state("answered", True)
        ctx.mark_checkpoint("cp-1", label="after the answer")

    events = events_of(ledger, "wf-facts")
    by_type: dict[str, list[Any]] = {}
    for e in events:
        by_type.setdefault(e.type, []).append(e)
    evidence = by_type["EvidenceCollected"]
    assert [(e.confidence, e.based_on) for e in evidence] == [
        ("verified", ()),
        ("inferred", (fact,)),
        ("claimed", (guess,)),
    ]
    assert evidence[0].event_id == fact and evidence[0].agent == "lead"
    (step,) = by_type["StepRecorded"]
    assert (step.agent, step.mode, step.declared_mode) == ("writer", "execute", "explore")
    priced, unpriced = by_type["CostIncurred"]
    assert (priced.status, priced.amount) == ("priced", Decimal("0.00045"))
    assert (unpriced.status, unpriced.amount, unpriced.prompt_tokens) == ("unpriced", None, 10)
    assert by_type["PlanRevised"][0].reason == "the first plan missed the warranty case"
    assert by_type["HumanIntervened"][0].reason == "manager approval"
    assert (by_type["StateChanged"][0].key, by_type["StateChanged"][0].value) == ("answered", True)
    assert (by_type["CheckpointMarked"][0].checkpoint_id, by_type["CheckpointMarked"][0].label) == (
        "cp-1",
        "after the answer",
    )
    assert events[-1].type == "WorkflowCompleted"


def test_a_buffered_context_appends_the_whole_run_in_one_batch_at_completion(
    ledger: Ledger, clock: ManualClock
) -> None:
    with RunContext(ledger, "wf-buffered", tools=pipeline_tools(), clock=clock, buffered=True) as ctx:
        ctx.call_tool_sync("search", topic="refunds")
        assert ledger.latest_offset() == 0  # nothing written mid-run

    assert [e.type for e in events_of(ledger, "wf-buffered")] == [
        "WorkflowStarted",
        "ToolCalled",
        "WorkflowCompleted",
    ]


def test_an_async_tool_called_synchronously_is_a_recorded_failure_with_a_clear_message(
    ledger: Ledger, clock: ManualClock
) -> None:
    async def lookup(topic: str) -> str:
        return topic

    with (
        pytest.raises(ToolError, match="is async"),
        RunContext(ledger, "wf-sync-async", tools=ToolRegistry({"lookup": lookup}), clock=clock) as ctx,
    ):
        ctx.call_tool_sync("lookup", topic="refunds")

    (call,) = [e for e in events_of(ledger, "wf-sync-async") if e.type == "ToolCalled"]
    assert (call.success, call.error) == (
        False,
        "TypeError: tool 'lookup' is async: use 'await ctx.call_tool(...)'",
    )
