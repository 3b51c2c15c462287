"""How a guard or signal (enforcer, breaker, detector, analyzer, alerts) binds to a ledger and a clock.

Like the metrics facades, each component takes ``storage=`` or ``ledger=`` and ``clock=``; with
neither it runs on an in-memory ledger of its own (closed by :meth:`Bound.close`). Verdicts are
appended as events, and reads fold whatever is new in the ledger first, so components on one
ledger — in one process or several — see each other's verdicts.
"""

from __future__ import annotations

import threading
from datetime import datetime

from ledger import Ledger
from ledger.backends.base import ReadQuery
from ledger.events import as_utc, to_epoch_us, utc_now
from ledger.store import Clock
from projections.engine import Projection
from projections.facades import MemoryMetricStorage, MetricStorage


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
            ledger = (storage or MemoryMetricStorage(clock=clock)).ledger
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


def fold_new(ledger: Ledger, projection: Projection, *, until: int | None = None) -> int:
    """Fold the events of the projection's types stored after its position; return the position.

    Reads by type (an index lookup) rather than scanning every event, so a guard on a large
    ledger that holds few of its events stays cheap to keep current.
    """
    target = ledger.latest_offset() if until is None else until
    if projection.position >= target:
        return projection.position
    handlers = {topic: (projection.decoder(topic), h) for topic, h in projection.handlers.items()}
    query = ReadQuery(after=projection.position, stop=target, topics=projection.topics)
    for row in ledger.read_rows(query):
        decode, handler = handlers[row.topic]
        handler(to_epoch_us(row.occurred_at), decode(row.state))
    projection.advance_to(target)
    return target
