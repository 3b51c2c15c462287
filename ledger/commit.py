"""The commit algorithm: number, link and write batches of validated events in one transaction.

:class:`Committer` is the one writer of a ledger: inside one backend write transaction it
assigns each new event the next global offset (gapless, in commit order), the next version in
its stream, the commit time and its hash-chain link, and writes the rows and the new head, so a
transaction's batches are written whole or not at all. An event whose id is already stored is
not written again: its original offset is returned. On an optimistic backend (Redis) a
transaction that another writer beat to the commit is run again with fresh reads.

Callers hand it :class:`~ledger.batch.PreparedBatch` es (:func:`~ledger.batch.prepare` validates
and encodes them): the ledger one at a time, the group-commit writer (:mod:`ledger.groupcommit`)
several at once.
"""

from __future__ import annotations

import functools
import itertools
import operator
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from ledger import chain as chain_mod
from ledger import deadline
from ledger.backends.base import LedgerBackend
from ledger.backends.rows import StoredId, StoredRow, Tail
from ledger.backends.transaction import CommitConflictError, DuplicateKeyError, WriteTransaction
from ledger.batch import AppendResult, PreparedBatch
from ledger.codec import payload_digest
from ledger.errors import (
    BackendError,
    BackendTimeoutError,
    DuplicateEventError,
    LedgerClosedError,
    VersionConflictError,
)
from ledger.event_base import LedgerEvent
from ledger.timeutil import as_utc

Clock = Callable[[], datetime]

MAX_COMMIT_ATTEMPTS = 1000
"""How often a transaction is re-run when other writers keep committing first (optimistic backends)."""


_new_row = functools.partial(tuple.__new__, StoredRow)
_type_of = operator.attrgetter("type")
_id_of = operator.attrgetter("event_id")
_agent_of = operator.attrgetter("agent")
_occurred_at_of = operator.attrgetter("occurred_at")
_id_int_of = operator.attrgetter("event_id.int")


@dataclass
class _Numbered:
    """The new events of a transaction's batches, flat and in offset order, with their versions."""

    events: list[LedgerEvent]
    states: list[bytes]
    streams: list[str]
    versions: list[int]
    results: list[AppendResult]
    last_offset: int


class Committer:
    """Commits prepared batches to one backend, one transaction at a time (thread-safe).

    Args:
        backend: where the rows go.
        clock: returns an aware UTC datetime; used for commit times.

    Attributes:
        commit_conflicts: transactions re-run because another writer committed first
            (optimistic backends).
    """

    MAX_CACHED_STREAMS = 100_000

    def __init__(self, backend: LedgerBackend, clock: Clock) -> None:
        self.backend = backend
        self.clock = clock
        self.commit_conflicts = 0
        self._lock = threading.Lock()
        self._closed = False
        # Stream versions as of this committer's own last commit, valid while the store's tail
        # is still that commit's (nobody else wrote since): a batch then needs no version
        # look-up for the streams it has seen (a query per batch on SQLite, a round trip
        # on PostgreSQL). Guarded by _lock.
        self._versions: dict[str, int] = {}
        self._versions_tail: tuple[int, bytes] | None = None

    def close(self) -> None:
        """Refuse every later commit (with :class:`~ledger.errors.LedgerClosedError`)."""
        self._closed = True

    def commit(self, batches: Sequence[PreparedBatch], *, until: float | None = None) -> list[AppendResult]:
        """Write several prepared batches in one transaction; all succeed or none is written.

        Idempotency is optimistic: the first attempt does not look the event ids up, and the
        unique index on ``event_id`` refuses a stored one. Only then (a retry, rare) does a
        second attempt look them up, to return their original offsets — or to tell an
        expected-version conflict caused by already-stored events from a real one. On an
        optimistic backend another writer may store one of the ids between that look-up and
        the commit (concurrent retries of one batch): the commit is then run again.

        Args:
            batches: the batches, in order.
            until: the monotonic time by which the commit must be done (a group commit's
                earliest caller); by default the backend's deadline from now.

        Raises:
            VersionConflictError: a stream is not at a batch's expected version.
            DuplicateEventError: an event id is stored with a different payload.
            BackendTimeoutError: the deadline ran out (nothing of the batches was written,
                or — a lost reply — they were, and a retry with the same ids returns them).
            LedgerClosedError: the committer was closed.
        """
        timeout = self.backend.timeout
        when = time.monotonic() + timeout if until is None else until
        if not self._lock.acquire(timeout=max(0.0, when - time.monotonic())):
            raise BackendTimeoutError(
                self.backend.url, "append", timeout, "waited for this ledger's other appends"
            )
        try:
            if self._closed:
                raise LedgerClosedError
            with deadline.until(when, "append"):
                return self._attempts(batches, when, timeout)
        finally:
            self._lock.release()

    def _attempts(self, batches: Sequence[PreparedBatch], when: float, timeout: float) -> list[AppendResult]:
        look_up = False
        for attempt in range(MAX_COMMIT_ATTEMPTS):
            if attempt and time.monotonic() >= when:
                raise BackendTimeoutError(
                    self.backend.url, "append", timeout, "other writers kept committing first"
                )
            try:
                return self._commit_once(batches, look_up=look_up)
            except VersionConflictError:
                if look_up:
                    raise
                look_up = True
            except DuplicateKeyError:
                if look_up:
                    # Another writer stored one of these ids since the look-up (optimistic
                    # backends): look again; those events now return their offsets.
                    self.commit_conflicts += 1
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

    def _commit_once(self, batches: Sequence[PreparedBatch], *, look_up: bool) -> list[AppendResult]:
        with self.backend.write() as tx:
            # The tail first: on an optimistic backend a writer that stores one of these ids
            # after the look-up then moves the head past this tail, and the commit is re-run.
            tail = tx.tail()
            existing = tx.existing(list({e.event_id for b in batches for e in b.events})) if look_up else {}
            # Streams named in expected_version may have no event in the batch: look them up too.
            named = sorted(
                {s for b in batches for s in b.streams}
                | {s for b in batches if isinstance(b.expected, Mapping) for s in b.expected}
            )
            versions = self._stream_versions(tx, tail, named)
            now = as_utc(self.clock())
            recorded_at = now if tail.recorded_at is None or now > tail.recorded_at else tail.recorded_at
            numbered = _number(batches, existing, versions, tail.offset)
            chain = _write(tx, tail, numbered, recorded_at) if numbered.events else tail.chain
        # Committed: the versions now match the store's tail (and only now — a transaction
        # that failed above left the cache as it was, or emptied).
        self._versions_tail = (numbered.last_offset, chain)
        return numbered.results

    def _stream_versions(self, tx: WriteTransaction, tail: Tail, streams: list[str]) -> dict[str, int]:
        """Current versions of ``streams`` (absent: 0), from the cache where it is valid."""
        cache = self._versions
        if self._versions_tail != (tail.offset, tail.chain) or len(cache) > self.MAX_CACHED_STREAMS:
            # Another writer committed since this committer last did (or the cache is full).
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


