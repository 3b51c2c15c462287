"""Streamed Agents SDK runs (``Runner.run_streamed``): the SDK's events, recorded as an unstreamed run."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from agents import InputGuardrailTripwireTriggered
from agents.stream_events import AgentUpdatedStreamEvent, RawResponsesStreamEvent, RunItemStreamEvent
from openai.types.responses import ResponseCompletedEvent, ResponseOutputItemDoneEvent

from ledger import Ledger
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.sdk_agents import make_run

QUESTION = "Where is my order A-7? I want a refund."


def shape(trail: Any) -> dict[str, Any]:
    """What a recording says, without ids, times and the provider's response ids."""
    return {
        "events": [r.data["type"] for r in trail.history],
        "steps": [(s.agent, s.success) for s in trail.steps],
        "state": trail.state_changes,
        "tools": [(c.call_index, c.tool, c.arguments, c.result) for c in trail.tool_calls],
        "models": [
            (c.call_index, c.agent, c.request_hash, c.response["content"], c.response["tool_calls"], c.usage)
            for c in trail.history.model_tape
        ],
        "costs": [c.amount for c in trail.history.of_type("CostIncurred")],
        "outcome": (trail.outcome, trail.success),
    }


async def plain(ledger: Ledger) -> dict[str, Any]:
    await run_workflow(make_run(), RunContext(ledger, "plain", inputs=QUESTION), QUESTION)
    return shape(await DecisionTrailBuilder(ledger).build_trail("plain"))


@sync
async def test_stream_yields_the_sdks_events_and_records_what_an_unstreamed_run_does(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    run = make_run()
    async with RunContext(ledger, "streamed", inputs=QUESTION) as ctx:
        events = [e async for e in run.stream(ctx, QUESTION)]

    assert run.model.streamed == 3  # type: ignore[attr-defined]  # every call streamed, none unstreamed
    raw = [e.data for e in events if isinstance(e, RawResponsesStreamEvent)]
    assert sum(isinstance(d, ResponseCompletedEvent) for d in raw) == 3
    assert sum(isinstance(d, ResponseOutputItemDoneEvent) for d in raw) == 3  # passed through as they came
    assert [e.new_agent.name for e in events if isinstance(e, AgentUpdatedStreamEvent)] == [
        "triage",
        "billing",
    ]
    assert "tool_output" in [e.name for e in events if isinstance(e, RunItemStreamEvent)]
    trail = await DecisionTrailBuilder(ledger).build_trail("streamed")
    assert shape(trail) == await plain(ledger)
    assert trail.outcome == "Order A-7 was delivered; a refund is possible."


@sync
async def test_a_streamed_recording_replays_simulated_streamed_or_not_with_no_difference(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    await run_workflow(make_run(streamed=True), RunContext(ledger, "sdk-s", inputs=QUESTION), QUESTION)
    trail = await DecisionTrailBuilder(ledger).build_trail("sdk-s")

    for streamed in (True, False):
        run = make_run([], streamed=streamed)  # no answer left: the tape answers or the replay fails

        async def boom(*_: Any) -> Any:
            raise AssertionError("a simulated replay ran a tool")

        billing = run.agent.handoffs[0]
        billing.tools = [dataclasses.replace(t, on_invoke_tool=boom) for t in billing.tools]  # type: ignore[union-attr, type-var]

        result = await Replayer(trail).simulated_replay(run)

        assert result.success and result.is_exact_match(), (streamed, result.differences)
        assert result.outcome == "Order A-7 was delivered; a refund is possible."
        assert not run.model.asked  # type: ignore[attr-defined]


@sync
async def test_a_tripped_guardrail_in_a_streamed_run_is_a_failed_step_with_its_reason(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    rude = "darn it, where is A-7?"

    with pytest.raises(InputGuardrailTripwireTriggered):
        async with RunContext(ledger, "sdk-rude-s", inputs=rude) as ctx:
            async for _ in make_run().stream(ctx, rude):
                pass

    trail = await DecisionTrailBuilder(ledger).build_trail("sdk-rude-s")
    assert [(s.agent, s.error) for s in trail.steps if not s.success] == [
        ("guardrail:no_swearing", "tripwire triggered: rude word 'darn'")
    ]
    # The tripwire is one failed step, as in an unstreamed run (the SDK also marks the agent's span).
    assert [(s.agent, s.success) for s in trail.steps] == [("triage", True), ("guardrail:no_swearing", False)]
    assert trail.success is False


async def _left_early(ledger: Ledger, workflow: str, after: int, close: bool) -> None:
    """Stream a run and stop reading after ``after`` events (closing the stream, or not)."""
    async with RunContext(ledger, workflow, inputs=QUESTION) as ctx:
        stream = make_run().stream(ctx, QUESTION)
        read = 0
        async for _ in stream:
            read += 1
            if read == after:
                break
        if close:
            await stream.aclose()


@sync
@pytest.mark.parametrize("close", [True, False], ids=["closed", "left-open"])
async def test_a_stream_left_early_completes_the_run_as_abandoned(make_ledger: Any, close: bool) -> None:
    ledger = make_ledger()
    await _left_early(ledger, "early", 3, close)
    trail = await DecisionTrailBuilder(ledger).build_trail("early")
    assert trail.success is False
    assert trail.outcome == {"abandoned": "the caller stopped reading the stream after 3 events", "events": 3}
    assert [r.data["type"] for r in trail.history].count("WorkflowCompleted") == 1


@sync
async def test_a_stream_left_early_replays_to_the_same_event_with_no_difference(make_ledger: Any) -> None:
    ledger = make_ledger()
    await _left_early(ledger, "early-r", 5, True)
    trail = await DecisionTrailBuilder(ledger).build_trail("early-r")
    for mode in ("strict", "simulated"):
        run = make_run([])  # no answer left: the tape answers or the replay fails
        replayer = Replayer(trail)
        if mode == "strict":
            result = await replayer.strict_replay(run, run.tool_registry)
        else:
            result = await replayer.simulated_replay(run)
        assert result.is_exact_match(), (mode, result.differences)
        assert result.outcome == trail.outcome
