"""The ledger: validated, atomic, idempotent appends and audit reads over one backend.

Appending assigns each new event the next global offset (gapless, in commit order), the next
version in its stream, its commit time and its hash-chain link, all inside one exclusive
transaction, so a batch is written whole or not at all. An event whose id is already stored is
not written again: its original offset is returned. On an optimistic backend (Redis) a
transaction that another writer beat to the commit is run again with fresh reads.

Retention (:meth:`Ledger.prune`, :meth:`Ledger.keep_for`) removes the oldest events; folds that
would need them raise :class:`~ledger.errors.PrunedRangeError` instead of silently missing them.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger import chain as chain_mod
from ledger.backends.base import (
    CommitConflictError,
    DuplicateKeyError,
    LedgerBackend,
    PruneResult,
    ReadQuery,
    ScanRow,
    StoredRow,
    StreamRow,
    Tail,
    WriteTransaction,
)
from ledger.codec import DEFAULT_MAX_EVENT_BYTES, decode, payload_digest, validate_and_encode
from ledger.errors import (
    BackendError,
    DuplicateEventError,
    LedgerClosedError,
    PrunedRangeError,
    VersionConflictError,
)
from ledger.events import Event, LedgerEvent, as_utc, utc_now
from ledger.retention import RetentionPolicy, RetentionSweeper

if TYPE_CHECKING:
    from ledger.groupcommit import GroupCommitter

Clock = Callable[[], datetime]
EventInput = LedgerEvent | Mapping[str, Any] | str | bytes
ExpectedVersion = int | Mapping[str, int] | None

MAX_COMMIT_ATTEMPTS = 1000
"""How often a transaction is re-run when other writers keep committing first (optimistic backends)."""


_new_row = functools.partial(tuple.__new__, StoredRow)
_type_of = operator.attrgetter("type")
_id_of = operator.attrgetter("event_id")
_agent_of = operator.attrgetter("agent")
_occurred_at_of = operator.attrgetter("occurred_at")
_id_int_of = operator.attrgetter("event_id.int")
_stream_key = operator.methodcaller("stream_key")


def stream_of(event: LedgerEvent) -> str:
    """Return the stream an event belongs to (see :meth:`LedgerEvent.stream_key`)."""
    return event.stream_key()


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as read back from the ledger, with where and when it was stored."""

    offset: int
    stream: str
    version: int
    recorded_at: datetime
    event: Event

    def to_json_dict(self) -> dict[str, Any]:
        """Return the event as JSON plus its offset, stream, version and recorded_at."""
        data: dict[str, Any] = self.event.model_dump(mode="json")
        data["offset"] = self.offset
        data["stream"] = self.stream
        data["version"] = self.version
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


@dataclass(frozen=True, slots=True)
class AppendResult:
    """What an append did: one offset per input event, in input order.

    Attributes:
        offsets: the offset of each input event (the original offset for a duplicate).
        written: how many events were newly written.
        duplicates: how many were already stored (idempotent retries) and not written.
    """

    offsets: tuple[int, ...]
    written: int
    duplicates: int

    @property
    def last_offset(self) -> int | None:
        """The highest offset among the batch's events (``None`` for an empty batch)."""
        return max(self.offsets) if self.offsets else None


@dataclass
class _Prepared:
    events: list[LedgerEvent]
    states: list[bytes]
    streams: list[str]
    expected: ExpectedVersion


