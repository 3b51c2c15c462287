"""Strict and simulated replay: an unchanged orchestrator reproduces its run; changes are located.

The recording is the pipeline ``search, lookup, rank, draft`` (ordinals 0-3). Strict replay runs
real tools and compares by ordinal: a changed tool *result* is a minor difference; another tool,
other arguments, a missing or an extra call, or another outcome is critical. Simulated replay
serves every call from the tape; any call the tape does not have at that ordinal is a critical
divergence there. Every replay is its own recorded run (``replay_of``, ``replay_mode``) plus a
``ReplayAttempted`` event, which feeds RSR: a replay that ran but diverged is a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from ledger import Ledger
from projections import SLOTracker
from replay import (
    DecisionTrail,
    DecisionTrailBuilder,
    Difference,
    ReplayDivergedError,
    Replayer,
    ReplayMode,
    ReplayResult,
    ToolError,
    ToolRegistry,
)
from replay.examples import TOOLS, TicketAgent
from tests.conftest import ManualClock
from tests.replay.support import (
    CALLS,
    REVIEW_INPUTS,
    SCORE_TOOLS,
    TOPIC,
    AskTwice,
    Pipeline,
    Reviewer,
    Sampler,
    SyncPipeline,
    pipeline_tools,
    record_run,
)


def recorded_pipeline(ledger: Ledger, clock: ManualClock) -> DecisionTrail:
    return asyncio.run(record_run(ledger, clock, "wf-pipeline", Pipeline(), TOPIC, pipeline_tools()))


def located(result: ReplayResult) -> list[tuple[str, str, str, Any, Any]]:
    """The differences as (field, location, significance, original, replayed)."""
    return [(d.field, d.location, d.significance, d.original, d.replayed) for d in result.differences]


def strict(trail: DecisionTrail, clock: ManualClock, orchestrator: Any, tools: ToolRegistry) -> ReplayResult:
    return asyncio.run(Replayer(trail, clock=clock).strict_replay(orchestrator, tools))


def simulated(trail: DecisionTrail, clock: ManualClock, orchestrator: Any) -> ReplayResult:
    return asyncio.run(Replayer(trail, clock=clock).simulated_replay(orchestrator))


# -- an unchanged orchestrator ------------------------------------------------------------------

UNCHANGED = [
    pytest.param(Pipeline(), TOPIC, pipeline_tools, id="async-pipeline"),
    pytest.param(SyncPipeline(), TOPIC, pipeline_tools, id="sync-pipeline"),
    pytest.param(Reviewer(), REVIEW_INPUTS, lambda: SCORE_TOOLS, id="reviewer"),
    pytest.param(
        TicketAgent(),
        {"customer_id": "c-1", "question": "Can I get a refund?", "temperature": 0.0},
        lambda: TOOLS,
        id="ticket-agent",
    ),
]


@pytest.mark.parametrize(("orchestrator", "inputs", "tools"), UNCHANGED)
def test_an_unchanged_orchestrator_replays_with_no_differences_in_every_mode(
    ledger: Ledger, clock: ManualClock, orchestrator: Any, inputs: Any, tools: Any
) -> None:
    trail = asyncio.run(record_run(ledger, clock, "wf-original", orchestrator, inputs, tools()))
    replayer = Replayer(trail, clock=clock)

    async def replay_all() -> list[ReplayResult]:
        return [
            await replayer.strict_replay(orchestrator=orchestrator, tool_registry=tools()),
            await replayer.simulated_replay(orchestrator=orchestrator),
            await replayer.counterfactual_replay({}, orchestrator=orchestrator),
            await replayer.counterfactual_replay({}, orchestrator=orchestrator, tool_registry=tools()),
        ]

    results = asyncio.run(replay_all())

    assert [(r.mode.value, r.error, located(r)) for r in results] == [
        ("strict", None, []),
        ("simulated", None, []),
        ("counterfactual", None, []),
        ("counterfactual", None, []),
    ]
    for result in results:
        assert result.is_exact_match()
        assert result.success
        assert result.first_divergence is None
        assert result.outcome == trail.outcome


# -- strict replay --------------------------------------------------------------------------


def test_strict_a_changed_tool_result_is_a_minor_difference_at_its_ordinal(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_pipeline(ledger, clock)
    tools = pipeline_tools(rank=lambda topic: {"tool": "rank", "topic": topic, "score": 0.9})

    result = strict(trail, clock, Pipeline(), tools)

    assert located(result) == [
        (
            "result",
            "call 2",
            "minor",
            {"tool": "rank", "topic": "refunds"},
            {"tool": "rank", "topic": "refunds", "score": 0.9},
        )
    ]
    assert result.differences[0].call_index == 2
    assert result.success  # a minor difference does not fail a strict replay...
    assert not result.is_exact_match()  # ...but it is not an exact match
    assert result.first_divergence == result.differences[0]


def test_strict_a_changed_call_order_is_critical_at_the_first_swapped_ordinal(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = strict(trail, clock, Pipeline(("search", "rank", "lookup", "draft")), pipeline_tools())

    assert located(result) == [
        ("tool", "call 1", "critical", "lookup", "rank"),
        ("tool", "call 2", "critical", "rank", "lookup"),
    ]
    assert not result.success
    assert result.first_divergence is not None
    assert result.first_divergence.call_index == 1


def test_strict_an_extra_call_is_critical_at_its_ordinal(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = strict(trail, clock, Pipeline((*CALLS, "audit")), pipeline_tools())

    assert located(result) == [("call", "call 4", "critical", None, "audit")]
    assert not result.success


def test_strict_a_missing_call_is_critical_at_its_ordinal(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = strict(trail, clock, Pipeline(CALLS[:3]), pipeline_tools())

    assert located(result) == [("call", "call 3", "critical", "draft", None)]
    assert not result.success


def test_strict_other_arguments_and_a_new_failure_are_critical(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    def lookup_down(topic: str) -> None:
        raise TimeoutError("crm timed out")

    class LooksUpSomethingElse(Pipeline):
        async def run(self, ctx: Any, inputs: Any) -> Any:
            await ctx.call_tool("search", topic=inputs["topic"])
            with contextlib.suppress(ToolError):  # carries on, as a resilient orchestrator would
                await ctx.call_tool("lookup", topic="shipping")
            await ctx.call_tool("rank", topic=inputs["topic"])
            await ctx.call_tool("draft", topic=inputs["topic"])
            return {"topic": inputs["topic"]}

    result = strict(trail, clock, LooksUpSomethingElse(), pipeline_tools(lookup=lookup_down))

    assert [(d.field, d.location, d.significance) for d in result.differences] == [
        ("arguments", "call 1", "critical"),
        ("error", "call 1", "critical"),
    ]
    assert result.differences[0].replayed == {"topic": "shipping"}
    assert result.differences[1].replayed == "TimeoutError: crm timed out"
    assert not result.success


def test_strict_a_changed_outcome_is_critical(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    class AnswersOtherwise(Pipeline):
        async def run(self, ctx: Any, inputs: Any) -> Any:
            await super().run(ctx, inputs)
            return {"topic": inputs["topic"], "extra": True}

    result = strict(trail, clock, AnswersOtherwise(), pipeline_tools())

    assert located(result) == [
        ("outcome", "outcome", "critical", {"topic": "refunds"}, {"topic": "refunds", "extra": True})
    ]
    assert not result.success


# -- simulated replay -------------------------------------------------------------------------


def test_simulated_serves_every_call_from_the_tape_and_runs_no_tool(
    ledger: Ledger, clock: ManualClock
) -> None:
    sampler = Sampler()
    trail = asyncio.run(
        record_run(ledger, clock, "wf-ask", AskTwice(), {"prompt": "hi"}, ToolRegistry({"llm": sampler}))
    )

    result = simulated(trail, clock, AskTwice())

    # The same prompt twice: each answer comes back in recorded order, by ordinal.
    assert result.outcome == {"answers": ["answer 1 to hi", "answer 2 to hi"]}
    assert result.outcome == trail.outcome
    assert located(result) == []
    assert result.success
    assert sampler.calls == 2  # only the recording's two calls ran


def test_strict_the_same_prompt_twice_compares_each_call_by_ordinal(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = asyncio.run(
        record_run(ledger, clock, "wf-ask", AskTwice(), {"prompt": "hi"}, ToolRegistry({"llm": Sampler()}))
    )

    again = strict(trail, clock, AskTwice(), ToolRegistry({"llm": Sampler()}))
    warmer = Sampler()
    warmer.calls = 1  # a model that answers the first call with the recording's second answer
    shifted = strict(trail, clock, AskTwice(), ToolRegistry({"llm": warmer}))

    assert located(again) == []
    assert [(d.field, d.location, d.significance) for d in shifted.differences] == [
        ("result", "call 0", "minor"),
        ("result", "call 1", "minor"),
        ("outcome", "outcome", "critical"),
    ]


def test_simulated_a_changed_call_order_diverges_at_the_first_swapped_ordinal(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = simulated(trail, clock, Pipeline(("search", "rank", "lookup", "draft")))

    assert result.differences[0].field == "tool"
    assert (result.differences[0].location, result.differences[0].significance) == ("call 1", "critical")
    assert (result.differences[0].original, result.differences[0].replayed) == ("lookup", "rank")
    assert result.first_divergence == result.differences[0]
    assert not result.success


def test_simulated_an_extra_call_diverges_at_its_ordinal(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = simulated(trail, clock, Pipeline((*CALLS, "audit")))

    first = result.first_divergence
    assert first is not None
    assert (first.field, first.location, first.significance, first.original, first.replayed) == (
        "call",
        "call 4",
        "critical",
        None,
        "audit",
    )
    assert not result.success


def test_simulated_a_missing_call_diverges_at_its_ordinal(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    result = simulated(trail, clock, Pipeline(CALLS[:3]))

    assert located(result) == [("call", "call 3", "critical", "draft", None)]
    assert not result.success
    assert result.completed


def test_simulated_other_arguments_diverge_at_their_ordinal(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)

    class AsksAboutShipping(Pipeline):
        async def run(self, ctx: Any, inputs: Any) -> Any:
            for i, name in enumerate(CALLS):
                await ctx.call_tool(name, topic="shipping" if i == 2 else inputs["topic"])
                ctx.record_step(True, agent=name)
            return {"topic": inputs["topic"]}

    result = simulated(trail, clock, AsksAboutShipping())

    assert located(result) == [
        ("arguments", "call 2", "critical", {"topic": "refunds"}, {"topic": "shipping"})
    ]
    assert not result.success


def test_raise_on_divergence_raises_with_the_result_after_recording_the_attempt(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_pipeline(ledger, clock)
    replayer = Replayer(trail, clock=clock)

    with pytest.raises(ReplayDivergedError) as raised:
        asyncio.run(replayer.simulated_replay(Pipeline(CALLS[:3]), raise_on_divergence=True))
    with pytest.raises(ReplayDivergedError, match="call 1"):
        asyncio.run(
            replayer.strict_replay(
                Pipeline(("search", "rank", "lookup", "draft")), pipeline_tools(), raise_on_divergence=True
            )
        )
    fine = asyncio.run(replayer.simulated_replay(Pipeline(), raise_on_divergence=True))

    assert raised.value.result.first_divergence is not None
    assert raised.value.result.first_divergence.location == "call 3"
    assert "call 3" in str(raised.value)
    assert fine.success
    attempts = [r.event for r in ledger.read(types="ReplayAttempted")]
    assert [(a.replay_mode, a.success) for a in attempts] == [
        ("simulated", False),
        ("strict", False),
        ("simulated", True),
    ]


# -- recorded runs and RSR --------------------------------------------------------------------


def test_each_replay_is_recorded_as_its_own_run_linked_to_the_original(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_pipeline(ledger, clock)
    replayer = Replayer(trail, clock=clock)

    async def replay_all() -> list[ReplayResult]:
        return [
            await replayer.strict_replay(Pipeline(), pipeline_tools()),
            await replayer.simulated_replay(Pipeline(CALLS[:3])),
            await replayer.counterfactual_replay({"topic": "shipping"}, orchestrator=Pipeline()),
        ]

    results = asyncio.run(replay_all())

    attempts = {r.event.replay_workflow_id: r for r in ledger.read(types="ReplayAttempted")}
    for result in results:
        assert result.replay_workflow_id != "wf-pipeline"
        events = [r.event for r in ledger.read(workflow_id=result.replay_workflow_id)]
        assert events[0].type == "WorkflowStarted"
        assert (events[0].replay_of, events[0].replay_mode) == ("wf-pipeline", result.mode.value)
        assert events[-1].type == "WorkflowCompleted"
        attempt = attempts[result.replay_workflow_id]
        assert attempt.stream == "replays:wf-pipeline"
        assert (attempt.event.workflow_id, attempt.event.replay_mode, attempt.event.success) == (
            "wf-pipeline",
            result.mode.value,
            result.success,
        )
        assert attempt.event.differences == len(result.differences)
        assert attempt.event.critical_differences == len(result.critical_differences)
    strict_run = [r.event for r in ledger.read(workflow_id=results[0].replay_workflow_id)]
    assert [e.tool for e in strict_run if e.type == "ToolCalled"] == list(CALLS)
    # Replays never add events to the original run: its trail is what it was.
    assert DecisionTrailBuilder(ledger, clock=clock, record_mtte=False).build("wf-pipeline") == trail


def test_replays_feed_rsr_and_a_diverged_replay_is_a_failure(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_pipeline(ledger, clock)
    replayer = Replayer(trail, clock=clock)

    async def replay_all() -> None:
        await replayer.strict_replay(Pipeline(), pipeline_tools())  # reproduced
        await replayer.strict_replay(Pipeline(CALLS[:3]), pipeline_tools())  # diverged
        await replayer.simulated_replay(Pipeline())  # reproduced
        await replayer.simulated_replay(Pipeline((*CALLS, "audit")))  # diverged
        await replayer.counterfactual_replay({"topic": "shipping"}, orchestrator=Pipeline())  # completed

    asyncio.run(replay_all())
    clock.advance(seconds=1)
    report = SLOTracker(ledger=ledger, clock=clock).report()

    assert report.replay_attempts == 5
    assert report.replay_attempts_by_mode == {"strict": 2, "simulated": 2, "counterfactual": 1}
    assert report.rsr == pytest.approx(2 / 4)  # RSR's scope: strict and simulated replays
    assert report.rsr_by_mode == {"strict": 0.5, "simulated": 0.5, "counterfactual": 1.0}
    assert not report.is_rsr_compliant()


def test_replay_mode_values_are_the_guides_names() -> None:
    assert [m.value for m in ReplayMode] == ["strict", "simulated", "counterfactual"]
    assert Difference.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert ReplayResult.__dataclass_params__.frozen  # type: ignore[attr-defined]


# -- a recorded failure -----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["strict", "simulated"])
def test_a_recorded_failing_tool_replays_faithfully(ledger: Ledger, clock: ManualClock, mode: str) -> None:
    def lookup_down(topic: str) -> None:
        raise TimeoutError("crm timed out")

    tools = pipeline_tools(lookup=lookup_down)
    with pytest.raises(ToolError, match="crm timed out"):
        asyncio.run(record_run(ledger, clock, "wf-fails", Pipeline(), TOPIC, tools))
    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-fails")
    assert (trail.success, [c.success for c in trail.tool_calls]) == (False, [True, False])

    result = (
        strict(trail, clock, Pipeline(), tools) if mode == "strict" else simulated(trail, clock, Pipeline())
    )

    # Reproducing a recorded failure exactly is a successful replay: nothing differs.
    assert located(result) == []
    assert result.outcome == trail.outcome
    assert result.success
