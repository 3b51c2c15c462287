"""As-of from periodic snapshots: the runner keeps states at every N offsets, digest-checked.

A state as of any offset is the nearest snapshot at or before it plus the fold of the events
since, and must equal the fold from offset 0 (same digest). A snapshot that fails its digest is
never used; snapshots never hold back a prune.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger, SavedView, generate_workload, open_ledger
from ledger.backends.pruning import plan_prune
from projections import CORE_PROJECTIONS, CostProjection, ReliabilityProjection
from projections.fold import ProjectionRunner, fold_range, nearest_snapshot, snapshot_name
from replay import state_as_of

EVERY = 50


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[Ledger]:
    ledger = open_ledger(f"sqlite:///{tmp_path / 'snap.db'}")
    ledger.append(list(generate_workload(230, seed=3)))
    yield ledger
    ledger.close()


def from_zero(ledger: Ledger, offset: int) -> ReliabilityProjection:
    p = ReliabilityProjection()
    fold_range(ledger, [p], through=offset)
    return p


def test_catch_up_keeps_a_snapshot_at_every_multiple(filled: Ledger) -> None:
    with ProjectionRunner(filled, CORE_PROJECTIONS, save_every=1000, snapshot_every=EVERY) as runner:
        runner.catch_up()
    for at in (50, 100, 150, 200):
        view = filled.backend.load_view(snapshot_name("reliability", at))
        assert view is not None and view.position == at
        assert view.digest == from_zero(filled, at).digest()
    assert filled.backend.load_view(snapshot_name("reliability", 250)) is None


@pytest.mark.parametrize("offset", [0, 1, 49, 50, 51, 137, 200, 229, 230])
def test_state_as_of_from_the_nearest_snapshot_is_the_fold_from_zero(filled: Ledger, offset: int) -> None:
    with ProjectionRunner(filled, CORE_PROJECTIONS, snapshot_every=EVERY) as runner:
        runner.rebuild()
    nearest = nearest_snapshot(filled, ReliabilityProjection, offset, every=EVERY)
    assert (nearest.position if nearest else 0) == offset // EVERY * EVERY
    state = state_as_of(filled, ReliabilityProjection, offset, snapshot_every=EVERY)
    assert state.position == offset
    assert state.digest() == from_zero(filled, offset).digest()
    assert state.report().model_dump() == from_zero(filled, offset).report().model_dump()


def test_follow_rounds_snapshot_as_they_cross_a_multiple(filled: Ledger) -> None:
    runner = ProjectionRunner(filled, [CostProjection], snapshot_every=EVERY)
    with runner:
        runner.catch_up()
        filled.append(list(generate_workload(100, seed=4)))  # offsets 231..330
        runner.catch_up()
    for at in (250, 300):
        view = filled.backend.load_view(snapshot_name("costs", at))
        assert view is not None and view.position == at


def test_a_snapshot_that_fails_its_digest_is_not_used(filled: Ledger) -> None:
    with ProjectionRunner(filled, [ReliabilityProjection], snapshot_every=EVERY) as runner:
        runner.catch_up()
    good = filled.backend.load_view(snapshot_name("reliability", 200))
    wrong = filled.backend.load_view(snapshot_name("reliability", 150))
    assert good is not None and wrong is not None
    # The state at 200 replaced by another state of the right position, its digest kept.
    forged = ReliabilityProjection.from_bytes(wrong.state)
    assert forged is not None
    forged.position = 200
    filled.backend.save_view(
        SavedView(good.name, 200, forged.to_bytes(), good.digest, good.updated_at), reset=True
    )
    nearest = nearest_snapshot(filled, ReliabilityProjection, 210, every=EVERY)
    assert nearest is not None and nearest.position == 150  # the one before it
    assert state_as_of(filled, ReliabilityProjection, 210, snapshot_every=EVERY).digest() == (
        from_zero(filled, 210).digest()
    )


def test_snapshots_never_hold_back_a_prune() -> None:
    positions = {"reliability": 900, "reliability@100": 100, "costs@200": 200}
    assert plan_prune(800, 0, positions, force=False) == (800, None)
    assert plan_prune(950, 0, positions, force=False)[0] == 900