class Ledger:
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
        self._write_lock = threading.Lock()
        self._closed = False
        self._group: GroupCommitter | None = None
        self._group_lock = threading.Lock()
        self.retention: RetentionSweeper | None = None
        self.commit_conflicts = 0
        """Transactions re-run because another writer committed first (optimistic backends)."""
        # Stream versions as of this ledger's own last commit, valid while the store's tail is
        # still that commit's (nobody else wrote since): a batch then needs no version look-up
        # for the streams it has seen (a query per batch saved: a round trip on PostgreSQL, a
        # measurable share of an append on SQLite). Guarded by _write_lock.
        self._versions: dict[str, int] = {}
        self._versions_tail: tuple[int, bytes] | None = None

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
        prepared = self._prepare(events, expected_version)
        result = self._commit([prepared])[0]
        self._after_commit()
        return result

    async def append_async(
        self, events: Iterable[EventInput] | EventInput, *, expected_version: ExpectedVersion = None
    ) -> AppendResult:
        """Like :meth:`append`, without blocking the event loop.

        Concurrent callers are batched into shared transactions (group commit) by a writer
        thread; each await resolves once its own events are committed.
        """
        prepared = self._prepare(events, expected_version)
        group = self._group_committer()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        group.submit(prepared, future)
        return await future

    def _prepare(self, events: Iterable[EventInput] | EventInput, expected: ExpectedVersion) -> _Prepared:
        self._check_open()
        items: Iterable[EventInput]
        items = [events] if isinstance(events, LedgerEvent | Mapping | str | bytes) else events
        validated, states = validate_and_encode(items, max_bytes=self.max_event_bytes)
        return _Prepared(
            events=validated,
            states=states,
            streams=list(map(_stream_key, validated)),
            expected=expected,
        )

    def _commit(self, batches: Sequence[_Prepared]) -> list[AppendResult]:
        """Write several prepared batches in one transaction; all succeed or none is written.

        Idempotency is optimistic: the first attempt does not look the event ids up, and the
        unique index on ``event_id`` refuses a stored one. Only then (a retry, rare) does a
        second attempt look them up, to return their original offsets — or to tell an
        expected-version conflict caused by already-stored events from a real one.
        """
        with self._write_lock:
            self._check_open()
            look_up = False
            for attempt in range(MAX_COMMIT_ATTEMPTS):
                try:
                    return self._commit_once(batches, look_up=look_up)
                except (DuplicateKeyError, VersionConflictError):
                    if look_up:
                        raise
                    look_up = True
                except CommitConflictError:
                    # Another writer committed first; nothing of ours was written. Back off a
                    # little (jittered) so writers in a tight race stop colliding.
                    self.commit_conflicts += 1
                    if attempt:
                        time.sleep(random.uniform(0, min(0.0002 * 2**attempt, 0.02)))
            raise BackendError(
                f"could not commit after {MAX_COMMIT_ATTEMPTS} attempts: other writers kept committing first"
            )

    def _commit_once(self, batches: Sequence[_Prepared], *, look_up: bool) -> list[AppendResult]:
        with self.backend.write() as tx:
            existing = tx.existing(list({e.event_id for b in batches for e in b.events})) if look_up else {}
            tail = tx.tail()
            # Streams named in expected_version may have no event in the batch: look them up too.
            new_streams = sorted(
                {s for b in batches for s in b.streams}
                | {s for b in batches if isinstance(b.expected, Mapping) for s in b.expected}
            )
            versions = self._stream_versions(tx, tail, new_streams)
            now = as_utc(self.clock())
            recorded_at = now if tail.recorded_at is None or now > tail.recorded_at else tail.recorded_at
            # The new events of every batch, flat and in offset order, with their versions.
            events: list[LedgerEvent] = []
            states: list[bytes] = []
            streams: list[str] = []
            new_versions: list[int] = []
            results: list[AppendResult] = []
            offset = tail.offset
            # Without stored ids to look up, a commit whose event ids are all distinct (the
            # common case, checked in one set build) has no duplicate to look for event by event.
            keys = [k for b in batches for k in map(_id_int_of, b.events)]
            plain = not existing and len(set(keys)) == len(keys)
            # Keyed by the id's int: a UUID hashes in Python code, an int in C.
            seen: dict[int, tuple[int, bytes]] = {}
            for batch in batches:
                self._check_expected(batch, existing, seen, versions)
                if plain:
                    for stream in batch.streams:
                        version = versions.get(stream, 0) + 1
                        versions[stream] = version
                        new_versions.append(version)
                    events += batch.events
                    states += batch.states
                    streams += batch.streams
                    count = len(batch.events)
                    results.append(AppendResult(tuple(range(offset + 1, offset + count + 1)), count, 0))
                    offset += count
                    continue
                offsets: list[int] = []
                duplicates = 0
                for index, (event, state, stream) in enumerate(
                    zip(batch.events, batch.states, batch.streams, strict=True)
                ):
                    event_id = event.event_id
                    known = existing.get(event_id) if existing else None
                    if known is not None:
                        if payload_digest(known.state) != payload_digest(state):
                            raise DuplicateEventError(event_id, known.offset, index)
                        offsets.append(known.offset)
                        duplicates += 1
                        continue
                    key = event_id.int
                    twin = seen.get(key)
                    if twin is not None:
                        if payload_digest(twin[1]) != payload_digest(state):
                            raise DuplicateEventError(event_id, twin[0], index, in_batch=True)
                        offsets.append(twin[0])
                        duplicates += 1
                        continue
                    offset += 1
                    version = versions.get(stream, 0) + 1
                    versions[stream] = version
                    events.append(event)
                    states.append(state)
                    streams.append(stream)
                    new_versions.append(version)
                    seen[key] = (offset, state)
                    offsets.append(offset)
                results.append(AppendResult(tuple(offsets), len(offsets) - duplicates, duplicates))
            previous = tail.chain
            if events:
                first = tail.offset + 1
                chains = chain_mod.link_run(previous, first, streams, new_versions, states)
                previous = chains[-1]
                # Built column-wise in C (tuple.__new__ over zipped columns): a named tuple's own
                # constructor is Python code, a call per event.
                rows: list[StoredRow] = list(
                    map(
                        _new_row,
                        zip(
                            range(first, offset + 1),
                            streams,
                            new_versions,
                            map(_type_of, events),
                            map(_id_of, events),
                            map(_agent_of, events),
                            map(_occurred_at_of, events),
                            itertools.repeat(recorded_at),
                            states,
                            chains,
                            strict=False,
                        ),
                    )
                )
                tx.insert(rows)
                new_tail = Tail(offset, previous, recorded_at)
                tx.save_head(
                    new_tail,
                    chain_mod.checkpoints_crossed(tail.offset, offset, lambda o: chains[o - first], new_tail),
                )
        # Committed: the versions now match the store's tail (and only now — a transaction
        # that failed above left the cache as it was, or emptied).
        self._versions_tail = (offset, previous)
        return results

    MAX_CACHED_STREAMS = 100_000

    def _stream_versions(self, tx: WriteTransaction, tail: Tail, streams: list[str]) -> dict[str, int]:
        """Current versions of ``streams`` (absent: 0), from the cache where it is valid."""
        cache = self._versions
        if self._versions_tail != (tail.offset, tail.chain) or len(cache) > self.MAX_CACHED_STREAMS:
            # Another writer committed since this ledger last did (or the cache is full).
            cache.clear()
        self._versions_tail = None  # until this transaction commits
        missing = [s for s in streams if s not in cache]
        if missing:
            found = tx.stream_versions(missing)
            for s in missing:
                cache[s] = found.get(s, 0)
        # The caller's dict is the cache itself: versions assigned in the transaction land in
        # it, and the tail set after the commit makes them valid.
        return cache

    @staticmethod
    def _check_expected(
        batch: _Prepared,
        existing: Mapping[UUID, object],
        seen: Mapping[int, object],
        versions: Mapping[str, int],
    ) -> None:
        if batch.expected is None:
            return
        new_streams = {
            s
            for e, s in zip(batch.events, batch.streams, strict=True)
            if e.event_id not in existing and e.event_id.int not in seen
        }
        if not new_streams:
            # A retry of a batch that is already stored: idempotent, nothing to check.
            return
        if isinstance(batch.expected, int):
            if len(new_streams) != 1:
                raise ValueError(
                    "expected_version as an int needs all new events in one stream; "
                    f"this batch spans {sorted(new_streams)} (pass a mapping of stream to version)"
                )
            expected = {next(iter(new_streams)): batch.expected}
        else:
            expected = dict(batch.expected)
        for stream, version in expected.items():
            actual = versions.get(stream, 0)
            if actual != version:
                raise VersionConflictError(stream, version, actual)

    def _group_committer(self) -> GroupCommitter:
        with self._group_lock:
            if self._group is None:
                from ledger.groupcommit import GroupCommitter

                self._group = GroupCommitter(self)
            return self._group

    # -- reading -----------------------------------------------------------------------------

    def read(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        until_offset: int | None = None,
        workflow_id: str | None = None,
        stream: str | None = None,
        agent: str | None = None,
        types: Iterable[str] | str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = 1000,
    ) -> Iterator[Recorded]:
        """Yield stored events in offset order, streaming one page at a time.

        Args:
            after: only offsets greater than this.
            limit: at most this many events.
            until_offset: only offsets up to and including this.
            workflow_id: only this workflow's events.
            stream: only this stream (``wf:…``, ``agent:…`` or ``ledger``).
            agent: only events whose ``agent`` is this.
            types: only these event types.
            since: only events that occurred at or after this time (naive = UTC).
            until: only events that occurred before this time (half-open window).
            page_size: rows fetched per round trip.
        """
        self._check_open()
        if workflow_id is not None:
            stream = f"wf:{workflow_id}"
        topic_tuple: tuple[str, ...] = (types,) if isinstance(types, str) else tuple(types or ())
        query = ReadQuery(
            after=after,
            stop=until_offset,
            stream=stream,
            agent=agent,
            topics=topic_tuple,
            since=as_utc(since) if since is not None else None,
            until=as_utc(until) if until is not None else None,
        )
        remaining = limit
        size = page_size if remaining is None else min(page_size, max(remaining, 1))
        for row in self.backend.iter_rows(query, page_size=size):
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            yield to_recorded(row)

    def read_rows(self, query: ReadQuery, page_size: int = 1000) -> Iterator[StoredRow]:
        """Yield raw stored rows (undecoded) for fast folds; see :meth:`read` for filters."""
        self._check_open()
        return self.backend.iter_rows(query, page_size=page_size)

    def scan(
        self, *, after: int = 0, until_offset: int | None = None, page_size: int = 5000
    ) -> Iterator[ScanRow]:
        """Yield lean rows (offset, type, occurred_at µs, bytes) in offset order, for fast folds.

        Raises:
            PrunedRangeError: events after ``after`` were pruned: a fold from there would
                silently lack them.
        """
        # Not a generator function: a pruned range raises here, at the call, not at first use.
        pages = self.scan_pages(after=after, until_offset=until_offset, page_size=page_size)
        return itertools.chain.from_iterable(pages)

    def scan_pages(
        self, *, after: int = 0, until_offset: int | None = None, page_size: int = 5000
    ) -> Iterator[list[ScanRow]]:
        """Like :meth:`scan`, a page (list) of rows at a time: folds take pages, and handing
        rows over one by one to re-collect them was a measurable share of a rebuild
        (``bench.rebuild``)."""
        self._check_open()
        pruned = self.backend.pruned_through()
        if after < pruned:
            raise PrunedRangeError(after, pruned)
        return self._scan_pages(after, until_offset, page_size)

    def _scan_pages(self, after: int, until_offset: int | None, page_size: int) -> Iterator[list[ScanRow]]:
        while True:
            page = self.backend.scan(after, until_offset, page_size)
            if page:
                yield page
            if len(page) < page_size:
                return
            after = page[-1][0]

    def read_stream(self, stream: str) -> list[StreamRow]:
        """Return one stream's lean rows (offset, version, recorded µs, bytes) in version order."""
        self._check_open()
        return self.backend.read_stream(stream)

    def stream(self, workflow_id: str) -> list[Recorded]:
        """Return every event of one workflow in order."""
        return list(self.read(workflow_id=workflow_id))

    def latest_offset(self) -> int:
        """Return the highest offset written (0 for an empty ledger)."""
        self._check_open()
        return self.backend.max_offset()

    def offset_at(self, when: datetime) -> int:
        """Return the last offset committed before ``when`` (0 if none): the ledger as of then."""
        self._check_open()
        first_after = self.backend.offset_at(as_utc(when))
        if first_after is None:
            return self.backend.max_offset()
        return first_after - 1

    def stream_version(self, stream: str) -> int:
        """Return the current version of a stream (0 when it has no events)."""
        self._check_open()
        return self.backend.stream_version(stream)

    def verify(self) -> chain_mod.VerifyReport:
        """Recompute the hash chain and check it against checkpoints and the head.

        After a prune it checks from the latest prune mark and reports what was pruned.
        """
        self._check_open()
        return chain_mod.verify(self.backend)

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
        """
        self._check_open()
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
    ) -> RetentionSweeper:
        """Remove events older than ``ttl`` automatically, sweeping after appends.

        Sweeps run at most once per ``every`` of the ledger's clock, first calling ``prepare``
        (e.g. to bring the stored projections up to date), then :meth:`prune` without force.
        """
        self.retention = RetentionSweeper(RetentionPolicy(ttl=ttl, every=every, prepare=prepare))
        return self.retention

    def _after_commit(self) -> None:
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

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerClosedError

    def close(self) -> None:
        """Flush pending async appends and release the backend."""
        if self._closed:
            return
        group = self._group
        if group is not None:
            group.stop()
        self._closed = True
        self.backend.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def to_recorded(row: StoredRow) -> Recorded:
    """Decode a stored row into a :class:`Recorded` event."""
    return Recorded(
        offset=row.offset,
        stream=row.stream,
        version=row.version,
        recorded_at=row.recorded_at,
        event=decode(row.state, row.topic),
    )
