"""Projection replay: any projection's state as of any offset, re-folded from the ledger."""

from __future__ import annotations

from typing import TypeVar

from ledger import Ledger
from projections.fold import SNAPSHOT_EVERY, Projection, fold_range, nearest_snapshot

P = TypeVar("P", bound=Projection)


def state_as_of(
    ledger: Ledger,
    projection_type: type[P],
    offset: int,
    *,
    start: P | None = None,
    snapshot_every: int = SNAPSHOT_EVERY,
) -> P:
    """Return ``projection_type`` folded over offsets ``1..offset`` (state as of ``offset``).

    ``start`` may be a projection already folded to an earlier offset (a stored state, say):
    only the events after it are folded. Otherwise the nearest stored snapshot at or before
    ``offset`` (kept by a runner with ``snapshot_every``; checked by its digest) is the start,
    so only the events since it are folded; with none, the fold starts at offset 0. The stored
    projection and its snapshots are never touched.
    """
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    latest = ledger.latest_offset()
    if offset > latest:
        raise ValueError(f"offset {offset} is beyond the ledger's latest offset {latest}")
    if start is not None and start.position <= offset:
        projection = start
    else:
        projection = (
            nearest_snapshot(ledger, projection_type, offset, every=snapshot_every) or projection_type()
        )
    fold_range(ledger, [projection], through=offset)
    return projection
