"""What a storage backend provides: serialised write transactions, paged reads, chain metadata.

Every backend is a :class:`LedgerBackend`: the ledger-specific primitives below, and the
``eventsourcing`` process-recorder interface (:class:`eventsourcing.persistence.ProcessRecorder`:
notifications, tracking, subscriptions) served from the ledger's own storage. The append
algorithm itself — idempotency, versions, offsets, hash chain — lives once, in
:mod:`ledger.commit`, using the backend's :class:`~ledger.backends.transaction.WriteTransaction`;
the rows a backend handles are in :mod:`ledger.backends.rows`, runner locks in
:mod:`ledger.backends.locks`.

A backend is a package ``ledger/backends/<name>/`` whose ``__init__`` declares the URL
``SCHEMES`` it serves and a ``from_url(url, shown, *, create, timeout)`` that parses its own
URL (``timeout``: :mod:`ledger.deadline`); ``ledger.url`` holds the registry. A backend bounds
every wait by its ``timeout`` and raises only the ledger's errors (:mod:`ledger.errors`),
translating its driver's at its own seam (PostgreSQL: :mod:`~ledger.backends.postgres.pool`,
SQLite: :mod:`~ledger.backends.sqlite.datastore`, Redis: :mod:`~ledger.backends.redis.client`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, ProcessRecorder, StoredEvent, Subscription

from ledger.backends.locks import RunnerLock
from ledger.backends.pruning import PruneMark, PruneResult
from ledger.backends.rows import (
    GENESIS,
    BackendStats,
    Checkpoint,
    ReadQuery,
    SavedView,
    ScanRow,
    StoredId,
    StoredRow,
    StreamRow,
    Tail,
    VerifyRow,
    verify_row,
)
from ledger.backends.transaction import WriteTransaction
from ledger.deadline import DEFAULT_TIMEOUT
from ledger.timeutil import to_epoch_us

__all__ = [
    "GENESIS",
    "BackendStats",
    "Checkpoint",
    "LedgerBackend",
    "PruneMark",
    "PruneResult",
    "ReadQuery",
    "SavedView",
    "ScanRow",
    "StoredId",
    "StoredRow",
    "StreamRow",
    "Tail",
    "VerifyRow",
]


class LedgerBackend(ProcessRecorder, ABC):
    """A ledger store: a URL-selected backend implementing the primitives below.

    Attributes:
        url: the URL it was opened with (password redacted).
        ttl_days: the retention its URL asked for (``?ttl_days=`` on Redis), else ``None``.
        timeout: the deadline in seconds of each operation (see :mod:`ledger.deadline`).
    """

    url: str
    ttl_days: float | None = None
    timeout: float = DEFAULT_TIMEOUT
    max_transaction_events: int | None = None
    """The most new events one write transaction may hold (``None``: no limit; JetStream: 1 000)."""

    @abstractmethod
    def write(self) -> AbstractContextManager[WriteTransaction]:
        """Open a write transaction, serialised across threads and processes.

        SQL backends hold an exclusive lock for the transaction; an optimistic backend may
        instead raise :class:`CommitConflictError` when it ends, if another writer committed in
        between (nothing is written then, and the caller runs the transaction again).
        """

    @abstractmethod
    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""

    @abstractmethod
    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
        """Return up to ``limit`` lean rows (offset, type, occurred_at µs, bytes) after ``after``.

        The fast path for folds: no filters but the offset range, nothing decoded.
        """

    @abstractmethod
    def max_offset(self) -> int:
        """Return the highest stored offset, 0 when empty."""

    @abstractmethod
    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``, or ``None``."""

    @abstractmethod
    def stream_version(self, stream: str) -> int:
        """Return the current version of ``stream`` (0 when it has no events)."""

    @abstractmethod
    def head(self) -> Tail | None:
        """Return the recorded head of the chain (``None`` if never written)."""

    @abstractmethod
    def checkpoints(self) -> list[Checkpoint]:
        """Return every recorded checkpoint in offset order."""

    @abstractmethod
    def stats(self) -> BackendStats:
        """Return counts for the whole ledger."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    @abstractmethod
    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state, or ``None`` if it was never saved."""

    @abstractmethod
    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store a projection's state and its position in one transaction.

        The position is also recorded as the projection's tracking position (the library's
        :meth:`max_tracking_id`), which refuses to move backwards or be written twice;
        ``reset`` first forgets the old position (for a rebuild switching over). Raises
        :class:`ledger.errors.ViewConflictError` on a refusal.
        """

    @abstractmethod
    def delete_view(self, name: str) -> None:
        """Forget a projection's stored state and position."""

    @abstractmethod
    def view_names(self) -> list[str]:
        """Return the names of every stored projection (shadow copies of a rebuild included)."""

    @abstractmethod
    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Become the one active runner of ``name``, or return ``None`` if another is."""

    # -- retention ---------------------------------------------------------------------------

    @abstractmethod
    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Remove, atomically, the events recorded before ``before`` (see :func:`plan_prune`).

        Records a :class:`PruneMark` at the cut and keeps every stream's version. Without
        ``force`` nothing past the lowest stored projection position is removed (and nothing at
        all when no projection is stored).
        """

    @abstractmethod
    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order (empty if never pruned)."""

    def pruned_through(self) -> int:
        """Return the offset up to which events were pruned (0 if never)."""
        marks = self.prune_marks()
        return marks[-1].offset if marks else 0

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until an offset above ``after`` exists."""
        deadline = time.monotonic() + timeout
        delay = 0.005
        while True:
            if self.max_offset() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.1)

    # -- the eventsourcing process-recorder interface, served from the ledger's storage -----

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> Sequence[Notification]:
        """Return notifications (the library's view of ledger rows) from ``start``."""
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        rows = self.select(ReadQuery(after=after, through=stop, types=tuple(topics)), limit)
        return [
            Notification(
                id=r.offset,
                originator_id=r.stream,
                originator_version=r.version,
                topic=r.type,
                state=r.state,
            )
            for r in rows
        ]

    def max_notification_id(self) -> int:
        """Return the highest offset (0 when empty)."""
        return self.max_offset()

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Not supported: ledger events need ids, times and chain links (use ``Ledger.append``)."""
        raise NotImplementedError(
            "append through ledger.Ledger.append: a ledger row needs an event id, times and a "
            "chain link that the library's StoredEvent does not carry"
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """Return one stream's events (the library's aggregate read)."""
        rows = [
            r
            for r in self.iter_rows(ReadQuery(stream=str(originator_id)))
            if (gt is None or r.version > gt) and (lte is None or r.version <= lte)
        ]
        if desc:
            rows.reverse()
        return [
            StoredEvent(originator_id=r.stream, originator_version=r.version, topic=r.type, state=r.state)
            for r in rows[:limit]
        ]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[Any]:
        """Return an iterator of notifications after ``gt`` that blocks for new ones."""
        from ledger.backends.subscription import LedgerSubscription

        return LedgerSubscription(self, gt=gt, topics=topics)

    def layout_problems(self, limit: int, after: int = 0) -> list[tuple[int, str]]:
        """Return up to ``limit`` (offset, detail) pairs after ``after`` where storage beside the
        chain is wrong.

        For backends that keep derived lookup data the hash chain does not cover (SQLite's
        stream numbers); ``verify`` reports them. None by default.
        """
        return []

    def verify_scan(self, after: int, limit: int) -> list[VerifyRow]:
        """Return up to ``limit`` rows after offset ``after`` with every column raw, for ``verify``.

        Backends override this with one lean query; this default converts full rows.
        """
        return [verify_row(r) for r in self.select(ReadQuery(after=after), limit)]

    def index_problems(self, rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
        """Return (offset, detail) where a lookup structure disagrees with these rows.

        For backends whose indexes are kept by hand (Redis's id, stream, agent and type
        indexes, the memory backend's maps); a SQL index is the database's and always agrees
        with its table. ``verify`` calls it once per page. None by default.
        """
        return []

    def stream_version_problems(self, last: Mapping[str, tuple[int, int]]) -> list[tuple[int, str]]:
        """Return (offset, detail) for streams whose kept version is not their last row's.

        ``last`` maps each stream ``verify`` saw to (offset, version) of its last row. For
        backends that keep versions apart from the rows (Redis, memory); SQL backends read a
        stream's version from its rows. None by default.
        """
        return []

    def read_stream(self, stream: str) -> list[StreamRow]:
        """Return one stream's rows in version order, lean: (offset, version, recorded µs, bytes).

        Backends override this with one query on the (stream, version) index; explaining a
        workflow reads its stream this way.
        """
        return [
            (r.offset, r.version, to_epoch_us(r.recorded_at), r.state)
            for r in self.iter_rows(ReadQuery(stream=stream), page_size=5000)
        ]

    def iter_rows(self, query: ReadQuery, page_size: int = 1000) -> Iterator[StoredRow]:
        """Yield every row matching ``query`` in offset order, one page in memory at a time."""
        after = query.after
        while True:
            page = self.select(
                ReadQuery(
                    after=after,
                    through=query.through,
                    stream=query.stream,
                    agent=query.agent,
                    types=query.types,
                    since=query.since,
                    until=query.until,
                ),
                page_size,
            )
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].offset
