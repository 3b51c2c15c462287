"""Retention, on every backend: pruning old events keeps what the rest of the system relies on.

A prune removes the events recorded before a horizon, never past the lowest stored projection
position (unless forced), in one atomic step. Afterwards offsets and stream versions carry on,
the chain verifies from the prune mark and says what was pruned, stored projections keep their
totals, and a fold that would need the removed events refuses loudly. ``keep_for`` does the same
lazily after appends, on the ledger's own clock.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from ledger import Ledger, PlanRevised, StepRecorded, VersionConflictError, open_ledger
from ledger import chain as chain_module
from ledger.backends.base import SavedView
from ledger.errors import PrunedRangeError
from projections import CORE_PROJECTIONS, ProjectionRunner, ReliabilityProjection, load_stored
from tests.conftest import MakeLedger, ManualClock, sqlite_url
from tests.ledger.test_tamper import flip_success, storage_of

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)
TTL = timedelta(days=90)


def step(workflow: str = "w1", success: bool = True) -> StepRecorded:
    return StepRecorded(workflow_id=workflow, agent="a", success=success, occurred_at=T0)


def save_view(ledger: Ledger, name: str, position: int) -> None:
    ledger.backend.save_view(SavedView(name, position, b"{}", "d", T0), reset=True)


@pytest.fixture
def aged(make_ledger: MakeLedger, clock: ManualClock) -> Ledger:
    """Offsets 1-6 committed 100 days ago (four of w1, two of w2), then 7-8 today (w2, w3)."""
    ledger = make_ledger(clock=clock)
    ledger.append([step("w1"), step("w1"), step("w2")])
    clock.advance(minutes=1)
    ledger.append([step("w1"), step("w2"), step("w1")])
    clock.advance(days=100)
    ledger.append([step("w2"), step("w3")])
    return ledger


def horizon(clock: ManualClock) -> datetime:
    return clock.now - TTL


def test_nothing_is_pruned_without_a_stored_projection_unless_forced(
    aged: Ledger, clock: ManualClock
) -> None:
    held = aged.prune(horizon(clock))

    assert (held.events, held.through, held.wanted_through) == (0, 0, 6)
    assert held.held_back_by is not None and "no stored projection" in held.held_back_by
    assert [r.offset for r in aged.read()] == list(range(1, 9))

    forced = aged.prune(horizon(clock), force=True)

    assert (forced.events, forced.through, forced.held_back_by) == (6, 6, None)
    assert [r.offset for r in aged.read()] == [7, 8]
    assert aged.stats()["events"] == 2


def test_a_prune_stops_at_the_lowest_stored_projection_position(aged: Ledger, clock: ManualClock) -> None:
    save_view(aged, "ahead", 8)
    save_view(aged, "behind", 3)

    result = aged.prune(horizon(clock))

    assert (result.events, result.through, result.wanted_through) == (3, 3, 6)
    assert result.held_back_by is not None and "'behind' at offset 3" in result.held_back_by
    assert [r.offset for r in aged.read()] == [4, 5, 6, 7, 8]

    save_view(aged, "behind", 8)
    assert aged.prune(horizon(clock)).events == 3
    assert [r.offset for r in aged.read()] == [7, 8]


def test_only_events_older_than_the_horizon_go(aged: Ledger, clock: ManualClock) -> None:
    save_view(aged, "all", 8)

    result = aged.prune(clock.now - timedelta(days=100, seconds=30))

    # Offsets 1-3 were committed a minute before 4-6: only they are older than the horizon.
    assert (result.events, result.through) == (3, 3)
    assert aged.prune(horizon(clock) - timedelta(days=365)).events == 0


def test_a_pruned_ledger_verifies_from_the_mark_and_says_what_was_pruned(
    aged: Ledger, clock: ManualClock
) -> None:
    save_view(aged, "all", 8)
    aged.prune(T0 + timedelta(seconds=30))  # offsets 1-3
    aged.prune(horizon(clock))  # offsets 4-6

    report = aged.verify()

    assert report.ok, report.problems
    assert (report.pruned_through, report.pruned_events) == (6, 6)
    assert report.pruned == "pruned 6 event(s) up to offset 6"
    assert (report.events_checked, report.last_offset, report.head_offset) == (2, 8, 8)
    assert [(m.offset, m.events, m.recorded_at) for m in aged.backend.prune_marks()] == [
        (3, 3, clock.now),
        (6, 3, clock.now),
    ]


def test_a_ledger_never_pruned_reports_no_pruning(aged: Ledger) -> None:
    report = aged.verify()

    assert report.ok
    assert (report.pruned_through, report.pruned_events, report.pruned) == (0, 0, None)


def test_offsets_and_stream_versions_carry_on_after_a_prune(aged: Ledger, clock: ManualClock) -> None:
    save_view(aged, "all", 8)
    aged.prune(horizon(clock))  # removes every event of wf:w1

    assert aged.stream_version("wf:w1") == 4
    assert aged.stream("w1") == []
    # "The ledger as of" a pruned moment is the cut: nothing older can be shown.
    assert aged.offset_at(T0) == 6
    assert aged.offset_at(clock.now) == 6
    assert aged.offset_at(clock.now + timedelta(microseconds=1)) == 8
    with pytest.raises(VersionConflictError) as caught:
        aged.append(step("w1"), expected_version=0)
    assert caught.value.actual_version == 4

    result = aged.append([step("w1"), step("w2")], expected_version={"wf:w1": 4, "wf:w2": 3})

    assert result.offsets == (9, 10)
    assert [(r.stream, r.version) for r in aged.read(after=8)] == [("wf:w1", 5), ("wf:w2", 4)]
    assert aged.verify().ok


def test_pruning_every_event_keeps_the_head_and_the_chain_continues(aged: Ledger, clock: ManualClock) -> None:
    clock.advance(days=365)
    save_view(aged, "all", 8)

    assert aged.prune(horizon(clock)).events == 8
    assert list(aged.read()) == []
    assert aged.latest_offset() == 8
    assert aged.append(step("w9")).offsets == (9,)

    report = aged.verify()
    assert report.ok, report.problems
    assert (report.events_checked, report.pruned_through, report.last_offset) == (1, 8, 9)


def test_the_id_of_a_pruned_event_is_forgotten(make_ledger: MakeLedger, clock: ManualClock) -> None:
    # Idempotency holds within the retention horizon: a retry older than that is a new event.
    ledger = make_ledger(clock=clock)
    old = step()
    ledger.append(old)
    clock.advance(days=100)
    ledger.prune(horizon(clock), force=True)

    again = ledger.append(old)

    assert (again.offsets, again.written) == ((2,), 1)


def test_a_cut_never_moves_backwards(aged: Ledger, clock: ManualClock) -> None:
    save_view(aged, "all", 8)
    aged.prune(horizon(clock))

    earlier = aged.prune(T0 - timedelta(days=1), force=True)

    assert (earlier.events, earlier.through) == (0, 6)
    assert [m.offset for m in aged.backend.prune_marks()] == [6]


def test_tampering_after_a_prune_is_still_found(aged: Ledger, clock: ManualClock, ledger_url: str) -> None:
    save_view(aged, "all", 8)
    aged.prune(horizon(clock))
    storage = storage_of(aged, ledger_url)

    storage.set_state(7, flip_success(storage.state(7)))

    report = aged.verify()
    assert not report.ok
    assert [(p.kind, p.offset) for p in report.problems] == [("edited", 7)]
    assert report.pruned_through == 6


def test_a_checkpoint_at_the_cut_must_agree_with_the_prune_mark(
    make_ledger: MakeLedger, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chain_module, "CHECKPOINT_EVERY", 2)
    ledger = make_ledger(clock=clock)
    ledger.append([step() for _ in range(4)])
    clock.advance(days=100)
    ledger.append(step())
    ledger.prune(horizon(clock), force=True)

    report = ledger.verify()

    assert report.ok, report.problems
    assert report.pruned_through == 4
    assert report.checkpoints_checked == 1  # the checkpoint at 4, against the mark


def test_stored_projections_keep_their_totals_and_a_fold_from_before_the_cut_refuses(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    ledger.append([step(success=i % 4 != 0) for i in range(8)])
    clock.advance(days=100)
    ledger.append([step("w2"), step("w2", success=False)])
    with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
        runner.catch_up()
    before = load_stored(ledger, ReliabilityProjection).report()

    assert ledger.prune(horizon(clock)).events == 8

    after = load_stored(ledger, ReliabilityProjection).report()
    assert (after.total_steps, after.svr) == (before.total_steps, before.svr)
    assert after.total_steps == 10
    assert after.svr == pytest.approx(0.7)
    with pytest.raises(PrunedRangeError) as caught:
        ledger.scan(after=0)
    assert (caught.value.after, caught.value.pruned_through) == (0, 8)
    assert "load the stored projection" in str(caught.value)

    ledger.append(step("w3"))
    with ProjectionRunner(ledger, CORE_PROJECTIONS) as runner:
        assert runner.catch_up() == 11
        with pytest.raises(PrunedRangeError):
            runner.rebuild()
    assert load_stored(ledger, ReliabilityProjection).report().total_steps == 11


# -- automatic retention --------------------------------------------------------------------------


def test_keep_for_sweeps_after_appends_at_most_once_per_interval(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    prepared: list[int] = []

    def keep_projection_current(ledger: Ledger) -> None:
        prepared.append(ledger.latest_offset())
        save_view(ledger, "all", ledger.latest_offset())

    sweeper = ledger.keep_for(TTL, every=timedelta(hours=1), prepare=keep_projection_current)
    ledger.append([step(), step()])
    assert prepared == [2]
    assert sweeper.last is not None and sweeper.last.events == 0

    clock.advance(days=91)
    ledger.append(step())  # first sweep of the new day: offsets 1-2 are past the horizon
    clock.advance(minutes=30)
    ledger.append(step())  # within the hour: no sweep

    assert prepared == [2, 3]
    assert [r.offset for r in ledger.read()] == [3, 4]
    clock.advance(hours=1)
    ledger.append(step())
    assert prepared == [2, 3, 5]


def test_open_ledger_with_ttl_days_keeps_events_that_no_projection_folded(
    ledger_url: str, clock: ManualClock
) -> None:
    with open_ledger(ledger_url, clock=clock, ttl_days=90) as ledger:
        ledger.append(step())
        clock.advance(days=100)
        ledger.append(step())

        assert ledger.retention is not None and ledger.retention.policy.ttl == TTL
        assert ledger.retention.last is not None
        assert ledger.retention.last.held_back_by is not None
        assert ledger.latest_offset() == 2
        assert len(list(ledger.read())) == 2


def test_a_failing_sweep_never_fails_the_append(
    make_ledger: MakeLedger, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = make_ledger(clock=clock)

    def broken(ledger: Ledger) -> None:
        raise RuntimeError("projection store unreachable")

    sweeper = ledger.keep_for(TTL, prepare=broken)
    with caplog.at_level(logging.WARNING, logger="ledger.retention"):
        result = ledger.append(step())

    assert result.offsets == (1,)
    assert isinstance(sweeper.last_error, RuntimeError)
    assert "projection store unreachable" in caplog.text


def test_a_retention_ttl_must_be_positive(make_ledger: MakeLedger) -> None:
    with pytest.raises(ValueError, match="positive"):
        make_ledger().keep_for(timedelta(0))


# -- the command line -----------------------------------------------------------------------------


def test_rledger_prune_says_what_it_held_back_and_forces_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "prune.db")
    long_ago = ManualClock(datetime.now(UTC) - timedelta(days=100))
    with open_ledger(url, clock=long_ago) as ledger:
        ledger.append([step(), PlanRevised()])
    with open_ledger(url) as ledger:
        ledger.append(step())

    assert cli.main(["--db", url, "prune", "--older-than", "90"]) == 0
    held = capsys.readouterr().out
    assert "pruned 0 event(s)" in held and "no stored projection" in held

    assert cli.main(["--db", url, "prune", "--older-than", "90", "--force", "--format", "json"]) == 0
    assert '"events":2,"through":2' in capsys.readouterr().out

    assert cli.main(["--db", url, "verify"]) == 0
    assert "verify OK: 1 event(s) checked up to offset 3" in capsys.readouterr().out


def test_rledger_prune_refuses_a_non_positive_age(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--db", sqlite_url(tmp_path / "p.db"), "prune", "--older-than", "0"]) == 2
    assert "--older-than must be a positive" in capsys.readouterr().err
