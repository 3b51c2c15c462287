"""Retention at the storage level: what a prune removed, the mark it leaves, how far it may cut.

Every backend's :meth:`~ledger.backends.base.LedgerBackend.prune` removes the oldest events in
one atomic step and records a :class:`PruneMark` (the offset and chain value at the cut) so the
chain still verifies from there; :func:`plan_prune` (shared) decides how far it may go.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class PruneMark:
    """A cut made by pruning: every event at or below ``offset`` was removed.

    Attributes:
        offset: the last removed offset; the ledger now starts at ``offset + 1``.
        chain: the hash chain value at ``offset``: the first remaining event links to it.
        recorded_at: when the prune ran (the ledger's clock).
        events: how many events this prune removed.
    """

    offset: int
    chain: bytes
    recorded_at: datetime
    events: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What one prune did.

    Attributes:
        events: events removed now (0 when nothing could be removed).
        through: the ledger's cut after this prune: every offset up to here is gone (0: none).
        wanted_through: the last offset recorded before the horizon (what the age alone allows).
        held_back_by: why the cut stopped short of ``wanted_through`` (the projections that have
            not folded further, or that none is stored), or ``None`` when it did not.
    """

    events: int
    through: int
    wanted_through: int
    held_back_by: str | None = None

    def __str__(self) -> str:
        done = f"pruned {self.events} event(s); the ledger now starts after offset {self.through}"
        return done if self.held_back_by is None else f"{done} (held back: {self.held_back_by})"


SNAPSHOT_MARK = "@"
"""In a stored view's name, what marks a snapshot of a projection (``projections.fold.snapshots``)."""


def plan_prune(wanted: int, floor: int, positions: dict[str, int], *, force: bool) -> tuple[int, str | None]:
    """Return the offset to prune through and why it stops short of ``wanted`` (shared by backends).

    Args:
        wanted: the last offset old enough to prune.
        floor: the current cut (0 if never pruned); a prune never moves it backwards.
        positions: each stored projection's position; without ``force`` nothing past the lowest
            is removed, so no stored projection ever misses an event it has not folded.
        force: prune by age alone.
    """
    if force or wanted <= floor:
        return max(wanted, floor), None
    # A snapshot ("name@offset", projections.fold.snapshots) is a state kept as history, not a
    # projection that still has events to fold: it never holds a prune back.
    positions = {name: at for name, at in positions.items() if SNAPSHOT_MARK not in name}
    if not positions:
        return floor, "no stored projection has folded these events (run `rledger follow`, or force)"
    lowest = min(positions.values())
    if lowest >= wanted:
        return wanted, None
    behind = ", ".join(sorted(f"'{n}' at offset {p}" for n, p in positions.items() if p == lowest))
    return max(lowest, floor), f"projection {behind} has not folded further"
