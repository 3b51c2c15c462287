"""What a storage backend provides: serialised write transactions, paged reads, chain metadata.

Backends are ``eventsourcing`` process recorders (notifications, tracking, subscriptions come
from the library) with a few ledger-specific primitives on top. The append algorithm itself —
idempotency, versions, offsets, hash chain — lives once, in :mod:`ledger.store`.

Retention: :meth:`LedgerBackend.prune` removes the oldest events in one atomic step and records a
:class:`PruneMark` (the offset and chain value at the cut) so the chain still verifies from there;
stream versions survive the events they counted.
"""

from __future__ import annotations

import fcntl
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.events import to_epoch_us

GENESIS = bytes(32)
"""The chain value before the first event."""


class StoredRow(NamedTuple):
    """One stored event, as the backend holds it.

    A named tuple, not a frozen dataclass: every append and read builds one per event, and a
    frozen dataclass's ``__init__`` (``object.__setattr__`` per field) is several times slower
    than building this positionally.

    Attributes:
        offset: global position, gapless, strictly increasing in commit order (from 1).
        stream: the stream it belongs to (``wf:<workflow>``, ``agent:<agent>`` or ``ledger``).
        version: position in its stream (from 1).
        topic: the event type name.
        event_id: the idempotency key.
        agent: the agent column (indexed for filters), if any.
        occurred_at: event time (aware UTC).
        recorded_at: commit time (aware UTC, non-decreasing with offset).
        state: the encoded event (the bytes the chain covers).
        chain: the hash chain value after this event.
    """

    offset: int
    stream: str
    version: int
    topic: str
    event_id: UUID
    agent: str | None
    occurred_at: datetime
    recorded_at: datetime
    state: bytes
    chain: bytes


ScanRow = tuple[int, str, int, bytes]
"""A lean stored row for folds: (offset, event type, occurred_at in µs since the epoch, bytes)."""


StreamRow = tuple[int, int, int, bytes]
"""A lean row of one stream: (offset, version, recorded_at in µs since the epoch, bytes)."""


@dataclass(frozen=True, slots=True)
class Tail:
    """The last stored event's position, chain value and commit time (or the genesis)."""

    offset: int
    chain: bytes
    recorded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain value recorded at an offset, to detect deletions and truncation."""

    offset: int
    chain: bytes
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """Filters for a read; offsets are exclusive below (``after``) and inclusive above."""

    after: int = 0
    stop: int | None = None
    stream: str | None = None
    agent: str | None = None
    topics: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class Existing:
    """An event id found already stored."""

    offset: int
    state: bytes


class DuplicateKeyError(Exception):
    """An insert hit a stored event id (the optimistic append retries with a lookup)."""


class CommitConflictError(Exception):
    """Another writer committed between this transaction's reads and its commit; nothing was written.

    Raised by optimistic backends (Redis) when the transaction ends; the ledger re-runs the
    whole transaction with fresh reads.
    """


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
    if not positions:
        return floor, "no stored projection has folded these events (run `rledger follow`, or force)"
    lowest = min(positions.values())
    if lowest >= wanted:
        return wanted, None
    behind = ", ".join(sorted(f"'{n}' at offset {p}" for n, p in positions.items() if p == lowest))
    return max(lowest, floor), f"projection {behind} has not folded further"


class WriteTransaction(ABC):
    """Primitives used by the append algorithm inside one exclusive transaction."""

    @abstractmethod
    def existing(self, event_ids: list[UUID]) -> dict[UUID, Existing]:
        """Return the stored events among ``event_ids``."""

    @abstractmethod
    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        """Return the current version of each stream that has events."""

    @abstractmethod
    def tail(self) -> Tail:
        """Return the last stored event's offset and chain value."""

    @abstractmethod
    def insert(self, rows: list[StoredRow]) -> None:
        """Insert rows (offsets already assigned, contiguous after the tail).

        Raises :class:`DuplicateKeyError` when an event id is already stored; the caller then
        rolls the transaction back.
        """

    @abstractmethod
    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        """Record the new head of the chain and any checkpoints crossed."""


