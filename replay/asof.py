"""Projection replay: any projection's state as of any offset, re-folded from the ledger."""

from __future__ import annotations

from typing import TypeVar

from ledger import Ledger
from projections.fold import Projection, fold_range

P = TypeVar("P", bound=Projection)


def state_as_of(ledger: Ledger, projection_type: type[P], offset: int, *, start: P | None = None) -> P:
    """Return ``projection_type`` folded over offsets ``1..offset`` (state as of ``offset``).

    ``start`` may be a projection already folded to an earlier offset (a stored state, say):
    only the events after it are folded. The stored projection is never touched.
    """
    if offset < 0:
        raise ValueError(f"offset must be >= 0, got {offset}")
    latest = ledger.latest_offset()
    if offset > latest:
        raise ValueError(f"offset {offset} is beyond the ledger's latest offset {latest}")
    projection = start if start is not None and start.position <= offset else projection_type()
    fold_range(ledger, [projection], through=offset)
    return projection
