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

import importlib
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ledger.reads import LedgerReads
from ledger.retention import RetentionPolicy, RetentionSweeper
from ledger.shadows import clear_stale_shadows
from ledger.timeutil import as_utc, utc_now

if TYPE_CHECKING:
    import asyncio

    # The write path (validation, the codec and pydantic, the committer) loads on the first
    # append: a ledger opened to read or count (``rledger stats``) starts without it.
    from ledger.backends.base import LedgerBackend
    from ledger.backends.pruning import PruneResult
    from ledger.batch import AppendResult, EventInput, ExpectedVersion, PreparedBatch
    from ledger.commit import Clock, Committer
    from ledger.event_base import LedgerEvent
    from ledger.groupcommit import GroupCommitter
    from ledger.keys.envelope import Envelope
    from ledger.keys.shredder import ForgetResult
    from ledger.keys.stores import KeyStore
    from ledger.recorded import Recorded, to_recorded
    from ledger.redaction import Redactor

__all__ = ["AppendResult", "Clock", "EventInput", "ExpectedVersion", "Ledger", "Recorded", "to_recorded"]

_REEXPORTED = {
    "AppendResult": "ledger.batch",
    "Clock": "ledger.commit",
    "EventInput": "ledger.batch",
    "ExpectedVersion": "ledger.batch",
    "Recorded": "ledger.recorded",
    "to_recorded": "ledger.recorded",
}

MAX_EVENT_BYTES = 1 << 20
"""The default largest encoded event (``ledger.codec.DEFAULT_MAX_EVENT_BYTES``, which is this)."""


def __getattr__(name: str) -> Any:
    module = _REEXPORTED.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


