"""SLOs: mean time to explain (MTTE) and replay success rate (RSR), with hand-computed values.

MTTE is summarised over successful explanations only (failures are counted, with their share);
its target is p95 <= 300 000 ms, inclusive. RSR = replays that reproduced the recording / replay
attempts, overall and per mode; its target is >= 0.99, inclusive. No data is ``None``: compliant
because nothing is judged, and listed in ``insufficient_data``.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pydantic import ValidationError

from ledger import ExplanationRecorded, Ledger, ReplayAttempted
from projections import SLOTargets, SLOTracker
from tests.conftest import ManualClock
from tests.projections.support import at


def explained(duration_ms: float, success: bool = True, minute: float = 0) -> ExplanationRecorded:
    return ExplanationRecorded(
        workflow_id="wf", duration_ms=duration_ms, success=success, occurred_at=at(minute)
    )


def replayed(mode: str, success: bool, minute: float = 0) -> ReplayAttempted:
    return ReplayAttempted(workflow_id="wf", replay_mode=mode, success=success, occurred_at=at(minute))


# -- MTTE -------------------------------------------------------------------------------------


def test_mtte_summarises_successful_explanations_and_counts_failures(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append(
        [
            explained(1000, minute=1),
            explained(2000, minute=2),
            explained(999_999, success=False, minute=3),  # a failure's time is not an MTTE sample
            explained(3000, minute=4),
            explained(4000, minute=5),
            explained(1, success=False, minute=6),
            explained(100_000, minute=7),
        ]
    )

    report = slo.report()

    # Samples 1000, 2000, 3000, 4000, 100000; rank p * 4, interpolated linearly.
    assert report.mtte_mean_ms == pytest.approx(22_000.0)
    assert report.mtte_p50_ms == pytest.approx(3000.0)
    assert report.mtte_p95_ms == pytest.approx(4000 + 0.8 * 96_000)
    assert report.mtte_p99_ms == pytest.approx(4000 + 0.96 * 96_000)
    assert report.explanations == 7
    assert report.explanation_failures == 2
    assert report.explanation_failure_rate == pytest.approx(2 / 7)


def test_mtte_p95_exactly_at_target_is_compliant(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append([explained(300_000, minute=1), explained(300_000, minute=2)])

    report = slo.report()

    assert report.mtte_p95_ms == 300_000.0
    assert report.is_mtte_compliant()
    assert report.get_violations() == []


def test_mtte_p95_above_target_is_a_violation(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append([explained(300_001, minute=1)])

    report = slo.report()

    assert not report.is_mtte_compliant()
    assert report.get_violations() == ["MTTE p95 too slow: 300.0s (target <=300s)"]


def test_only_failed_explanations_leave_mtte_without_data(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append([explained(10, success=False, minute=1), explained(20, success=False, minute=2)])

    report = slo.report()

    assert not report.mtte_mean_ms.measured
    assert not report.mtte_p95_ms.measured
    assert report.explanation_failures == 2
    assert report.explanation_failure_rate == 1.0
    assert report.insufficient_data == ["mtte", "rsr"]
    assert report.is_mtte_compliant()


# -- RSR --------------------------------------------------------------------------------------


def test_rsr_overall_and_per_mode(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append(
        [
            replayed("strict", True, 1),
            replayed("strict", False, 2),  # ran but diverged: a failure
            replayed("strict", True, 3),
            replayed("simulated", True, 4),
        ]
    )

    report = slo.report()

    assert report.replay_attempts == 4
    assert report.rsr == pytest.approx(3 / 4)
    assert report.rsr_by_mode == {
        "strict": pytest.approx(2 / 3),
        "simulated": 1.0,
        "counterfactual": None,
    }
    assert report.replay_attempts_by_mode == {"strict": 3, "simulated": 1, "counterfactual": 0}


def test_rsr_exactly_at_target_is_compliant(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append([replayed("strict", i != 0, i) for i in range(100)])  # 99 of 100

    report = slo.report()

    assert report.rsr == 0.99
    assert report.is_rsr_compliant()
    assert report.get_violations() == []


def test_rsr_below_target_is_a_violation(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append([replayed("strict", i >= 2, i) for i in range(100)])  # 98 of 100

    report = slo.report()

    assert not report.is_rsr_compliant()
    assert report.get_violations() == ["RSR too low: 98.00% (target >=99%)"]


# -- no data, targets, windows ------------------------------------------------------------------


def test_no_data_is_none_compliant_and_insufficient(slo: SLOTracker) -> None:
    report = slo.report()

    assert (report.mtte_mean_ms, report.mtte_p50_ms, report.mtte_p95_ms, report.mtte_p99_ms) == (None,) * 4
    assert not report.rsr.measured
    assert report.rsr_by_mode == {"strict": None, "simulated": None, "counterfactual": None}
    assert not report.explanation_failure_rate.measured
    assert (report.explanations, report.replay_attempts) == (0, 0)
    assert report.is_mtte_compliant()
    assert report.is_rsr_compliant()
    assert report.insufficient_data == ["mtte", "rsr"]
    assert report.get_violations() == []


def test_custom_slo_targets_are_applied(ledger: Ledger, clock: ManualClock) -> None:
    ledger.append([explained(2000, minute=1), replayed("strict", True, 2), replayed("strict", False, 3)])
    targets = SLOTargets(mtte_p95_ms=1000, rsr_min=0.5)

    report = SLOTracker(ledger=ledger, clock=clock, targets=targets).report()

    assert report.targets == targets
    assert not report.is_mtte_compliant()
    assert report.is_rsr_compliant()  # 50% >= 50%
    assert report.get_violations() == ["MTTE p95 too slow: 2.0s (target <=1s)"]


def test_default_slo_targets_are_five_minutes_and_99_percent() -> None:
    assert (SLOTargets().mtte_p95_ms, SLOTargets().rsr_min) == (300_000, 0.99)


def test_slo_window_is_half_open(ledger: Ledger, slo: SLOTracker) -> None:
    ledger.append(
        [
            explained(100, minute=0),
            replayed("strict", False, 0),
            explained(200, minute=60),
            replayed("strict", True, 60),
            explained(400, minute=120),
        ]
    )

    first = slo.report(since=at(0), until=at(60))
    second = slo.report(since=at(60), until=at(120))

    assert (first.explanations, first.mtte_mean_ms, first.rsr) == (1, 100.0, 0.0)
    assert (second.explanations, second.mtte_mean_ms, second.rsr) == (1, 200.0, 1.0)
    assert slo.report(since=at(60).replace(tzinfo=None)).explanations == 2


def test_an_slo_report_without_until_includes_every_event_so_far(
    ledger: Ledger, slo: SLOTracker, clock: ManualClock
) -> None:
    # semantics.md: no until = every event recorded so far, even one dated after the clock's now.
    ledger.append([explained(100, minute=0), explained(900, minute=4 * 60)])
    assert at(4 * 60) > clock()

    report = slo.report()

    assert report.explanations == 2
    assert report.mtte_mean_ms == 500.0
    assert slo.report(until=clock()).explanations == 1
    assert slo.report(until=clock()).mtte_mean_ms == 100.0


# -- the facade ---------------------------------------------------------------------------------


def test_record_mtte_and_record_rsr_feed_the_report(
    slo: SLOTracker, ledger: Ledger, clock: ManualClock
) -> None:
    async def record() -> None:
        await slo.record_mtte(thread_id="wf-1", checkpoint_id="cp-1", duration_ms=1500, success=True)
        await slo.record_mtte(thread_id="wf-2", duration_ms=50, success=False, error="no trail")
        await slo.record_rsr(thread_id="wf-1", checkpoint_id="cp-1", replay_mode="simulated", success=True)

    asyncio.run(record())
    clock.advance(seconds=1)
    report = slo.report()

    assert (report.explanations, report.explanation_failures) == (2, 1)
    assert report.mtte_p95_ms == 1500.0
    assert report.rsr_by_mode["simulated"] == 1.0
    first = next(iter(ledger.read()))
    assert first.event.workflow_id == "wf-1"
    assert first.event.occurred_at == clock() - timedelta(seconds=1)


def test_an_unknown_replay_mode_is_refused_and_nothing_is_written(slo: SLOTracker, ledger: Ledger) -> None:
    with pytest.raises(ValidationError, match="replay_mode"):
        asyncio.run(slo.record_rsr(thread_id="wf", replay_mode="sloppy", success=True))

    assert ledger.latest_offset() == 0


# -- RSR scope ------------------------------------------------------------------------------------


def test_rsr_counts_strict_and_simulated_replays_not_counterfactual_ones(
    slo: SLOTracker, ledger: Ledger
) -> None:
    # An experimental (counterfactual) replay that "fails" is not a production RSR breach.
    async def record() -> None:
        await slo.record_rsr(thread_id="wf-1", replay_mode="strict", success=True)
        await slo.record_rsr(thread_id="wf-1", replay_mode="counterfactual", success=False)

    asyncio.run(record())

    report = slo.report()
    assert report.rsr == 1.0
    assert report.is_rsr_compliant()
    assert report.rsr_by_mode["counterfactual"] == 0.0
    assert report.replay_attempts == 2

    everything = SLOTracker(
        ledger=ledger, targets=SLOTargets(rsr_modes=("strict", "simulated", "counterfactual"))
    )
    assert everything.report().rsr == 0.5
