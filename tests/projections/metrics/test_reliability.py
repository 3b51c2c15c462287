"""Reliability metrics (SVR, CR, PC, HIR, MA, TCL, WCT) on small, hand-computed event sets.

Every expected value below is worked out by hand from ``docs/semantics.md``: rates over zero
observations are ``None``; health comparisons are strict; percentiles interpolate linearly
between closest ranks; windows are half-open on ``occurred_at`` with naive datetimes taken as UTC.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from ledger import Ledger, LedgerEvent
from projections import AgentMetrics, MetricTargets, ReliabilityMetrics
from tests.conftest import ManualClock
from tests.projections.support import (
    T0,
    allowed,
    at,
    completed,
    human,
    replanned,
    started,
    step,
    tool,
    violation,
)

# -- SVR and CR -------------------------------------------------------------------------------


def test_svr_and_cr_are_successful_and_compensated_steps_over_all_steps(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [step(success=True, minute=i) for i in range(6)]
        + [step(success=False, minute=6), step(success=False, minute=7, required_compensation=True)]
        + [step(success=True, minute=8, required_compensation=True)]
        + [step(success=True, minute=9)]
    )

    report = metrics.report()

    assert report.total_steps == 10
    assert report.svr == pytest.approx(8 / 10)
    assert report.cr == pytest.approx(2 / 10)


def test_svr_exactly_at_target_is_not_healthy(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(success=i != 0, minute=i) for i in range(20)])  # 19 of 20

    report = metrics.report()

    assert report.svr == 0.95
    assert not report.is_healthy()
    assert report.get_violations() == ["SVR too low: 95.00% (target >95%)"]


def test_svr_just_above_target_is_healthy(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(success=i != 0, minute=i) for i in range(40)])  # 39 of 40

    report = metrics.report()

    assert report.svr == pytest.approx(0.975)
    assert report.is_healthy()
    assert report.get_violations() == []


def test_cr_exactly_at_target_is_a_violation(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(minute=i, required_compensation=i < 2) for i in range(20)])  # 2 of 20

    report = metrics.report()

    assert report.cr == 0.10
    assert report.svr == 1.0
    assert report.get_violations() == ["CR too high: 10.00% (target <10%)"]


def test_cr_just_below_target_is_healthy(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(minute=i, required_compensation=i < 1) for i in range(11)])  # 1 of 11

    report = metrics.report()

    assert report.cr == pytest.approx(1 / 11)
    assert report.is_healthy()


# -- PC ---------------------------------------------------------------------------------------


def test_pc_takes_reported_total_retries_else_counts_plan_revisions(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            # Reported totals win over the events: 3 replans, though one PlanRevised is seen.
            replanned("wf-reported", 1),
            completed("wf-reported", 2, total_retries=3),
            # No total reported: the two PlanRevised events count.
            replanned("wf-counted", 3),
            replanned("wf-counted", 4),
            completed("wf-counted", 5),
            # No replans at all.
            completed("wf-calm", 6),
            # Never completed: its replans are not part of PC.
            replanned("wf-running", 7),
            replanned("wf-running", 8),
        ]
    )

    report = metrics.report()

    assert report.total_workflows == 3
    assert report.pc == pytest.approx((3 + 2 + 0) / 3)


def test_pc_counts_zero_reported_retries_as_zero_not_as_missing(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append([replanned("wf", 1), replanned("wf", 2), completed("wf", 3, total_retries=0)])

    assert metrics.report().pc == 0.0


def test_pc_exactly_two_is_a_violation(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([completed("wf-1", 1, total_retries=1), completed("wf-2", 2, total_retries=3)])

    report = metrics.report()

    assert report.pc == 2.0
    assert report.get_violations() == ["PC too high: 2.00 (target <2)"]


# -- HIR --------------------------------------------------------------------------------------


def test_hir_counts_a_human_on_the_completion_on_a_step_or_as_an_event(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            completed("wf-on-completion", 1, required_human=True),
            step(minute=2, workflow_id="wf-on-step", required_human=True),
            completed("wf-on-step", 3),
            human("wf-by-event", 4),
            completed("wf-by-event", 5),
            # Two humans in one workflow still make one workflow that needed a human.
            human("wf-twice", 6),
            step(minute=7, workflow_id="wf-twice", required_human=True),
            completed("wf-twice", 8, required_human=True),
            completed("wf-clean-1", 9),
            completed("wf-clean-2", 10),
            # Neither a human step outside any workflow nor an unfinished workflow counts.
            step(minute=11, required_human=True),
            human("wf-running", 12),
        ]
    )

    report = metrics.report()

    assert report.total_workflows == 6
    assert report.hir == pytest.approx(4 / 6)


def test_hir_exactly_at_target_is_a_violation(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([completed(f"wf-{i}", i, required_human=i == 0) for i in range(20)])  # 1 of 20

    report = metrics.report()

    assert report.hir == 0.05
    assert report.get_violations() == ["HIR too high: 5.00% (target <5%)"]


# -- MA ---------------------------------------------------------------------------------------


def test_ma_observes_steps_with_both_modes_and_mode_violations(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            step(minute=1, mode="execute", declared_mode="execute"),
            step(minute=2, mode="Execute", declared_mode="EXECUTE"),  # case does not matter
            step(minute=3, mode="explore", declared_mode="explore"),
            step(minute=4, mode="execute", declared_mode="explore"),  # a mismatch
            step(minute=5, mode="execute"),  # no declared mode: not an observation
            step(minute=6, declared_mode="execute"),  # no mode: not an observation
            step(minute=7),
            violation(minute=8),  # a blocked action: a violating observation
        ]
    )

    report = metrics.report()

    assert report.mode_observations == 5
    assert report.ma == pytest.approx(3 / 5)


def test_ma_counts_actions_the_enforcer_allowed_as_compliant_observations(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [allowed("alpha", i) for i in range(9)]
        + [violation("alpha", 9), step("alpha", minute=10, mode="execute", declared_mode="explore")]
        + [allowed("beta", 11)]
    )

    report = metrics.report()

    # alpha: 9 allowed, 1 blocked, 1 mismatched step; beta: 1 allowed.
    assert report.mode_observations == 12
    assert report.ma == pytest.approx(10 / 12)
    assert report.agent_metrics["alpha"].ma == pytest.approx(9 / 11)
    assert report.agent_metrics["beta"].ma == 1.0
    assert report.agent_metrics["beta"].total_steps == 0
    assert metrics.report(since=at(9), until=at(11)).ma == 0.0


def test_ma_from_mode_violations_alone_is_zero(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([violation(minute=1), violation(minute=2)])

    report = metrics.report()

    assert report.mode_observations == 2
    assert report.ma == 0.0
    assert report.total_steps == 0
    assert not report.svr.measured


def test_ma_exactly_at_target_is_a_violation(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append(
        [step(minute=i, mode="execute", declared_mode="execute") for i in range(9)] + [violation(minute=9)]
    )

    report = metrics.report()

    assert report.ma == 0.90
    assert report.get_violations() == ["MA too low: 90.00% (target >90%)"]


# -- TCL and WCT ------------------------------------------------------------------------------


def test_tcl_summarises_tool_calls_and_step_tool_durations_with_linear_percentiles(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            tool(100, minute=1),
            tool(200, minute=2),
            tool(300, minute=3),
            tool(400, minute=4),
            tool(None, minute=5),  # no duration: not a latency sample
            step(minute=6, tool_duration_ms=1000),
            step(minute=7),  # no tool duration
        ]
    )

    report = metrics.report()

    # Samples 100, 200, 300, 400, 1000: rank p * (n - 1) = p * 4, interpolated linearly.
    assert report.tool_calls == 5
    assert report.tcl == pytest.approx(400.0)
    assert report.tcl_p50 == pytest.approx(300.0)
    assert report.tcl_p95 == pytest.approx(400 + 0.8 * 600)  # rank 3.8
    assert report.tcl_p99 == pytest.approx(400 + 0.96 * 600)  # rank 3.96


def test_wct_uses_reported_duration_else_completed_minus_started(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            # Reported 5 s wins over the 10 minutes between its start and completion.
            started("wf-reported", 0),
            completed("wf-reported", 10, duration_ms=5000),
            # Nothing reported: completed - started = 2 s.
            started("wf-derived", 20),
            completed("wf-derived", 20 + 2 / 60),
            # Neither reported nor started: no duration to summarise.
            completed("wf-unknown", 30),
        ]
    )

    report = metrics.report()

    assert report.total_workflows == 3
    # Durations 5000 and 2000 ms.
    assert report.wct == pytest.approx(3500.0)
    assert report.wct_p50 == pytest.approx(3500.0)
    assert report.wct_p95 == pytest.approx(2000 + 0.95 * 3000)
    assert report.wct_p99 == pytest.approx(2000 + 0.99 * 3000)


def test_tcl_and_wct_without_samples_are_none(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(minute=1), completed("wf", 2)])

    report = metrics.report()

    assert (report.tcl, report.tcl_p50, report.tcl_p95, report.tcl_p99) == (None,) * 4
    assert (report.wct, report.wct_p50, report.wct_p95, report.wct_p99) == (None,) * 4
    assert report.tool_calls == 0


# -- per agent --------------------------------------------------------------------------------


def test_per_agent_breakdown_has_svr_cr_ma_tcl_and_step_counts(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            step("alpha", True, 1, mode="execute", declared_mode="execute", tool_duration_ms=100),
            step("alpha", True, 2, required_compensation=True),
            step("alpha", False, 3, mode="execute", declared_mode="explore"),
            step("alpha", True, 4, tool_duration_ms=300),
            tool(200, agent="alpha", minute=5),
            step("beta", True, 6, mode="explore", declared_mode="explore"),
            violation("beta", 7),
            tool(50, agent="beta", minute=8),
            violation("gamma", 9),  # an agent seen only in a mode violation
        ]
    )

    report = metrics.report()

    assert report.agent_metrics == {
        "alpha": AgentMetrics(svr=3 / 4, cr=1 / 4, ma=1 / 2, tcl=200.0, total_steps=4, tool_calls=3),
        "beta": AgentMetrics(svr=1.0, cr=0.0, ma=1 / 2, tcl=50.0, total_steps=1, tool_calls=1),
        "gamma": AgentMetrics(svr=None, cr=None, ma=0.0, tcl=None, total_steps=0, tool_calls=0),
    }


def test_per_agent_breakdown_is_windowed_like_the_totals(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step("alpha", False, 1), step("alpha", True, 61), step("beta", True, 62)])

    report = metrics.report(since=at(60))

    assert report.agent_metrics["alpha"].total_steps == 1
    assert report.agent_metrics["alpha"].svr == 1.0
    assert report.agent_metrics["beta"].total_steps == 1


# -- no data ----------------------------------------------------------------------------------


def test_no_data_gives_none_and_lists_every_metric_as_insufficient(
    metrics: ReliabilityMetrics,
) -> None:
    report = metrics.report()

    assert (report.svr, report.cr, report.pc, report.hir, report.ma) == (None,) * 5
    assert report.insufficient_data == ["svr", "cr", "pc", "hir", "ma"]
    assert report.get_violations() == []
    assert report.health is None and not report.is_healthy()  # nothing judged: no verdict
    assert report.agent_metrics == {}
    assert (report.total_steps, report.total_workflows, report.tool_calls) == (0, 0, 0)


def test_health_judges_only_metrics_with_data(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(success=i < 5, minute=i) for i in range(10)])  # steps only, no modes

    report = metrics.report()

    assert report.insufficient_data == ["pc", "hir", "ma"]
    assert report.get_violations() == ["SVR too low: 50.00% (target >95%)"]
    assert not report.is_healthy()


def test_metrics_with_data_and_no_violation_are_healthy_despite_missing_ones(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append([completed("wf", 1, total_retries=1)])

    report = metrics.report()

    assert report.insufficient_data == ["svr", "cr", "ma"]
    assert report.pc == 1.0
    assert report.hir == 0.0
    assert report.is_healthy()


# -- violations -------------------------------------------------------------------------------


def test_violations_are_one_readable_line_per_failing_metric_in_order(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    events: list[LedgerEvent] = []
    for i in range(50):
        events.append(
            step(
                success=i >= 9,  # 41 of 50 succeed: 82%
                minute=i,
                required_compensation=i < 10,  # 10 of 50: 20%
                mode="execute",
                declared_mode="execute" if i % 2 else "explore",  # 25 of 50 comply: 50%
            )
        )
    events += [
        completed("wf-1", 60, total_retries=3, required_human=True),
        completed("wf-2", 61, total_retries=4),
    ]
    ledger.append(events)

    report = metrics.report()

    assert report.get_violations() == [
        "SVR too low: 82.00% (target >95%)",
        "CR too high: 20.00% (target <10%)",
        "PC too high: 3.50 (target <2)",
        "HIR too high: 50.00% (target <5%)",
        "MA too low: 50.00% (target >90%)",
    ]
    assert not report.is_healthy()


def test_custom_targets_decide_health_and_appear_in_violations(ledger: Ledger, clock: ManualClock) -> None:
    ledger.append(
        [step(success=i < 4, minute=i, required_compensation=i < 3) for i in range(10)]
        + [completed("wf", 20, total_retries=4)]
    )
    lenient = MetricTargets(svr_min=0.35, cr_max=0.5, pc_max=5, hir_max=0.5, ma_min=0.5)
    strict = MetricTargets(svr_min=0.5, cr_max=0.25, pc_max=4, hir_max=0.5, ma_min=0.5)

    relaxed = ReliabilityMetrics(ledger=ledger, clock=clock, targets=lenient).report()
    tight = ReliabilityMetrics(ledger=ledger, clock=clock, targets=strict).report()

    # SVR 40%, CR 30%, PC 4.
    assert relaxed.is_healthy()
    assert relaxed.targets == lenient
    assert tight.get_violations() == [
        "SVR too low: 40.00% (target >50%)",
        "CR too high: 30.00% (target <25%)",
        "PC too high: 4.00 (target <4)",
    ]


def test_default_targets_are_the_guides() -> None:
    targets = MetricTargets()

    assert (targets.svr_min, targets.cr_max, targets.pc_max, targets.hir_max, targets.ma_min) == (
        0.95,
        0.10,
        2,
        0.05,
        0.90,
    )


# -- windows ----------------------------------------------------------------------------------


def test_window_is_half_open_on_occurred_at(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(success=False, minute=0), step(minute=60), step(minute=120)])

    assert metrics.report(since=at(0), until=at(60)).total_steps == 1
    assert metrics.report(since=at(60), until=at(120)).total_steps == 1
    assert metrics.report(since=at(0), until=at(120)).svr == pytest.approx(1 / 2)
    assert metrics.report(since=at(60)).total_steps == 2
    assert metrics.report(until=at(60)).svr == 0.0
    assert metrics.report(since=at(0, microseconds=1)).total_steps == 2
    assert metrics.report(until=at(120, microseconds=1)).total_steps == 3


def test_naive_window_bounds_are_taken_as_utc(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(minute=0), step(minute=60), step(minute=120)])
    naive_since = T0.replace(tzinfo=None) + timedelta(minutes=60)
    plus_one = timezone(timedelta(hours=1))

    naive = metrics.report(since=naive_since)
    aware = metrics.report(since=at(60))
    other_zone = metrics.report(since=at(60).astimezone(plus_one))

    assert naive.total_steps == aware.total_steps == other_zone.total_steps == 2


def test_workflow_metrics_take_workflows_completed_in_the_window(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [
            started("wf-early", 0),
            replanned("wf-early", 1),
            completed("wf-early", 5, required_human=True),
            started("wf-late", 50),  # started before the window, completed inside it
            replanned("wf-late", 55),
            replanned("wf-late", 56),
            completed("wf-late", 65, duration_ms=1234),
        ]
    )

    report = metrics.report(since=at(60))

    assert report.total_workflows == 1
    assert report.pc == 2.0
    assert report.hir == 0.0
    assert report.wct == 1234.0


def test_a_report_without_until_includes_every_event_so_far(
    ledger: Ledger, metrics: ReliabilityMetrics, clock: ManualClock
) -> None:
    # semantics.md: no until = every event recorded so far, even one dated after the clock's
    # now (a skewed producer); an explicit until=now is the half-open window that excludes it.
    ledger.append(
        [
            step(success=True, minute=0),
            step(success=False, minute=4 * 60),  # 13:00, an hour after the clock's now
        ]
    )
    assert at(4 * 60) == clock() + timedelta(hours=1)

    report = metrics.report()

    assert report.total_steps == 2
    assert report.svr == 0.5
    assert metrics.report(until=clock()).total_steps == 1
    assert metrics.report(until=clock()).svr == 1.0


# -- the facade ---------------------------------------------------------------------------------


def test_record_step_takes_mode_and_declared_mode_positionally(
    metrics: ReliabilityMetrics, clock: ManualClock
) -> None:
    async def record() -> None:
        await metrics.record_step("agent", True, "execute", "EXECUTE")
        await metrics.record_step("agent", False, "explore", "execute")

    asyncio.run(record())
    clock.advance(seconds=1)
    report = metrics.report()

    assert report.total_steps == 2
    assert report.svr == 0.5
    assert report.ma == 0.5


def test_recorded_steps_and_workflows_are_dated_by_the_clock(
    metrics: ReliabilityMetrics, ledger: Ledger, clock: ManualClock
) -> None:
    async def record() -> None:
        await metrics.record_step("agent", True, workflow_id="wf", required_human=True)
        clock.advance(minutes=1)
        await metrics.record_workflow("wf", 1, 2, agents_involved=["agent"])

    start = clock()
    asyncio.run(record())
    clock.advance(seconds=1)

    assert [r.event.occurred_at for r in ledger.read()] == [start, start + timedelta(minutes=1)]
    report = metrics.report()
    assert (report.total_steps, report.total_workflows, report.pc, report.hir) == (1, 1, 2.0, 1.0)


def test_a_naive_occurred_at_is_stored_as_utc(metrics: ReliabilityMetrics, ledger: Ledger) -> None:
    asyncio.run(metrics.record_step("agent", True, occurred_at=datetime(2025, 1, 1, 10, 30)))

    (record,) = ledger.read()
    assert record.event.occurred_at == at(90)
    assert metrics.report(since=at(90), until=at(91)).total_steps == 1


def test_get_report_matches_report(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([step(minute=1), step(success=False, minute=2), completed("wf", 3)])

    assert asyncio.run(metrics.get_report()) == metrics.report()
