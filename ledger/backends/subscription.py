"""The library's subscription on any backend: notifications in offset order, blocking for new ones."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Notification, Subscription

if TYPE_CHECKING:
    from ledger.backends.base import LedgerBackend

WAIT_SECONDS = 0.2
"""How long one wait for new events lasts: a stopped subscription ends within this."""


class LedgerSubscription(Subscription[Any]):
    """Iterates the notifications after ``gt``, then waits for new ones (until stopped).

    Woken by the backend's own :meth:`~ledger.backends.base.LedgerBackend.wait_for_events`
    (PostgreSQL ``LISTEN``, a Redis channel, polling on SQLite), so every backend serves the
    library's subscription the same way.
    """

    PAGE = 500

    def __init__(self, backend: LedgerBackend, gt: int | None = None, topics: Sequence[str] = ()) -> None:
        super().__init__(recorder=backend, gt=gt, topics=topics)
        self._backend = backend
        self._after = gt or 0
        self._wanted = tuple(topics)
        self._buffer: deque[Notification] = deque()
        self._stopped = False

    def stop(self) -> None:
        """Stop the subscription: iteration ends within :data:`WAIT_SECONDS`."""
        super().stop()
        self._stopped = True

    def __next__(self) -> Notification:
        while not self._buffer:
            if self._stopped:
                raise StopIteration
            head = self._backend.max_offset()
            page = self._backend.select_notifications(
                self._after, self.PAGE, stop=head, topics=self._wanted, inclusive_of_start=False
            )
            if page:
                self._buffer.extend(page)
                self._after = page[-1].id
            else:
                # Nothing up to the head matches: wait from the head, not from before the
                # events that did not match (the wait would return at once, again and again).
                self._after = max(self._after, head)
                self._backend.wait_for_events(self._after, WAIT_SECONDS)
        if self._stopped:
            raise StopIteration
        return self._buffer.popleft()
