"""One scan of the ledger for every what-if at once: each component's collector folds the events it
reads, decoded once per event for all of them, over the window ``[since, until)``.

The collectors are ordinary projections folded with ``fold_together`` — the page loop of a
rebuild — so a back-test costs about one rebuild of the same projections, and a sweep of any
number of values still reads and decodes each event once (the values differ only in what the
components decide afterwards, from the collected calls, costs, values and alerts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from ledger import Ledger, ScanRow
from projections.fold import Arrays, Handler, Projection, fold_together, gc_paused
from projections.metrics import CostProjection

StartFields = CostProjection.structs["WorkflowStarted"]
"""The cost fold's view of a ``WorkflowStarted`` (shared: decoded once for every collector)."""


class Collector(Projection):
    """A back-test's fold of what one component reads; never stored (``dump`` is not a state)."""

    name: ClassVar[str] = "backtest"

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """A collector is not stored; it has no state to save."""
        raise NotImplementedError("a back-test's collectors are not stored")

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """A collector is not stored; it has no state to load."""
        raise NotImplementedError("a back-test's collectors are not stored")


class ReplayWorkflows(Collector):
    """The replay runs' workflow ids (``WorkflowStarted.replay_of``), folded first so every later
    collector can leave their events out."""

    name = "backtest_replays"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {"WorkflowStarted": StartFields}

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def _handlers(self) -> dict[str, Handler]:
        return {"WorkflowStarted": self._started}

    def _started(self, t: int, e: Any) -> None:
        if e.replay_of is not None and e.workflow_id is not None:
            self.ids.add(e.workflow_id)


@dataclass(frozen=True)
class ScanStats:
    """What the scan read.

    Attributes:
        events: events in the window (every type, folded or not).
        through_offset: the newest offset read.
        first_us: the earliest event time in the window (``None``: no events).
        last_us: the latest event time in the window.
    """

    events: int
    through_offset: int
    first_us: int | None
    last_us: int | None


def scan(
    ledger: Ledger,
    collectors: Sequence[Projection],
    *,
    since_us: int | None = None,
    until_us: int | None = None,
    page_size: int = 5000,
) -> ScanStats:
    """Fold every event of ``[since, until)`` into ``collectors``, in offset order, once."""
    target = ledger.latest_offset()
    events = 0
    first: int | None = None
    last: int | None = None
    windowed = since_us is not None or until_us is not None
    lo = -(1 << 62) if since_us is None else since_us
    hi = 1 << 62 if until_us is None else until_us
    for page in ledger.scan_pages(after=0, through=target, page_size=page_size):
        rows: Sequence[ScanRow] = page
        if windowed:
            rows = [r for r in page if lo <= r[2] < hi]
        if not rows:
            continue
        with gc_paused():
            fold_together(collectors, rows)
        events += len(rows)
        times = [r[2] for r in rows]
        low, high = min(times), max(times)
        first = low if first is None else min(first, low)
        last = high if last is None else max(last, high)
    return ScanStats(events, target, first, last)
