"""Periodic snapshots of projection states, so a state as of any offset folds from the nearest one.

A runner given ``snapshot_every=N`` stops its folds at every multiple of ``N`` and stores each
projection's state there as a view named ``<name>@<offset>`` (state, position and digest, like
any stored projection). :func:`nearest_snapshot` finds the latest one at or before an offset,
restores it and checks it against its digest; a state as of that offset then folds only the
events since (``replay.state_as_of``), not every event from offset 0. A snapshot whose digest does
not match is skipped (the one before it is tried), never used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from projections.fold.projection import Projection

if TYPE_CHECKING:
    from ledger import Ledger

P = TypeVar("P", bound=Projection)

SNAPSHOT_EVERY = 100_000
"""The interval ``rledger follow/rebuild --snapshots`` keeps, and where readers look by default."""
SNAPSHOT_MARK = "@"
"""Separates a projection's name from a snapshot's offset in the view's name."""
LOOK_BACK = 16
"""Snapshots tried, newest first, before folding from offset 0 instead."""


def snapshot_name(name: str, offset: int) -> str:
    """The stored name of projection ``name``'s snapshot at ``offset``."""
    return f"{name}{SNAPSHOT_MARK}{offset}"


def is_snapshot(view_name: str) -> bool:
    """Whether a stored view is a snapshot (it never holds back pruning: it is history)."""
    return SNAPSHOT_MARK in view_name


def next_boundary(position: int, every: int | None) -> int | None:
    """The first multiple of ``every`` after ``position`` (``None`` without snapshots)."""
    if not every:
        return None
    return (position // every + 1) * every


def nearest_snapshot(
    ledger: Ledger, projection_type: type[P], offset: int, *, every: int = SNAPSHOT_EVERY
) -> P | None:
    """The latest stored snapshot of ``projection_type`` at or before ``offset``, digest-checked."""
    if every <= 0:
        return None
    at = offset // every * every
    for _ in range(LOOK_BACK):
        if at <= 0:
            return None
        view = ledger.backend.load_view(snapshot_name(projection_type.name, at))
        if view is not None and view.position == at:
            restored = projection_type.from_bytes(view.state)
            if restored is not None and restored.position == at and restored.digest() == view.digest:
                return restored
        at -= every
    return None