@dataclass(frozen=True, slots=True)
class SavedView:
    """A projection's stored state: the offset it is folded up to, its bytes and their digest."""

    name: str
    position: int
    state: bytes
    digest: str
    updated_at: datetime


class RunnerLock(ABC):
    """Held by the one active runner of a projection; released on :meth:`release`."""

    @abstractmethod
    def release(self) -> None:
        """Let another runner take over."""


class FileRunnerLock(RunnerLock):
    """An exclusive ``flock`` on a file: held per open file, so it excludes threads too."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, path: str) -> FileRunnerLock | None:
        """Return the lock on ``path`` if no one else holds it, else ``None``."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        """Unlock and close the file."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


@dataclass
class BackendStats:
    """Counts a backend reports for ``rledger stats``."""

    events: int = 0
    streams: int = 0
    first_recorded_at: datetime | None = None
    last_recorded_at: datetime | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    size_bytes: int | None = None


class LedgerBackend(ABC):
    """A ledger store: a URL-selected backend implementing the primitives above."""

    url: str

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
    def scan(self, after: int, stop: int | None, limit: int) -> list[ScanRow]:
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

        The position is recorded through the library's tracking table, which refuses to move a
        position backwards or write it twice; ``reset`` first forgets the old position (for a
        rebuild switching over). Raises :class:`ledger.errors.ViewConflictError` on a refusal.
        """

    @abstractmethod
    def delete_view(self, name: str) -> None:
        """Forget a projection's stored state and position."""

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

    # -- the eventsourcing notification API, served from the ledger table ------------------
    # (LedgerBackend comes first in each backend's bases, so these replace the library's.)

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
        rows = self.select(ReadQuery(after=after, stop=stop, topics=tuple(topics)), limit)
        return [
            Notification(
                id=r.offset,
                originator_id=r.stream,
                originator_version=r.version,
                topic=r.topic,
                state=r.state,
            )
            for r in rows
        ]

    def max_notification_id(self) -> int:
        """Return the highest offset (0 when empty)."""
        return self.max_offset()

    def layout_problems(self, limit: int) -> list[tuple[int, str]]:
        """Return up to ``limit`` (offset, detail) pairs where storage beside the chain is wrong.

        For backends that keep derived lookup data the hash chain does not cover (SQLite's
        stream numbers); ``verify`` reports them. None by default.
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
                    stop=query.stop,
                    stream=query.stream,
                    agent=query.agent,
                    topics=query.topics,
                    since=query.since,
                    until=query.until,
                ),
                page_size,
            )
            yield from page
            if len(page) < page_size:
                return
            after = page[-1].offset


def where_clause(
    query: ReadQuery,
    placeholder: str,
    time_param: Callable[[datetime], object],
    *,
    stream_key: str | None = None,
) -> tuple[str, list[object]]:
    """Return the SQL ``WHERE`` body and parameters for ``query`` (shared by SQL backends).

    ``stream_key`` is SQL for the indexed key of the stream named by a parameter (SQLite's
    stream number): rows are found by it and still matched on the name. Without it, rows are
    matched on the name alone.
    """
    where = [f"notification_id > {placeholder}"]
    params: list[object] = [query.after]
    if query.stop is not None:
        where.append(f"notification_id <= {placeholder}")
        params.append(query.stop)
    if query.stream is not None:
        if stream_key is not None:
            where.append(f"stream_no = {stream_key}")
            params.append(query.stream)
        where.append(f"originator_id = {placeholder}")
        params.append(query.stream)
    if query.agent is not None:
        where.append(f"agent = {placeholder}")
        params.append(query.agent)
    if query.topics:
        where.append(f"topic IN ({','.join([placeholder] * len(query.topics))})")
        params.extend(query.topics)
    if query.since is not None:
        where.append(f"occurred_at >= {placeholder}")
        params.append(time_param(query.since))
    if query.until is not None:
        where.append(f"occurred_at < {placeholder}")
        params.append(time_param(query.until))
    return " AND ".join(where), params
