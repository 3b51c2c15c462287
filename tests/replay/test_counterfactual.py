"""Counterfactual replay: changed inputs or tool results; expected differences and exact deltas.

The recording is the reviewer over scores 2, 4, 6, 8 with threshold 3: four steps, three pass
(SVR 0.75), four LLM calls of 1000 + 500 tokens on gpt-4o-mini, $0.00045 each. Alternative
inputs are merged over the recorded ones. Without a tool registry, calls are served from the
tape; with one, real tools run; ``tool_overrides`` replace a tool's result (a value, or a
function of the arguments). Every difference is "expected"; success means the run completed;
deltas (replay minus original) are exact: cost as a ``Decimal``, steps and tool calls as
integers, SVR as the difference of the two rates.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger import Ledger
from replay import (
    DecisionTrail,
    DecisionTrailBuilder,
    Replayer,
    ReplayResult,
    RunContext,
    ToolRegistry,
    run_workflow,
)
from replay.examples import TOOLS, TicketAgent
from tests.conftest import ManualClock
from tests.replay.support import REVIEW_COST, REVIEW_INPUTS, SCORE_TOOLS, Reviewer, record_run


def recorded_review(ledger: Ledger, clock: ManualClock) -> DecisionTrail:
    return asyncio.run(record_run(ledger, clock, "wf-review", Reviewer(), REVIEW_INPUTS, SCORE_TOOLS))


def what_if(
    trail: DecisionTrail,
    clock: ManualClock,
    inputs: Any = None,
    tools: ToolRegistry | None = None,
    overrides: dict[str, Any] | None = None,
) -> ReplayResult:
    replayer = Replayer(trail, clock=clock)
    return asyncio.run(
        replayer.counterfactual_replay(
            inputs, orchestrator=Reviewer(), tool_registry=tools, tool_overrides=overrides
        )
    )


def test_the_recording_is_what_the_deltas_are_measured_against(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_review(ledger, clock)

    assert trail.outcome == {"passed": 3, "of": 4}
    assert [s.success for s in trail.steps] == [False, True, True, True]
    assert trail.cost == 4 * REVIEW_COST
    assert trail.tokens == 4 * 1500


def test_a_changed_input_served_from_the_tape_changes_svr_exactly(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_review(ledger, clock)

    result = what_if(trail, clock, {"threshold": 5})  # scores 2, 4, 6, 8: two pass

    assert result.outcome == {"passed": 2, "of": 4}
    assert result.success and result.completed
    assert dict(result.deltas) == {
        "cost": Decimal(0),
        "steps": 0,
        "svr": -0.25,
        "tool_calls": 0,
        "model_calls": 0,
        "tokens": 0,
        "outcome_changed": True,
    }
    assert isinstance(result.deltas["cost"], Decimal)
    assert [(d.field, d.significance, d.original, d.replayed) for d in result.differences] == [
        ("outcome", "expected", {"passed": 3, "of": 4}, {"passed": 2, "of": 4})
    ]
    assert result.first_divergence is None  # expected differences are not divergences
    assert not result.is_exact_match()


def test_more_work_with_real_tools_changes_cost_steps_and_svr_exactly(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_review(ledger, clock)
    items = ["ab", "abcd", "abcdef", "abcdefgh", "a", "abc", "abcde", "abcdefg"]

    result = what_if(trail, clock, {"items": items, "threshold": 5}, tools=SCORE_TOOLS)

    # Scores 2, 4, 6, 8, 1, 3, 5, 7 against 5: four of eight pass (SVR 0.5, was 0.75).
    assert result.outcome == {"passed": 4, "of": 8}
    assert dict(result.deltas) == {
        **{"cost": 4 * REVIEW_COST, "steps": 4, "svr": -0.25, "tool_calls": 4},
        **{"model_calls": 0, "tokens": 6000, "outcome_changed": True},
    }
    assert result.deltas["cost"] == Decimal("0.0018")
    extra = [(d.field, d.location, d.significance) for d in result.differences if d.field == "call"]
    assert extra == [("call", f"call {i}", "expected") for i in range(4, 8)]
    assert result.success


def test_less_work_lowers_cost_and_steps_exactly(ledger: Ledger, clock: ManualClock) -> None:
    trail = recorded_review(ledger, clock)

    result = what_if(trail, clock, {"items": ["abcdef"]}, tools=SCORE_TOOLS)

    assert dict(result.deltas) == {
        **{"cost": -3 * REVIEW_COST, "steps": -3, "svr": 0.25, "tool_calls": -3},
        **{"model_calls": 0, "tokens": -4500, "outcome_changed": True},
    }


def test_tool_overrides_replace_results_with_a_value_or_a_function(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_review(ledger, clock)

    flat = what_if(trail, clock, overrides={"score": {"score": 0}})
    generous = what_if(trail, clock, overrides={"score": lambda item: {"score": 10 * len(item)}})

    assert flat.outcome == {"passed": 0, "of": 4}
    assert flat.deltas["svr"] == -0.75
    assert generous.outcome == {"passed": 4, "of": 4}
    assert generous.deltas["svr"] == 0.25
    assert [(d.field, d.location, d.significance) for d in flat.differences] == [
        *(("result", f"call {i}", "expected") for i in range(4)),
        ("outcome", "outcome", "expected"),
    ]
    assert flat.differences[0].replayed == {"score": 0}
    assert generous.differences[0].replayed == {"score": 20}
    assert flat.success and generous.success


def test_a_counterfactual_that_does_not_complete_is_a_failed_attempt(
    ledger: Ledger, clock: ManualClock
) -> None:
    trail = recorded_review(ledger, clock)

    def crashes(item: str) -> None:
        raise RuntimeError("scoring service down")

    result = what_if(trail, clock, overrides={"score": crashes})

    assert not result.success
    assert result.error is not None and "scoring service down" in result.error
    (attempt,) = [r.event for r in ledger.read(types="ReplayAttempted")]
    assert (attempt.replay_mode, attempt.success) == ("counterfactual", False)


def test_the_guides_temperature_what_if_changes_the_ticket_agents_reply(
    ledger: Ledger, clock: ManualClock
) -> None:
    inputs = {"customer_id": "c-1", "question": "Can I get a refund?", "temperature": 0.0}
    trail = asyncio.run(record_run(ledger, clock, "wf-ticket", TicketAgent(), inputs, TOOLS))

    result = asyncio.run(
        Replayer(trail, clock=clock).counterfactual_replay(
            {"temperature": 0.5}, orchestrator=TicketAgent(), tool_registry=TOOLS
        )
    )

    assert trail.outcome["reply"] + " — happy to help further!" == result.outcome["reply"]
    assert [(d.field, d.location) for d in result.differences] == [
        ("arguments", "call 2"),
        ("result", "call 2"),
        ("outcome", "outcome"),
    ]
    assert all(d.significance == "expected" for d in result.differences)
    # The stand-in model bills four completion tokens per word: gpt-4o-mini charges $0.60 per million.
    extra_words = 5  # "— happy to help further!"
    assert result.deltas["cost"] == Decimal("0.60") / 1_000_000 * 4 * extra_words
    assert (result.deltas["steps"], result.deltas["svr"], result.deltas["tool_calls"]) == (0, 0.0, 0)


@pytest.mark.parametrize("inputs", [None, {}])
def test_no_alternative_reuses_the_recorded_inputs(ledger: Ledger, clock: ManualClock, inputs: Any) -> None:
    trail = recorded_review(ledger, clock)

    result = what_if(trail, clock, inputs)

    assert result.outcome == trail.outcome
    assert result.differences == ()
    replay_start = next(ledger.read(workflow_id=result.replay_workflow_id)).event
    assert replay_start.input == REVIEW_INPUTS


def test_an_unchanged_counterfactual_costs_nothing_more_even_after_a_price_change(
    ledger: Ledger, clock: ManualClock
) -> None:
    # Recorded in June 2024 at gpt-4o's price then ($5 / $15 per million tokens); replayed on
    # 2025-01-01, after the August 2024 price cut. Nothing about the run changes, so the what-if
    # costs what the original cost: the delta measures the counterfactual, not a repricing.
    recorded_at = ManualClock(datetime(2024, 6, 1, 12, 0, tzinfo=UTC))

    class UsesGpt4o:
        async def run(self, ctx: RunContext, inputs: Any) -> Any:
            ctx.record_llm_cost("gpt-4o", 1000, 500)
            return "done"

    ctx = RunContext(ledger, "wf-june", clock=recorded_at, inputs={})
    asyncio.run(run_workflow(UsesGpt4o(), ctx, {}))
    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-june")
    assert trail.cost == Decimal("0.0125")  # 1000 * 5e-6 + 500 * 15e-6

    result = asyncio.run(Replayer(trail, clock=clock).counterfactual_replay({}, orchestrator=UsesGpt4o()))

    assert result.differences == ()
    assert result.deltas["cost"] == 0