class Ledger(LedgerReads):
    """An append-only event ledger over one backend (see :func:`ledger.open_ledger`).

    Args:
        backend: where events are stored.
        clock: returns an aware UTC datetime; used for commit times.
        max_event_bytes: largest accepted encoded event.
        redaction: a compiled redaction policy applied to every append (see :mod:`ledger.redaction`).
    """

    def __init__(
        self,
        backend: LedgerBackend,
        *,
        clock: Clock = utc_now,
        max_event_bytes: int = MAX_EVENT_BYTES,
        redaction: Redactor | None = None,
    ) -> None:
        self.backend = backend
        self.redaction = redaction
        self.clock = clock
        self.max_event_bytes = max_event_bytes
        self._committer: Committer | None = None
        self._committer_lock = threading.Lock()
        self.retention: RetentionSweeper[Ledger] | None = None
        self._closed = False
        self._group: GroupCommitter | None = None
        self._group_lock = threading.Lock()
        self._envelope: Envelope | None = None

    def _now(self) -> datetime:
        # Read at each commit: the ledger's clock may be replaced after it was opened.
        return self.clock()

    @property
    def committer(self) -> Committer:
        """Writes every append (one transaction at a time); see :mod:`ledger.commit`.

        Made on the first append, so opening a ledger to read does not load the write path.
        """
        committer = self._committer
        if committer is None:
            with self._committer_lock:
                if self._committer is None:
                    from ledger.commit import Committer

                    self._committer = Committer(self.backend, self._now)
                committer = self._committer
        return committer

    @committer.setter
    def committer(self, committer: Committer) -> None:
        self._committer = committer

    @property
    def commit_conflicts(self) -> int:
        """Transactions re-run because another writer committed first (optimistic backends)."""
        return 0 if self._committer is None else self._committer.commit_conflicts

    @property
    def envelope(self) -> Envelope:
        """This ledger's crypto-shredding: seals subjects' fields on append, opens them on read.

        Made on first use from ``$RLEDGER_MASTER_KEY`` (or its file) and the backend's key
        table unless :meth:`use_keys` set one (``open_ledger`` does, and checks it at open).
        """
        envelope = self._envelope
        if envelope is None:
            envelope = self._envelope = self.use_keys(check=False)
        return envelope

    def use_keys(
        self,
        *,
        master_key_file: str | None = None,
        horizons: dict[str, int] | None = None,
        store: KeyStore | None = None,
        check: bool = True,
    ) -> Envelope:
        """Set up crypto-shredding: the master key (``master_key_file``, else the environment),
        the key ``store`` (default: a table in the ledger's own database) and the field horizons
        (``"Type[.field]"`` → days, see :meth:`keep_for`).

        Raises:
            MasterKeyError: with ``check``: the key store holds keys and no master key is set, or
                the master key does not open them (never "erased" everywhere instead).
        """
        from ledger.keys.envelope import Envelope
        from ledger.keys.errors import SubjectsUnsupportedError
        from ledger.keys.master import load_master_key
        from ledger.keys.stores import key_store_for

        if store is None:
            try:
                store = key_store_for(self.backend)
            except SubjectsUnsupportedError:
                store = None
        envelope = Envelope(self.url, load_master_key(master_key_file), store, horizons=horizons)
        if check:
            envelope.check()
        self._envelope = envelope
        return envelope

    def forget(self, subject: str, *, reason: str, by: str | None = None) -> ForgetResult:
        """Destroy a data subject's keys and record a ``SubjectForgotten`` (:func:`ledger.keys.forget`)."""
        from ledger.keys.shredder import forget

        self._check_open()
        return forget(self, subject, reason=reason, by=by)

    def _seal(self, events: list[LedgerEvent], states: list[bytes], max_bytes: int) -> list[bytes]:
        # Most batches name no subject: answer those without making the envelope.
        for event in events:
            if event.subject is not None:
                return self.envelope.seal(events, states, max_bytes)
        return states

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
        from ledger.batch import prepare

        self._check_open()
        batch = prepare(
            events,
            expected_version,
            max_event_bytes=self.max_event_bytes,
            redaction=self.redaction,
            seal=self._seal,
        )
        result = self.committer.commit([batch])[0]
        if self.redaction is not None:
            self.redaction.count(batch.events)
        self.after_commit()
        return result

    async def append_async(
        self, events: Iterable[EventInput] | EventInput, *, expected_version: ExpectedVersion = None
    ) -> AppendResult:
        """Like :meth:`append`, without blocking the event loop.

        Concurrent callers are batched into shared transactions (group commit) by a writer
        thread; each await resolves once its own events are committed.
        """
        import asyncio  # ~30 ms to import: only async callers pay it

        from ledger.batch import prepare

        self._check_open()
        batch: PreparedBatch = prepare(
            events,
            expected_version,
            max_event_bytes=self.max_event_bytes,
            redaction=self.redaction,
            seal=self._seal,
        )
        group = self._group_committer()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        group.submit(batch, future)
        result = await future
        if self.redaction is not None:
            self.redaction.count(batch.events)
        return result

    def _group_committer(self) -> GroupCommitter:
        with self._group_lock:
            if self._group is None:
                from ledger.groupcommit import GroupCommitter

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
        ttl: timedelta | None,
        *,
        every: timedelta = timedelta(hours=1),
        prepare: Callable[[Ledger], None] | None = None,
        fields: Mapping[str, timedelta] | None = None,
    ) -> RetentionSweeper[Ledger]:
        """Remove events older than ``ttl`` automatically, sweeping after appends.

        Sweeps run at most once per ``every`` of the ledger's clock, first calling ``prepare``
        (e.g. to bring the stored projections up to date), then :meth:`prune` without force.

        ``fields`` is retention by field: ``{"ToolCalled.result": timedelta(days=30)}`` erases
        the tool results of events about a subject 30 days after the day they occurred (whole
        days; ``"ToolCalled"`` names every sealed field of the type). Such fields are sealed
        with a key per subject, horizon and day, and a sweep destroys the keys of the days past
        their horizon (:meth:`expire_fields`); the events stay, so the chain still verifies.
        Horizons apply to events appended after they are set.
        """
        policy = RetentionPolicy(ttl=ttl, every=every, prepare=prepare, fields=dict(fields or {}))
        horizons = {spec: horizon.days for spec, horizon in (policy.fields or {}).items()}
        if horizons:
            self.envelope.horizons = horizons
        elif self._envelope is not None:
            self._envelope.horizons = {}
        self.retention = RetentionSweeper(policy)
        return self.retention

    def expire_fields(self, now: datetime) -> int:
        """Erase the sealed fields past their horizon (see :meth:`keep_for`); return keys destroyed."""
        self._check_open()
        return self.envelope.destroy_expired(as_utc(now))

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
        if self._committer is not None:  # none was made: nothing was appended through this one
            self._committer.close()
        self.backend.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
