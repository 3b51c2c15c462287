"""A stream its caller leaves early: the run is recorded as abandoned (not a success), and replays so."""

from __future__ import annotations

import asyncio
from typing import Any

from ledger import Ledger, open_ledger
from projections.metrics import CostTracker, ReliabilityMetrics
from replay import DecisionTrailBuilder, Replayer, RunContext
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, make_agent

LEFT = {
    "abandoned": "the caller stopped reading the stream after 2 chunks",
    "chunks": 2,
    "stream_mode": "updates",
    "subgraphs": False,
}


def types(ledger: Ledger, workflow_id: str) -> list[str]:
    return [r.event.type for r in ledger.stream(workflow_id)]


async def check(ledger: Ledger, workflow_id: str, outcome: dict[str, Any] = LEFT) -> Any:
    trail = await DecisionTrailBuilder(ledger).build_trail(workflow_id)
    assert [s.agent for s in trail.steps] == ["agent", "tools"]  # what ran before the caller left
    assert [c.tool for c in trail.tool_calls] == ["search"]
    assert trail.success is False and trail.outcome == outcome
    return trail


@sync
async def test_a_stream_closed_early_is_recorded_as_abandoned_and_flushed(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "early", inputs=INPUTS, buffered=True) as ctx:
        stream = make_agent().astream(ctx, INPUTS)
        async for chunk in stream:
            if "tools" in chunk:
                break
        await stream.aclose()
        # Completed and flushed when the stream closed, not only when the context is left.
        assert ctx.completed and types(ledger, "early")[-1] == "WorkflowCompleted"

    await check(ledger, "early")


@sync
async def test_a_stream_still_open_when_the_context_is_left_is_abandoned_too(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "open", inputs=INPUTS, buffered=True) as ctx:
        stream = make_agent().astream(ctx, INPUTS)
        async for chunk in stream:
            if "tools" in chunk:
                break  # no aclose: the generator is finalised later, after the context
    await stream.aclose()  # nothing more is recorded when it finally closes

    await check(ledger, "open")
    assert types(ledger, "open").count("WorkflowCompleted") == 1


def test_breaking_out_of_the_sync_stream_abandons_the_run(ledger_url: str) -> None:
    with open_ledger(ledger_url) as ledger:
        with RunContext(ledger, "sync", inputs=INPUTS, buffered=True) as ctx:
            for chunk in make_agent().stream(ctx, INPUTS):
                if "tools" in chunk:
                    break
            assert ctx.completed  # the generator closed at the break
        asyncio.run(check(ledger, "sync"))


@sync
async def test_an_abandoned_run_is_not_a_successful_workflow_and_its_steps_still_count(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "early", inputs=INPUTS) as ctx:
        async for chunk in make_agent().astream(ctx, INPUTS):
            if "tools" in chunk:
                break

    report = ReliabilityMetrics(ledger=ledger).report()
    assert report.svr == 1.0 and report.total_steps == 2  # the two nodes that ran, both fine
    assert report.total_workflows == 1
    costs = CostTracker(ledger=ledger).report()
    assert (costs.workflows, costs.successful_workflows) == (1, 0)  # it cost, and did not succeed


@sync
async def test_a_replay_of_an_abandoned_run_leaves_the_stream_at_the_same_chunk(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "early", inputs=INPUTS) as ctx:
        async for chunk in make_agent().astream(ctx, INPUTS):
            if "tools" in chunk:
                break
    trail = await check(ledger, "early")

    simulated = await Replayer(trail).simulated_replay(make_agent([]))
    strict = await Replayer(trail).strict_replay(make_agent([]), make_agent().tool_registry)

    for result in (simulated, strict):
        assert result.success and result.differences == (), result.differences
        assert result.outcome == LEFT
        await check(ledger, result.replay_workflow_id)


@sync
async def test_a_stream_read_to_its_end_is_a_success_with_its_outcome(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "whole", inputs=INPUTS) as ctx:
        chunks = [c async for c in make_agent().astream(ctx, INPUTS, stream_mode=["updates", "values"])]

    trail = await DecisionTrailBuilder(ledger).build_trail("whole")
    assert len(chunks) > 5 and trail.success is True and trail.outcome == "Order A-7 is refundable."
    assert ctx.on_leave is None
