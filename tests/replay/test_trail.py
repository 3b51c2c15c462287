"""Decision trails: rebuilt from the ledger alone, up to a checkpoint, graded, explained, timed.

A trail holds the goal, inputs, plan revisions, steps, tool calls, state changes, evidence
(verified / claimed / inferred, with provenance), outcome, success, duration, tokens and cost of
one workflow, up to a checkpoint (a ``CheckpointMarked`` id, an event id, or an offset). Claims
no verified evidence backs — directly or through inferences — are listed. Building and
explaining a trail through the builder records exactly one MTTE measurement
(``ExplanationRecorded``); a workflow or checkpoint that does not exist is "not found", not a
failed explanation, and records nothing.
"""

from __future__ import annotations

import asyncio
import re
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from ledger import Ledger
from projections import SLOTracker
from replay import (
    CheckpointNotFoundError,
    DecisionTrailBuilder,
    RunContext,
    WorkflowNotFoundError,
    explain,
)
from tests.conftest import ManualClock
from tests.replay.support import pipeline_tools


def record_research(ledger: Ledger, clock: ManualClock, workflow_id: str = "wf-research") -> dict[str, Any]:
    """Record a workflow with every kind of fact; return the ids and offsets a test needs."""
    ids: dict[str, Any] = {}
    with RunContext(
        ledger,
        workflow_id,
        tools=pipeline_tools(),
        clock=clock,
        goal="decide on the refund",
        inputs={"ticket": 7},
    ) as ctx:
        hits = ctx.call_tool_sync("search", topic="refunds")
        ids["fact"] = ctx.collect_evidence("search_result", "search", hits)
        ids["user"] = ctx.collect_evidence("user_input", "ticket", "I want my money back")
        ctx.record_step(True, agent="researcher", mode="explore", declared_mode="explore")
        ctx.mark_checkpoint("cp-research", label="research done")
        ids["checkpoint_offset"] = ledger.latest_offset()
        ids["inference"] = ctx.collect_evidence(
            "eligibility", "analyst", "within 14 days", confidence="inferred", based_on=(ids["fact"],)
        )
        ids["backed_claim"] = ctx.collect_evidence(
            "decision", "writer", "refund approved", confidence="claimed", based_on=(ids["inference"],)
        )
        ids["bare_claim"] = ctx.collect_evidence(
            "promise", "writer", "refund arrives tomorrow", confidence="claimed"
        )
        ids["claim_on_claim"] = ctx.collect_evidence(
            "tone", "writer", "customer is happy", confidence="claimed", based_on=(ids["bare_claim"],)
        )
        ids["claim_on_unknown"] = ctx.collect_evidence(
            "source", "writer", "per policy", confidence="claimed", based_on=(UUID(int=1),)
        )
        ctx.call_tool_sync("draft", topic="refunds")
        ctx.record_step(
            False, agent="writer", mode="execute", declared_mode="explore", error="tone check failed"
        )
        ctx.revise_plan("rewrite the reply | politely")
        ctx.record_llm_cost("gpt-4o-mini", 1000, 500, agent="writer")
        ctx.record_llm_cost("a-model-without-a-price", 40, 2, agent="writer")
        ctx.set_state("decision", "refund")
        ctx.complete({"decision": "refund"})
    return ids


def test_a_trail_is_built_from_the_ledger_alone(ledger: Ledger, clock: ManualClock) -> None:
    record_research(ledger, clock)
    # Another workflow's events interleaved in the same ledger are not part of this trail.
    with RunContext(ledger, "wf-other", tools=pipeline_tools(), clock=clock) as other:
        other.call_tool_sync("lookup", topic="noise")

    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-research")

    assert (trail.workflow_id, trail.goal, trail.inputs) == (
        "wf-research",
        "decide on the refund",
        {"ticket": 7},
    )
    assert trail.plan == ("rewrite the reply | politely",)
    assert [(s.agent, s.success, s.mode, s.declared_mode, s.error) for s in trail.steps] == [
        ("researcher", True, "explore", "explore", None),
        ("writer", False, "execute", "explore", "tone check failed"),
    ]
    assert [(c.call_index, c.tool, c.arguments, c.result) for c in trail.tool_calls] == [
        (0, "search", {"topic": "refunds"}, {"tool": "search", "topic": "refunds"}),
        (1, "draft", {"topic": "refunds"}, {"tool": "draft", "topic": "refunds"}),
    ]
    assert trail.state_changes == (("decision", "refund"),)
    assert (trail.outcome, trail.success, trail.completed) == ({"decision": "refund"}, True, True)
    assert trail.duration_ms is not None and trail.duration_ms >= 0
    assert trail.tokens == 1000 + 500 + 40 + 2
    assert trail.cost == Decimal("0.00045")  # the unpriced call is counted apart, never as $0
    assert trail.unpriced_cost_events == 1
    assert trail.checkpoint is None
    offsets = [r.offset for r in ledger.read(workflow_id="wf-research")]
    assert [r.offset for r in trail.history] == offsets


