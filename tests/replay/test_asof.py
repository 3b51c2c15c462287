"""Projection replay: any projection's state as of any offset, from the ledger alone.

Ten steps are recorded, the first five succeeding and the last five failing, then explanations
and replays; state as of offset k is the fold of offsets 1..k, so its SVR is known by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger import CostIncurred, ExplanationRecorded, Ledger, ReplayAttempted, StepRecorded
from projections import CostProjection, ReliabilityProjection, SLOProjection
from replay import state_as_of

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def fill(ledger: Ledger) -> None:
    """Offsets 1-10 steps (5 ok, 5 failed); 11-12 explanations; 13-14 replays; 15 a cost."""
    ledger.append(
        [
            StepRecorded(agent="a", success=i < 5, occurred_at=T0 + timedelta(minutes=i), workflow_id="wf")
            for i in range(10)
        ]
    )
    ledger.append(
        [
            ExplanationRecorded(workflow_id="wf", duration_ms=100.0, occurred_at=T0),
            ExplanationRecorded(workflow_id="wf", duration_ms=300.0, occurred_at=T0),
            ReplayAttempted(workflow_id="wf", replay_mode="strict", success=True, occurred_at=T0),
            ReplayAttempted(workflow_id="wf", replay_mode="simulated", success=False, occurred_at=T0),
            CostIncurred(model="gpt-4o", amount=Decimal("1.25"), prompt_tokens=10, occurred_at=T0),
        ]
    )


@pytest.mark.parametrize(
    ("offset", "steps", "svr"), [(0, 0, None), (3, 3, 1.0), (5, 5, 1.0), (8, 8, 5 / 8), (15, 10, 0.5)]
)
def test_reliability_as_of_an_offset_folds_exactly_the_events_up_to_it(
    ledger: Ledger, offset: int, steps: int, svr: float | None
) -> None:
    fill(ledger)

    state = state_as_of(ledger, ReliabilityProjection, offset)

    report = state.report()
    assert state.position == offset
    assert report.total_steps == steps
    assert report.svr == svr


def test_any_projection_can_be_read_as_of_an_offset(ledger: Ledger) -> None:
    fill(ledger)

    slo_at_12 = state_as_of(ledger, SLOProjection, 12).report()
    slo_at_14 = state_as_of(ledger, SLOProjection, 14).report()
    cost_at_14 = state_as_of(ledger, CostProjection, 14)
    cost_at_15 = state_as_of(ledger, CostProjection, 15)

    assert (slo_at_12.explanations, slo_at_12.mtte_mean_ms, slo_at_12.replay_attempts) == (2, 200.0, 0)
    assert (slo_at_14.replay_attempts, slo_at_14.rsr) == (2, 0.5)
    assert cost_at_14.digest() == CostProjection().digest()  # nothing spent yet
    assert cost_at_15.digest() != cost_at_14.digest()


def test_state_as_of_equals_a_fold_of_the_same_events_read_into_memory(ledger: Ledger) -> None:
    fill(ledger)
    for offset in (1, 7, 12, 15):
        folded = ReliabilityProjection()
        folded.fold_rows(list(ledger.scan(through=offset)))

        assert state_as_of(ledger, ReliabilityProjection, offset).digest() == folded.digest()


def test_state_as_of_can_resume_from_an_earlier_state(ledger: Ledger) -> None:
    fill(ledger)
    earlier = state_as_of(ledger, ReliabilityProjection, 4)

    later = state_as_of(ledger, ReliabilityProjection, 9, start=earlier)
    too_late = state_as_of(
        ledger, ReliabilityProjection, 2, start=state_as_of(ledger, ReliabilityProjection, 6)
    )

    assert later.digest() == state_as_of(ledger, ReliabilityProjection, 9).digest()
    assert later.report().svr == 5 / 9
    # A start beyond the offset cannot be rewound: the state is folded afresh.
    assert (too_late.position, too_late.report().total_steps) == (2, 2)


@pytest.mark.parametrize("offset", [-1, 16])
def test_an_offset_outside_the_ledger_is_an_error(ledger: Ledger, offset: int) -> None:
    fill(ledger)

    with pytest.raises(ValueError, match="offset"):
        state_as_of(ledger, ReliabilityProjection, offset)
