"""In-memory backend: an ``eventsourcing`` POPO process recorder holding ledger rows in lists.

The default for library use and tests; nothing survives the process. Writes are staged and
applied only when the transaction ends without error, so a failed batch leaves no trace.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOProcessRecorder

from ledger.backends.base import (
    GENESIS,
    BackendStats,
    Checkpoint,
    DuplicateKeyError,
    Existing,
    LedgerBackend,
    ReadQuery,
    RunnerLock,
    SavedView,
    ScanRow,
    StoredRow,
    Tail,
    WriteTransaction,
)
from ledger.errors import ViewConflictError
from ledger.events import to_epoch_us


class MemoryLedgerRecorder(LedgerBackend, POPOProcessRecorder):
    """Ledger rows in memory, plus the library's in-memory tracking for projections."""

    def __init__(self, url: str = "memory://") -> None:
        super().__init__()
        self.url = url
        self._rows: list[StoredRow] = []
        self._by_id: dict[UUID, int] = {}
        self._streams: dict[str, list[int]] = {}
        self._head: Tail | None = None
        self._checkpoints: list[Checkpoint] = []
        self._views: dict[str, SavedView] = {}
        self._runner_locks: dict[str, threading.Lock] = {}

    # -- ledger primitives -----------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield an exclusive transaction whose inserts apply only on success."""
        with self._database_lock:
            tx = _MemoryWrite(self)
            yield tx
            for row in tx.staged:
                self._by_id[row.event_id] = len(self._rows)
                self._streams.setdefault(row.stream, []).append(len(self._rows))
                self._rows.append(row)
            if tx.new_head is not None:
                self._head = tx.new_head
                self._checkpoints.extend(tx.new_checkpoints)
        self._notify_listeners()

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        with self._database_lock:
            if query.stream is not None:
                candidates: Sequence[int] = self._streams.get(query.stream, [])
                # Row index = offset - 1, and stream indexes ascend.
                start = bisect.bisect_right(candidates, query.after - 1)
                indexes: Sequence[int] = candidates[start:]
            else:
                indexes = range(max(query.after, 0), len(self._rows))
            out: list[StoredRow] = []
            for i in indexes:
                row = self._rows[i]
                if query.stop is not None and row.offset > query.stop:
                    break
                if query.agent is not None and row.agent != query.agent:
                    continue
                if query.topics and row.topic not in query.topics:
                    continue
                if query.since is not None and row.occurred_at < query.since:
                    continue
                if query.until is not None and row.occurred_at >= query.until:
                    continue
                out.append(row)
                if len(out) >= limit:
                    break
            return out

    def scan(self, after: int, stop: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order."""
        with self._database_lock:
            end = len(self._rows) if stop is None else min(stop, len(self._rows))
            rows = self._rows[max(after, 0) : min(end, max(after, 0) + limit)]
        return [(r.offset, r.topic, to_epoch_us(r.occurred_at), r.state) for r in rows]

    def max_offset(self) -> int:
        """Return the highest stored offset, 0 when empty."""
        return len(self._rows)

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset recorded at or after ``when``."""
        with self._database_lock:
            i = bisect.bisect_left(self._rows, when, key=lambda r: r.recorded_at)
            return self._rows[i].offset if i < len(self._rows) else None

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty)."""
        return len(self._streams.get(stream, ()))

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        return self._head

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        return list(self._checkpoints)

    def stats(self) -> BackendStats:
        """Return whole-ledger counts."""
        with self._database_lock:
            by_type: dict[str, int] = {}
            for r in self._rows:
                by_type[r.topic] = by_type.get(r.topic, 0) + 1
            return BackendStats(
                events=len(self._rows),
                streams=len(self._streams),
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
        with self._database_lock:
            if reset:
                self._max_tracking_ids.pop(view.name, None)
            try:
                self.insert_tracking(Tracking(view.name, view.position))
            except IntegrityError as exc:
                raise ViewConflictError(view.name, view.position, str(exc)) from exc
            self._views[view.name] = view

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        with self._database_lock:
            self._max_tracking_ids.pop(name, None)
            self._views.pop(name, None)

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take the in-process lock for ``name``."""
        with self._database_lock:
            lock = self._runner_locks.setdefault(name, threading.Lock())
        return _ThreadRunnerLock(lock) if lock.acquire(blocking=False) else None

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists (woken by appends, no polling)."""
        event = threading.Event()
        with self._database_lock:
            if len(self._rows) > after:
                return True
            self._listeners.add(event)
        try:
            event.wait(timeout)
        finally:
            with self._database_lock:
                self._listeners.discard(event)
        return len(self._rows) > after


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

    def existing(self, event_ids: list[UUID]) -> dict[UUID, Existing]:
        rows = self.store._rows
        return {
            e: Existing(rows[i].offset, rows[i].state)
            for e in event_ids
            if (i := self.store._by_id.get(e)) is not None
        }

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        return {s: len(self.store._streams[s]) for s in streams if s in self.store._streams}

    def tail(self) -> Tail:
        rows = self.store._rows
        if not rows:
            return Tail(0, GENESIS, None)
        return Tail(rows[-1].offset, rows[-1].chain, rows[-1].recorded_at)

    def insert(self, rows: list[StoredRow]) -> None:
        if any(r.event_id in self.store._by_id for r in rows):
            raise DuplicateKeyError("an event id is already stored")
        self.staged.extend(rows)

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        self.new_head = tail
        self.new_checkpoints = checkpoints