def test_evidence_is_graded_with_provenance_and_unbacked_claims_are_listed(
    ledger: Ledger, clock: ManualClock
) -> None:
    ids = record_research(ledger, clock)

    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-research")

    assert [e.id for e in trail.verified] == [ids["fact"], ids["user"]]
    assert [e.id for e in trail.inferred] == [ids["inference"]]
    assert [e.id for e in trail.claimed] == [
        ids["backed_claim"],
        ids["bare_claim"],
        ids["claim_on_claim"],
        ids["claim_on_unknown"],
    ]
    (inference,) = trail.inferred
    assert (inference.type, inference.source, inference.content, inference.based_on) == (
        "eligibility",
        "analyst",
        "within 14 days",
        (ids["fact"],),
    )
    assert trail.verified[0].content == {"tool": "search", "topic": "refunds"}
    # Backed through an inference that cites a tool result: not listed. A claim with no
    # sources, one citing only another claim, and one citing an unknown id are unbacked.
    assert [c.id for c in trail.unbacked_claims] == [
        ids["bare_claim"],
        ids["claim_on_claim"],
        ids["claim_on_unknown"],
    ]


def test_a_trail_stops_at_a_named_checkpoint(ledger: Ledger, clock: ManualClock) -> None:
    record_research(ledger, clock)

    trail = asyncio.run(DecisionTrailBuilder(ledger, clock=clock).build_trail("wf-research", "cp-research"))

    assert trail.checkpoint == "cp-research"
    assert trail.history.events[-1].event.type == "CheckpointMarked"
    assert [c.tool for c in trail.tool_calls] == ["search"]
    assert len(trail.steps) == 1
    assert len(trail.evidence) == 2
    assert (trail.success, trail.completed, trail.outcome, trail.duration_ms) == (None, False, None, None)
    assert "in progress" in explain(trail)


def test_a_trail_stops_at_an_event_id(ledger: Ledger, clock: ManualClock) -> None:
    ids = record_research(ledger, clock)

    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-research", str(ids["inference"]))

    assert trail.history.events[-1].event.event_id == ids["inference"]
    assert [e.id for e in trail.evidence] == [ids["fact"], ids["user"], ids["inference"]]


def test_a_trail_stops_at_an_offset_given_as_a_number_or_a_numeric_string(
    ledger: Ledger, clock: ManualClock
) -> None:
    ids = record_research(ledger, clock)
    offset = ids["checkpoint_offset"]

    by_int = DecisionTrailBuilder(ledger, clock=clock).build("wf-research", offset)
    by_str = DecisionTrailBuilder(ledger, clock=clock).build("wf-research", str(offset))

    assert by_int.history.events[-1].offset == offset
    assert by_int.history.events[-1].event.type == "CheckpointMarked"
    assert by_int == by_str
    assert by_int.checkpoint == str(offset)


def test_an_unknown_checkpoint_is_not_found_and_no_explanation(ledger: Ledger, clock: ManualClock) -> None:
    record_research(ledger, clock)
    builder = DecisionTrailBuilder(ledger, clock=clock)

    with pytest.raises(CheckpointNotFoundError) as raised:
        asyncio.run(builder.build_trail("wf-research", "cp-never-marked"))
    with pytest.raises(CheckpointNotFoundError):
        builder.build("wf-research", 0)  # an offset before the workflow's first event

    assert (raised.value.workflow_id, raised.value.checkpoint) == ("wf-research", "cp-never-marked")
    # Nothing was there to explain: no failed explanation counts in MTTE.
    assert list(ledger.read(types="ExplanationRecorded")) == []


def test_an_unknown_workflow_is_not_found_and_no_explanation(ledger: Ledger, clock: ManualClock) -> None:
    builder = DecisionTrailBuilder(ledger, clock=clock)

    with pytest.raises(WorkflowNotFoundError) as raised:
        asyncio.run(builder.build_trail("wf-never-ran"))
    with pytest.raises(WorkflowNotFoundError):
        builder.build("wf-never-ran")

    assert raised.value.workflow_id == "wf-never-ran"
    assert "wf-never-ran" in str(raised.value)
    assert list(ledger.read()) == []  # no ExplanationRecorded, and the workflow still does not exist
    clock.advance(seconds=1)
    report = SLOTracker(ledger=ledger, clock=clock).report()
    assert (report.explanations, report.explanation_failures) == (0, 0)
    assert not report.mtte_p95_ms.measured


def test_building_and_explaining_records_exactly_one_mtte_measurement(
    ledger: Ledger, clock: ManualClock
) -> None:
    record_research(ledger, clock)
    builder = DecisionTrailBuilder(ledger, clock=clock)

    async def explain_it() -> str:
        trail = await builder.build_trail("wf-research", "cp-research")
        return await builder.explain_decision(trail)

    text = asyncio.run(explain_it())

    (measurement,) = [r for r in ledger.read(types="ExplanationRecorded")]
    event = measurement.event
    assert (event.workflow_id, event.checkpoint_id, event.success, event.error) == (
        "wf-research",
        "cp-research",
        True,
        None,
    )
    assert event.duration_ms >= 0
    assert measurement.stream == "explain:wf-research"  # not part of the workflow's own run
    assert text.startswith("# Decision trail: wf-research")
    clock.advance(seconds=1)
    report = SLOTracker(ledger=ledger, clock=clock).report()
    assert (report.explanations, report.explanation_failures) == (1, 0)
    assert report.mtte_p95_ms == pytest.approx(event.duration_ms)
    assert report.is_mtte_compliant()


