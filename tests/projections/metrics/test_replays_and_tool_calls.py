"""Replay runs stay out of production numbers; TCL counts each tool call once (issue #12).

A replay is recorded as a workflow whose ``WorkflowStarted`` names its original
(``replay_of``); its steps, tool calls, mode checks, completion and costs are excluded from the
reports unless ``include_replays`` asks for them, and the report says what it excluded.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger import CostIncurred, Ledger, LedgerEvent, WorkflowStarted
from projections import CostTracker, MetricTargets, ReliabilityMetrics
from projections.metrics.render import render_metrics
from tests.projections.support import allowed, at, completed, started, step, tool, violation


def production(wf: str) -> list[LedgerEvent]:
    return [
        started(wf, minute=0),
        step(success=True, minute=1, workflow_id=wf),
        step(success=False, minute=2, workflow_id=wf),
        tool(100.0, minute=2, workflow_id=wf),
        allowed(minute=2),
        completed(wf, minute=3, required_human=False, total_retries=1),
    ]


def replay(wf: str, n: int) -> list[LedgerEvent]:
    rid = f"{wf}~strict-{n}"
    return [
        WorkflowStarted(workflow_id=rid, replay_of=wf, replay_mode="strict", occurred_at=at(10 + n)),
        step(success=False, minute=11 + n, workflow_id=rid, required_human=True),
        tool(900.0, minute=11 + n, workflow_id=rid),
        violation(minute=11 + n).model_copy(update={"workflow_id": rid}),
        completed(rid, minute=12 + n, required_human=True, total_retries=5),
    ]


def record(ledger: Ledger, replays: int) -> None:
    ledger.append(production("wf-1"))
    for n in range(replays):
        ledger.append(replay("wf-1", n))


@pytest.mark.parametrize("window", [{}, {"since": at(0), "until": at(60)}])
def test_six_replays_do_not_move_production_numbers(
    ledger: Ledger, metrics: ReliabilityMetrics, window: dict[str, object]
) -> None:
    record(ledger, 0)
    before = metrics.report(**window)  # type: ignore[arg-type]
    ledger.append([e for n in range(6) for e in replay("wf-1", n)])

    after = metrics.report(**window)  # type: ignore[arg-type]

    for name in ("svr", "cr", "pc", "hir", "ma", "tcl", "wct", "total_steps", "total_workflows"):
        assert getattr(after, name) == getattr(before, name), name
    assert after.tool_calls == before.tool_calls == 1
    assert after.replay_workflows_excluded == 6
    assert after.replay_events_excluded == 6 * 4  # a step, a tool call, a mode check, a completion
    assert before.replay_workflows_excluded == 0


def test_include_replays_counts_them(ledger: Ledger, clock: object) -> None:
    record(ledger, 2)
    metrics = ReliabilityMetrics(ledger=ledger, targets=MetricTargets(include_replays=True))

    report = metrics.report()

    assert report.total_steps == 4
    assert report.svr == pytest.approx(1 / 4)
    assert report.hir == pytest.approx(2 / 3)
    assert report.tool_calls == 3
    assert report.replay_workflows_excluded == 0
    assert report.replay_events_excluded == 0


def test_steps_without_a_workflow_count_as_production(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    record(ledger, 1)
    ledger.append(step(success=True, minute=30))

    assert metrics.report().total_steps == 3


def test_the_rendered_report_says_what_it_excluded(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    record(ledger, 3)

    text = render_metrics(metrics.report())

    assert "replays excluded: 3 workflows, 12 events" in text


def test_replay_costs_stay_out_of_the_cost_report(ledger: Ledger, tracker: CostTracker) -> None:
    record(ledger, 1)
    ledger.append(
        [
            CostIncurred(workflow_id="wf-1", amount=Decimal("1.50"), occurred_at=at(2)),
            CostIncurred(workflow_id="wf-1~strict-0", amount=Decimal("4.00"), occurred_at=at(11)),
        ]
    )

    report = tracker.report()
    windowed = tracker.report(since=at(0), until=at(60))

    assert report.total_cost == windowed.total_cost == Decimal("1.50")
    assert report.workflows == windowed.workflows == 1
    assert report.replay_workflows_excluded == 1
    assert report.replay_events_excluded == 1
    assert tracker.report(include_replays=True).total_cost == Decimal("5.50")


def test_the_all_time_cost_report_without_replays_equals_summing_the_production_rows(
    ledger: Ledger, tracker: CostTracker
) -> None:
    # The all-time report takes the running totals less the replay rows; a window over
    # everything sums the production rows one by one. Both must say the same, key by key.
    record(ledger, 2)
    cost = CostIncurred
    ledger.append(
        [
            cost(workflow_id="wf-1", agent="a", model="gpt-4", amount=Decimal("1.50"), occurred_at=at(2)),
            cost(workflow_id="wf-1", agent="free", model="local", amount=Decimal("0"), occurred_at=at(3)),
            cost(
                workflow_id="wf-1",
                agent="a",
                model="m",
                amount=Decimal("2"),
                currency="EUR",
                occurred_at=at(3),
            ),
            cost(
                workflow_id="wf-1~strict-0", agent="a", model="gpt-4", amount=Decimal("4"), occurred_at=at(11)
            ),
            cost(
                workflow_id="wf-1~strict-1",
                agent="only-replays",
                model="r",
                amount=Decimal("1"),
                occurred_at=at(12),
            ),
            cost(
                workflow_id="wf-1~strict-1",
                agent="a",
                model="unpriced-here",
                status="unpriced",
                occurred_at=at(12),
            ),
            cost(agent="b", model="gpt-4", amount=Decimal("0.25"), occurred_at=at(13)),
        ]
    )

    whole = tracker.report().model_dump()
    rows = tracker.report(since=at(-60), until=at(600)).model_dump()

    assert whole == rows
    assert whole["cost_by_agent"] == {"a": Decimal("1.50"), "b": Decimal("0.25"), "free": Decimal("0")}
    assert whole["totals_by_currency"] == {"EUR": Decimal("2"), "USD": Decimal("1.75")}
    assert whole["unpriced_models"] == [] and whole["replay_events_excluded"] == 3


# -- TCL: each tool call once ------------------------------------------------------------------


def test_tcl_counts_a_call_recorded_as_tool_called_and_on_its_step_once(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    # The step carries the duration of the call its ToolCalled records: one call, not two.
    ledger.append(
        [
            started("wf-1"),
            step(minute=1, workflow_id="wf-1", tool_duration_ms=120.0),
            tool(100.0, minute=1, workflow_id="wf-1"),
            tool(300.0, minute=2, workflow_id="wf-1"),
        ]
    )

    report = metrics.report()
    windowed = metrics.report(since=at(0), until=at(60))

    assert report.tool_calls == windowed.tool_calls == 2
    assert report.tcl == windowed.tcl == 200.0
    assert report.agent_metrics["agent"].tool_calls == 2


def test_tcl_takes_step_durations_where_no_tool_call_is_recorded(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            step(minute=1, workflow_id="wf-a", tool_duration_ms=50.0),
            step(minute=1, tool_duration_ms=150.0),  # no workflow
            step(minute=2, workflow_id="wf-b", tool_duration_ms=999.0),
            tool(100.0, minute=3, workflow_id="wf-b"),
        ]
    )

    assert metrics.report().tool_calls == 3
    assert metrics.report().tcl == pytest.approx((50 + 150 + 100) / 3)


def test_tcl_retracts_a_step_duration_once_its_workflow_records_tool_calls(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(step(minute=1, workflow_id="wf-1", tool_duration_ms=500.0))
    assert metrics.report().tcl == 500.0

    ledger.append(tool(100.0, minute=2, workflow_id="wf-1"))

    assert metrics.report().tool_calls == 1
    assert metrics.report().tcl == 100.0
