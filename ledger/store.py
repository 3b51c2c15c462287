"""The ledger: validated, atomic, idempotent appends and audit reads over one backend.

Reading (:meth:`Ledger.read`, :meth:`Ledger.scan`, :meth:`Ledger.verify`, …) is in
:class:`~ledger.reads.LedgerReads`. Appending validates a batch (:func:`ledger.batch.prepare`)
and hands it to the ledger's :class:`~ledger.commit.Committer`, which numbers, chains and writes
it in one transaction (see :mod:`ledger.commit`); async appends share transactions through
:mod:`ledger.groupcommit`.

Retention (:meth:`Ledger.prune`, :meth:`Ledger.keep_for`) removes the oldest events; folds that
would need them raise :class:`~ledger.errors.PrunedRangeError` instead of silently missing them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from ledger.backends.base import LedgerBackend
from ledger.backends.pruning import PruneResult
from ledger.batch import AppendResult, EventInput, ExpectedVersion, PreparedBatch, prepare
from ledger.codec import DEFAULT_MAX_EVENT_BYTES
from ledger.commit import Clock, Committer
from ledger.groupcommit import GroupCommitter
from ledger.reads import LedgerReads
from ledger.recorded import Recorded, to_recorded
from ledger.retention import RetentionPolicy, RetentionSweeper
from ledger.shadows import clear_stale_shadows
from ledger.timeutil import as_utc, utc_now

__all__ = ["AppendResult", "Clock", "EventInput", "ExpectedVersion", "Ledger", "Recorded", "to_recorded"]


class Ledger(LedgerReads):
    """An append-only event ledger over one backend (see :func:`ledger.open_ledger`).

    Args:
        backend: where events are stored.
        clock: returns an aware UTC datetime; used for commit times.
        max_event_bytes: largest accepted encoded event.
    """

    def __init__(
        self,
        backend: LedgerBackend,
        *,
        clock: Clock = utc_now,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        self.backend = backend
        self.clock = clock
        self.max_event_bytes = max_event_bytes
        self.committer = Committer(backend, self._now)
        """Writes every append (one transaction at a time); see :mod:`ledger.commit`."""
        self.retention: RetentionSweeper[Ledger] | None = None
        self._closed = False
        self._group: GroupCommitter | None = None
        self._group_lock = threading.Lock()

    def _now(self) -> datetime:
        # Read at each commit: the ledger's clock may be replaced after it was opened.
        return self.clock()

    @property
    def commit_conflicts(self) -> int:
        """Transactions re-run because another writer committed first (optimistic backends)."""
        return self.committer.commit_conflicts

    @property
    def url(self) -> str:
        """The backend's URL (password redacted)."""
        return self.backend.url

    # -- appending ---------------------------------------------------------------------------

    def append(
        self, events: Iterable[EventInput] | EventInput, *, expected_version: ExpectedVersion = None
    ) -> AppendResult:
        """Validate and write a batch atomically; return each event's offset.

        Args:
            events: events, mappings or JSON (one or many).
            expected_version: optimistic concurrency: the version a stream must be at before
                this batch (an ``int`` when the batch's new events are all in one stream, else a
                mapping of stream name to version; 0 means "the stream is new").

        Raises:
            BatchRejectedError: some events are invalid (nothing written).
            VersionConflictError: a stream is not at the expected version (nothing written).
            DuplicateEventError: an event id is stored with a different payload (nothing written).
        """
        self._check_open()
        batch = prepare(events, expected_version, max_event_bytes=self.max_event_bytes)
        result = self.committer.commit([batch])[0]
        self.after_commit()
        return result

    async def append_async(
        self, events: Iterable[EventInput] | EventInput, *, expected_version: ExpectedVersion = None
    ) -> AppendResult:
        """Like :meth:`append`, without blocking the event loop.

        Concurrent callers are batched into shared transactions (group commit) by a writer
        thread; each await resolves once its own events are committed.
        """
        self._check_open()
        batch: PreparedBatch = prepare(events, expected_version, max_event_bytes=self.max_event_bytes)
        group = self._group_committer()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        group.submit(batch, future)
        return await future

    def _group_committer(self) -> GroupCommitter:
        with self._group_lock:
            if self._group is None:
                self._group = GroupCommitter(self.committer, self.after_commit)
            return self._group

    # -- retention ---------------------------------------------------------------------------

    def prune(self, before: datetime, *, force: bool = False) -> PruneResult:
        """Remove the events recorded before ``before``, atomically.

        Stored projections keep their folded totals; the hash chain records a prune mark so
        :meth:`verify` passes on what remains. Stream versions carry on where they were. The
        ids of removed events are forgotten: idempotency holds within the retention horizon.

        Args:
            before: remove events committed before this time (naive = UTC).
            force: remove them even if a stored projection has not folded them yet (or none is
                stored). Without it, nothing past the lowest stored projection position goes.

        Shadow copies left by a rebuild that is no longer running (killed) are deleted first,
        so they never hold retention back; a running rebuild's shadows count.
        """
        self._check_open()
        clear_stale_shadows(self.backend)
        return self.backend.prune(as_utc(before), force=force, pruned_at=as_utc(self.clock()))

    def pruned_through(self) -> int:
        """Return the offset up to which events were pruned (0 if never)."""
        self._check_open()
        return self.backend.pruned_through()

    def keep_for(
        self,
        ttl: timedelta,
        *,
        every: timedelta = timedelta(hours=1),
        prepare: Callable[[Ledger], None] | None = None,
    ) -> RetentionSweeper[Ledger]:
        """Remove events older than ``ttl`` automatically, sweeping after appends.

        Sweeps run at most once per ``every`` of the ledger's clock, first calling ``prepare``
        (e.g. to bring the stored projections up to date), then :meth:`prune` without force.
        """
        self.retention = RetentionSweeper(RetentionPolicy(ttl=ttl, every=every, prepare=prepare))
        return self.retention

    def after_commit(self) -> None:
        """Run a due retention sweep (after each commit; see :meth:`keep_for`)."""
        sweeper = self.retention
        if sweeper is not None and not self._closed:
            sweeper.maybe_sweep(self, as_utc(self.clock()))

    def stats(self) -> dict[str, Any]:
        """Return counts: events, streams, by type, time span and latest offset."""
        self._check_open()
        s = self.backend.stats()
        return {
            "url": self.url,
            "events": s.events,
            "latest_offset": self.backend.max_offset(),
            "streams": s.streams,
            "first_recorded_at": s.first_recorded_at.isoformat() if s.first_recorded_at else None,
            "last_recorded_at": s.last_recorded_at.isoformat() if s.last_recorded_at else None,
            "by_type": dict(sorted(s.by_type.items())),
            "size_bytes": s.size_bytes,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        """Flush pending async appends and release the backend."""
        if self._closed:
            return
        group = self._group
        if group is not None:
            group.stop()
        self._closed = True
        self.committer.close()
        self.backend.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