def test_building_alone_records_no_measurement_and_explaining_does_not_change_the_trail(
    ledger: Ledger, clock: ManualClock
) -> None:
    record_research(ledger, clock)
    builder = DecisionTrailBuilder(ledger, clock=clock)

    before = builder.build("wf-research")
    assert list(ledger.read(types="ExplanationRecorded")) == []
    builder.explain(before)
    after = builder.build("wf-research")

    assert after == before  # explanations live in their own stream, not in the workflow's trail
    assert len(list(ledger.read(types="ExplanationRecorded"))) == 1


def test_explaining_a_trail_again_measures_only_the_second_rendering(
    ledger: Ledger, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # MTTE is the time from asking to having the explanation. A trail explained again later
    # must not count the time it sat unused since its build.
    record_research(ledger, clock)
    builder = DecisionTrailBuilder(ledger, clock=clock)
    now = [1000.0]
    monkeypatch.setattr("replay.builder.time.perf_counter", lambda: now[0])

    trail = builder.build("wf-research")
    now[0] += 0.25  # building and rendering take 250 ms
    builder.explain(trail)
    now[0] += 600  # ten minutes later, the same trail is explained again
    builder.explain(trail)
    other = builder.build("wf-research")  # a new build is a new request
    now[0] += 0.1
    builder.explain(other)

    durations = [r.event.duration_ms for r in ledger.read(types="ExplanationRecorded")]
    assert durations == [250.0, 0.0, 100.0]


def test_a_builder_can_be_told_not_to_record_mtte(ledger: Ledger, clock: ManualClock) -> None:
    record_research(ledger, clock)
    builder = DecisionTrailBuilder(ledger, clock=clock, record_mtte=False)

    builder.explain(builder.build("wf-research"))

    assert list(ledger.read(types="ExplanationRecorded")) == []


def test_the_guides_constructor_arguments_name_the_ledger(ledger: Ledger, clock: ManualClock) -> None:
    record_research(ledger, clock)

    as_state = DecisionTrailBuilder(state_manager=ledger, tool_registry={"search": len}, clock=clock)
    as_checkpoints = DecisionTrailBuilder(checkpoint_manager=ledger, clock=clock)

    assert as_state.ledger is ledger and as_checkpoints.ledger is ledger
    assert as_state.build("wf-research").goal == "decide on the refund"
    assert as_state.build("wf-research").tools is as_state.tools and as_state.tools.names == ["search"]


def test_a_state_manager_that_is_not_a_ledger_is_refused_not_ignored(ledger: Ledger) -> None:
    with pytest.raises(TypeError, match=r"state_manager=.*must be a Ledger or a ledger URL"):
        DecisionTrailBuilder(ledger=ledger, state_manager=object())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="mapping of tool name to callable"):
        DecisionTrailBuilder(ledger=ledger, tool_registry=object())  # type: ignore[arg-type]


def test_the_explanation_is_markdown_with_outcome_timeline_evidence_and_unbacked_claims(
    ledger: Ledger, clock: ManualClock
) -> None:
    record_research(ledger, clock)
    trail = DecisionTrailBuilder(ledger, clock=clock).build("wf-research")

    text = explain(trail)

    lines = text.splitlines()
    assert lines[0] == "# Decision trail: wf-research"
    assert "- **Goal:** decide on the refund" in lines
    assert any(
        line.startswith("- **Outcome:** succeeded") and '"decision":"refund"' in line for line in lines
    )
    assert "- **Steps:** 2 (1 failed); **tool calls:** 2; **replans:** 1" in lines
    (costs,) = [line for line in lines if line.startswith("- **Tokens:**")]
    tokens, cost = re.fullmatch(
        r"- \*\*Tokens:\*\* ([\d,]+); \*\*cost:\*\* ([\d.]+) USD \(\+1 unpriced\)", costs
    ).groups()
    assert (tokens, Decimal(cost)) == ("1,542", Decimal("0.00045"))
    assert "1. rewrite the reply | politely" in lines
    timeline = [line for line in lines if line.startswith("| ") and not line.startswith("| offset")]
    assert len(timeline) == len(trail.history)  # one row per event
    assert any("(mode execute, declared explore)" in line for line in timeline)
    assert any("\\|" in line for line in timeline)  # a '|' in a value cannot break the table
    assert "## Verified evidence (2)" in lines
    assert "## Claims (4)" in lines
    assert "## Inferences (1)" in lines
    unbacked = lines[lines.index("## Claims without verified backing (3)") + 1 :]
    assert unbacked[:3] == [
        "- promise from writer: `refund arrives tomorrow`",
        "- tone from writer: `customer is happy`",
        "- source from writer: `per policy`",
    ]
