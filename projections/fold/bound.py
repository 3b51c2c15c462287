"""The base of every guide object bound to a ledger: metrics, SLOs, costs, guards, signals, alerts.

Each guide object takes ``storage=`` or ``ledger=`` and ``clock=``; with neither it runs on an
in-memory ledger of its own (closed by :meth:`Bound.close`), as the guide says. Recording appends
events; reads fold whatever is new in the ledger first, so guide objects on one ledger — in one
process or several — see each other's data. :class:`Bound` is the binding alone (guards and
signals keep their own projection); :class:`Facade` adds one projection folded on demand, and
:class:`ReportingFacade` a report over a time window.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Generic, TypeVar

from ledger import Clock, Ledger, PrunedRangeError, ReadQuery, as_utc, open_ledger, to_epoch_us, utc_now
from projections.fold.projection import Projection, dt_to_us
from projections.fold.runner import fold_range, load_stored
from projections.fold.snapshots import nearest_snapshot
from projections.fold.storage import MetricStorage

P = TypeVar("P", bound=Projection)
R = TypeVar("R")


class Bound:
    """A component bound to one ledger and one clock.

    Args:
        storage: where events live (a :class:`MetricStorage`); exclusive with ``ledger``.
        ledger: the ledger to append verdicts to and read from.
        clock: returns the current time (aware UTC; a naive value is taken as UTC).
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
    ) -> None:
        if storage is not None and ledger is not None:
            raise ValueError("pass either storage= or ledger=, not both")
        self._owns_ledger = storage is None and ledger is None
        if ledger is None:
            ledger = storage.ledger if storage is not None else open_ledger("memory://", clock=clock)
        self.ledger = ledger
        self.clock = clock
        self._lock = threading.RLock()

    def now(self) -> datetime:
        """The component's clock, as aware UTC."""
        return as_utc(self.clock())

    def close(self) -> None:
        """Close the ledger if this component opened it (a default in-memory ledger)."""
        if self._owns_ledger:
            self.ledger.close()


class Facade(Bound, Generic[P]):
    """A guide object that reports from one projection, folded from its ledger on demand.

    ``projection_type`` names the fold; the projection starts from its stored copy (what
    ``rledger follow`` saves) when there is one, so a report on a large ledger folds only what is
    new.
    """

    projection_type: type[P]

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        # Folding and reporting both touch the projection's state (its columns flush pending
        # rows, its caches advance), so the one lock covers the fold and the computation.
        self._projection: P = load_stored(self.ledger, self.projection_type)

    def projection(self, as_of: int | None = None) -> P:
        """Return the projection folded up to ``as_of`` (default: everything in the ledger).

        The live projection is shared: compute on it through :meth:`compute` when other threads
        may report at the same time.
        """
        if as_of is not None:
            through = min(as_of, self.ledger.latest_offset())
            # From the nearest stored snapshot (digest-checked), else from offset 0.
            fresh = nearest_snapshot(self.ledger, self.projection_type, through) or self.projection_type()
            fold_range(self.ledger, [fresh], through=through)
            return fresh
        with self._lock:
            try:
                fold_range(self.ledger, [self._projection])
            except PrunedRangeError:
                # Retention removed events this facade had not folded: start again from the
                # stored projection (which kept its totals), then fold what remains.
                self._projection = load_stored(self.ledger, self.projection_type)
                fold_range(self.ledger, [self._projection])
            return self._projection

    def compute(self, fn: Callable[[P], R], as_of: int | None = None) -> R:
        """Fold new events and run ``fn`` on the projection, safely against concurrent callers."""
        if as_of is not None:
            return fn(self.projection(as_of))
        with self._lock:
            return fn(self.projection())

    def window(
        self, p: Projection, since: datetime | None, until: datetime | None
    ) -> tuple[int | None, int | None]:
        """Resolve a report window to microseconds: half-open ``[since, until)``.

        ``until=None`` leaves the window open at its end: the report includes every event
        folded so far, whatever its ``occurred_at`` — also one stamped at the clock's now, as
        every event is under a frozen clock (a fixed ``clock=``, ``freezegun``), and one a
        skewed producer stamped ahead of this clock. With neither bound the projection serves
        its incremental all-time report.
        """
        del p  # the window no longer depends on what was folded (kept for subclasses' calls)
        return dt_to_us(since), dt_to_us(until)


class ReportingFacade(Facade[P], Generic[P, R]):
    """A facade whose report is one projection's report over a window."""

    def _report_from(self, p: P, since_us: int | None, until_us: int | None) -> R:
        raise NotImplementedError

    def report(
        self, since: datetime | None = None, until: datetime | None = None, *, as_of: int | None = None
    ) -> R:
        """Return the report over ``[since, until)`` (event time; no ``until``: every event so far).

        ``as_of`` computes it over the ledger as it was at that offset.
        """

        def run(p: P) -> R:
            since_us, until_us = self.window(p, since, until)
            return self._report_from(p, since_us, until_us)

        return self.compute(run, as_of)

    async def get_report(
        self, since: datetime | None = None, until: datetime | None = None, *, as_of: int | None = None
    ) -> R:
        """Like :meth:`report`, folding new events off the event loop."""
        return await asyncio.to_thread(self.report, since, until, as_of=as_of)


def fold_new(ledger: Ledger, projection: Projection, *, through: int | None = None) -> int:
    """Fold the events of the projection's types stored after its position; return the position.

    Reads by type (an index lookup) rather than scanning every event, so a guard on a large
    ledger that holds few of its events stays cheap to keep current.
    """
    target = ledger.latest_offset() if through is None else through
    if projection.position >= target:
        return projection.position
    handlers = {name: (projection.decoder(name), h) for name, h in projection.handlers.items()}
    query = ReadQuery(after=projection.position, through=target, types=projection.types)
    for row in ledger.read_rows(query):
        decode, handler = handlers[row.type]
        handler(to_epoch_us(row.occurred_at), decode(row.state))
    projection.advance_to(target)
    return target
