"""In-memory backend: ledger rows in lists, tracking positions in a dict, one lock around both.

The default for library use and tests; nothing survives the process. Writes are staged and
applied only when the transaction ends without error, so a failed batch leaves no trace. Rows
are held in offset order; after a prune the list starts at ``_base + 1``.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking

from ledger.backends.base import LedgerBackend
from ledger.backends.locks import RunnerLock
from ledger.backends.pruning import PruneMark, PruneResult, plan_prune
from ledger.backends.rows import (
    GENESIS,
    BackendStats,
    Checkpoint,
    ReadQuery,
    SavedView,
    ScanRow,
    StoredId,
    StoredRow,
    Tail,
    VerifyRow,
    verify_row,
)
from ledger.backends.transaction import DuplicateKeyError, WriteTransaction
from ledger.errors import ViewConflictError
from ledger.timeutil import to_epoch_us


class MemoryLedgerRecorder(LedgerBackend):
    """Ledger rows in memory, plus tracking positions for projections."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.RLock()
        self._listeners: set[threading.Event] = set()  # woken after each commit
        self._tracking: dict[str, int] = {}  # projection name -> position
        self._rows: list[StoredRow] = []
        self._base = 0  # offsets up to here were pruned: _rows[i].offset == _base + i + 1
        self._by_id: dict[UUID, int] = {}  # event id -> offset
        self._streams: dict[str, list[int]] = {}  # stream -> its offsets, ascending
        self._versions: dict[str, int] = {}  # outlives pruning, unlike the rows that counted it
        self._marks: list[PruneMark] = []
        self._head: Tail | None = None
        self._checkpoints: list[Checkpoint] = []
        self._views: dict[str, SavedView] = {}
        self._runner_locks: dict[str, threading.Lock] = {}

    # -- ledger primitives -----------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield an exclusive transaction whose inserts apply only on success."""
        with self._lock:
            tx = _MemoryWrite(self)
            yield tx
            for row in tx.staged:
                self._by_id[row.event_id] = row.offset
                self._streams.setdefault(row.stream, []).append(row.offset)
                self._versions[row.stream] = row.version
                self._rows.append(row)
            if tx.new_head is not None:
                self._head = tx.new_head
                self._checkpoints.extend(tx.new_checkpoints)
        self._wake_listeners()

    def _wake_listeners(self) -> None:
        with self._lock:
            for listener in self._listeners:
                listener.set()

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        with self._lock:
            base = self._base
            if query.stream is not None:
                candidates: Sequence[int] = self._streams.get(query.stream, [])
                start = bisect.bisect_right(candidates, query.after)
                indexes: Sequence[int] = [o - 1 - base for o in candidates[start:]]
            else:
                indexes = range(max(query.after - base, 0), len(self._rows))
            out: list[StoredRow] = []
            for i in indexes:
                row = self._rows[i]
                if query.through is not None and row.offset > query.through:
                    break
                if query.agent is not None and row.agent != query.agent:
                    continue
                if query.types and row.type not in query.types:
                    continue
                if query.since is not None and row.occurred_at < query.since:
                    continue
                if query.until is not None and row.occurred_at >= query.until:
                    continue
                out.append(row)
                if len(out) >= limit:
                    break
            return out

    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order."""
        with self._lock:
            first = max(after - self._base, 0)
            end = len(self._rows) if through is None else min(through - self._base, len(self._rows))
            rows = self._rows[first : max(min(end, first + limit), first)]
        return [(r.offset, r.type, to_epoch_us(r.occurred_at), r.state) for r in rows]

    def verify_scan(self, after: int, limit: int) -> list[VerifyRow]:
        """Return every column raw (the id as bytes, times in µs)."""
        with self._lock:
            first = max(after - self._base, 0)
            rows = self._rows[first : first + limit]
        return [verify_row(r) for r in rows]

    def index_problems(self, rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
        """The id map and the stream offset lists checked against one page of rows."""
        problems = []
        with self._lock:
            for row in rows:
                offset, stream, event_id = row[0], row[1], UUID(bytes=row[4])
                if self._by_id.get(event_id) != offset:
                    problems.append(
                        (offset, f"the id index maps this event's id to {self._by_id.get(event_id)}")
                    )
                offsets = self._streams.get(stream, [])
                i = bisect.bisect_left(offsets, offset)
                if i == len(offsets) or offsets[i] != offset:
                    problems.append((offset, f"the stream {stream!r} index is missing this offset"))
        return problems

    def stream_version_problems(self, last: Mapping[str, tuple[int, int]]) -> list[tuple[int, str]]:
        """Each stream's kept version checked against its last row's."""
        return [
            (
                offset,
                f"stream {stream!r} is kept at version {self._versions.get(stream)} "
                f"but its last row is version {version}",
            )
            for stream, (offset, version) in sorted(last.items())
            if self._versions.get(stream) != version
        ]

    def max_offset(self) -> int:
        """Return the highest offset written (still the head's after everything was pruned)."""
        with self._lock:
            if self._rows:
                return self._rows[-1].offset
            return self._head.offset if self._head is not None else 0

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``."""
        with self._lock:
            i = bisect.bisect_left(self._rows, when, key=lambda r: r.recorded_at)
            return self._rows[i].offset if i < len(self._rows) else None

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        return self._versions.get(stream, 0)

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        return self._head

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        return list(self._checkpoints)

    def stats(self) -> BackendStats:
        """Return whole-ledger counts."""
        with self._lock:
            by_type: dict[str, int] = {}
            for r in self._rows:
                by_type[r.type] = by_type.get(r.type, 0) + 1
            return BackendStats(
                events=len(self._rows),
                streams=sum(1 for offsets in self._streams.values() if offsets),
                first_recorded_at=self._rows[0].recorded_at if self._rows else None,
                last_recorded_at=self._rows[-1].recorded_at if self._rows else None,
                by_type=by_type,
            )

    def close(self) -> None:
        """Nothing to release."""

    # -- projection views ------------------------------------------------------------------

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state."""
        return self._views.get(name)

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position together; the tracking refuses regressions."""
        with self._lock:
            if reset:
                self._tracking.pop(view.name, None)
            try:
                self.insert_tracking(Tracking(view.name, view.position))
            except IntegrityError as exc:
                raise ViewConflictError(view.name, view.position, str(exc)) from exc
            self._views[view.name] = view

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position (the library's tracking API); refuses one that does not advance."""
        with self._lock:
            current = self._tracking.get(tracking.application_name)
            if current is not None and current >= tracking.notification_id:
                raise IntegrityError(
                    f"Tracking notification ID {tracking.notification_id} not greater than "
                    f"current max tracking ID {current}"
                )
            self._tracking[tracking.application_name] = tracking.notification_id

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the recorded position of ``application_name`` (``None`` if none)."""
        with self._lock:
            return self._tracking.get(application_name)

    def view_names(self) -> list[str]:
        """Return the names of every stored projection."""
        with self._lock:
            return sorted(self._views)

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self._lock:
            self._tracking.pop(name, None)
            self._views.pop(name, None)

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Drop the rows recorded before ``before`` that every stored projection has folded."""
        with self._lock:
            floor = self._marks[-1].offset if self._marks else 0
            old = bisect.bisect_left(self._rows, before, key=lambda r: r.recorded_at)
            wanted = self._rows[old - 1].offset if old else floor
            positions = {v.name: v.position for v in self._views.values()}
            through, held_back = plan_prune(wanted, floor, positions, force=force)
            cut = through - self._base  # rows to drop from the front
            if cut <= 0:
                return PruneResult(0, floor, wanted, held_back)
            dropped = self._rows[:cut]
            self._marks.append(PruneMark(through, dropped[-1].chain, pruned_at, len(dropped)))
            for row in dropped:
                self._by_id.pop(row.event_id, None)
            for offsets in {row.stream: self._streams[row.stream] for row in dropped}.values():
                del offsets[: bisect.bisect_right(offsets, through)]
            del self._rows[:cut]
            self._base = through
            return PruneResult(len(dropped), through, wanted, held_back)

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        return list(self._marks)

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take the in-process lock for ``name``."""
        with self._lock:
            lock = self._runner_locks.setdefault(name, threading.Lock())
        return _ThreadRunnerLock(lock) if lock.acquire(blocking=False) else None

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists (woken by appends, no polling)."""
        event = threading.Event()
        with self._lock:
            if self.max_offset() > after:
                return True
            self._listeners.add(event)
        try:
            event.wait(timeout)
        finally:
            with self._lock:
                self._listeners.discard(event)
        return self.max_offset() > after


class _ThreadRunnerLock(RunnerLock):
    def __init__(self, lock: threading.Lock) -> None:
        self._lock: threading.Lock | None = lock

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None


class _MemoryWrite(WriteTransaction):
    def __init__(self, store: MemoryLedgerRecorder) -> None:
        self.store = store
        self.staged: list[StoredRow] = []
        self.new_head: Tail | None = None
        self.new_checkpoints: list[Checkpoint] = []

    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        rows, base = self.store._rows, self.store._base
        return {
            e: StoredId(o, rows[o - 1 - base].state)
            for e in event_ids
            if (o := self.store._by_id.get(e)) is not None
        }

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        versions = self.store._versions
        return {s: versions[s] for s in streams if s in versions}

    def tail(self) -> Tail:
        rows = self.store._rows
        if not rows:
            # Everything may have been pruned: the chain continues from the head.
            head = self.store._head
            return Tail(0, GENESIS, None) if head is None else head
        return Tail(rows[-1].offset, rows[-1].chain, rows[-1].recorded_at)

    def insert(self, rows: list[StoredRow]) -> None:
        if any(r.event_id in self.store._by_id for r in rows):
            raise DuplicateKeyError("an event id is already stored")
        self.staged.extend(rows)

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        self.new_head = tail
        self.new_checkpoints = checkpoints