def _number(
    batches: Sequence[PreparedBatch], existing: Mapping[UUID, StoredId], versions: dict[str, int], offset: int
) -> _Numbered:
    """Give each new event its offset (after ``offset``) and version; duplicates get their own.

    ``versions`` holds each stream's current version and is advanced in place.
    """
    out = _Numbered([], [], [], [], [], offset)
    events, states, streams, new_versions, results = (
        out.events,
        out.states,
        out.streams,
        out.versions,
        out.results,
    )
    # Without stored ids to look up, a commit whose event ids are all distinct (the common
    # case, checked in one set build) has no duplicate to look for event by event.
    keys = [k for b in batches for k in map(_id_int_of, b.events)]
    plain = not existing and len(set(keys)) == len(keys)
    # Keyed by the id's int: a UUID hashes in Python code, an int in C.
    seen: dict[int, tuple[int, bytes]] = {}
    for batch in batches:
        _check_expected(batch, existing, seen, versions)
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
    out.last_offset = offset
    return out


def _write(tx: WriteTransaction, tail: Tail, new: _Numbered, recorded_at: datetime) -> bytes:
    """Chain the numbered events after ``tail``, insert their rows and the new head; return the chain."""
    first = tail.offset + 1
    last = new.last_offset
    chains = chain_mod.link_run(tail.chain, first, new.streams, new.versions, new.states)
    # Built column-wise in C (tuple.__new__ over zipped columns): a named tuple's own
    # constructor is Python code, run once per event.
    rows: list[StoredRow] = list(
        map(
            _new_row,
            zip(
                range(first, last + 1),
                new.streams,
                new.versions,
                map(_type_of, new.events),
                map(_id_of, new.events),
                map(_agent_of, new.events),
                map(_occurred_at_of, new.events),
                itertools.repeat(recorded_at),
                new.states,
                chains,
                strict=False,
            ),
        )
    )
    tx.insert(rows)
    new_tail = Tail(last, chains[-1], recorded_at)
    tx.save_head(
        new_tail, chain_mod.checkpoints_crossed(tail.offset, last, lambda o: chains[o - first], new_tail)
    )
    return chains[-1]


def _check_expected(
    batch: PreparedBatch,
    existing: Mapping[UUID, object],
    seen: Mapping[int, object],
    versions: Mapping[str, int],
) -> None:
    """Raise :class:`VersionConflictError` when a stream is not at the batch's expected version."""
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
