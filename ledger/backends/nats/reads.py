"""Reads of a JetStream ledger: batched direct gets over sequence ranges, filtered by subject.

A range of offsets is one batched direct get (up to 1 000 messages a round trip); a stream
filter narrows it on the server to the stream's subjects, the other filters are applied here on
the decoded rows. The write path's look-ups (the tail, stream versions, stored ids) go to the
stream leader instead, whose answer is current; direct gets may be answered by any replica
(a reader on an R3 cluster may trail the leader by the replication delay, never skip).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from uuid import UUID

from nats.aio.client import Client

from ledger.backends.nats.jetstream import Loop, Message, api, direct_batch, leader_get
from ledger.backends.nats.layout import Names
from ledger.backends.packed_rows import row_chain, row_recorded_us, row_version, scan_fields, unpack_row
from ledger.backends.rows import GENESIS, BackendStats, ReadQuery, ScanRow, StoredRow, Tail
from ledger.errors import BackendError
from ledger.timeutil import from_epoch_us, to_epoch_us

PAGE = 1000
"""Messages asked for per batched direct get."""


class NatsReads:
    """The read side of :class:`~ledger.backends.nats.recorder.NatsLedgerRecorder`."""

    def __init__(self, loop: Loop, nc: Client, names: Names, url: str) -> None:
        self.loop = loop
        self.nc = nc
        self.names = names
        self.url = url
        self.timeout = loop.timeout
        """The deadline of one call, in seconds (the ledger's ``timeout``)."""

    # -- building blocks ---------------------------------------------------------------------

    async def _state(self) -> dict[str, Any]:
        info = await api(self.nc, f"STREAM.INFO.{self.names.stream}", None, self.timeout)
        state: dict[str, Any] = info["state"]
        return state

    async def _last(self, subjects: str) -> Message | None:
        return await leader_get(self.nc, self.names.stream, {"last_by_subj": subjects}, self.timeout)

    def _page(self, start: int, count: int, subjects: str) -> list[Message]:
        return self.loop.run(
            direct_batch(self.nc, self.names.stream, start, count, subjects, self.timeout), "read"
        )

    def version_floor(self, stream: str) -> int:
        """The version a stream had when pruning removed its last event (0: never)."""
        raise NotImplementedError  # the key-value side (NatsMeta) provides it

    def last_messages(self, streams: list[str], operation: str = "read") -> dict[str, Message]:
        """Each stream's last stored event (streams without one left out), from the leader.

        ``operation`` names the call a timeout reports (``append`` when a commit asks).
        """

        async def every() -> list[Message | None]:
            return await asyncio.gather(*(self._last(self.names.stream_subjects(s)) for s in streams))

        found = self.loop.run(every(), operation)
        return {s: m for s, m in zip(streams, found, strict=True) if m is not None}

    def current_versions(self, streams: list[str]) -> dict[str, int]:
        """Each stream's version (streams without events left out), from the leader."""
        versions = {s: row_version(m.data) for s, m in self.last_messages(streams, "append").items()}
        for stream in streams:
            if stream not in versions:
                floor = self.version_floor(stream)
                if floor:
                    versions[stream] = floor
        return versions

    def stored_ids(self, ids: dict[UUID, str | None]) -> dict[UUID, Message]:
        """The stored messages of event ids (each with its stream when known), from the leader."""

        async def one(event_id: UUID, stream: str | None) -> Message | None:
            subject = (
                self.names.subject(stream, event_id)
                if stream is not None
                else f"rledger.{self.names.ledger}.e.*.{event_id.hex}"
            )
            return await self._last(subject)

        async def every() -> list[Message | None]:
            return await asyncio.gather(*(one(e, s) for e, s in ids.items()))

        found = self.loop.run(every(), "append")
        return {e: m for e, m in zip(ids, found, strict=True) if m is not None}

    # -- the backend interface ---------------------------------------------------------------

    def max_offset(self) -> int:
        """Return the stream's last sequence (the highest offset ever written, also after pruning)."""
        return int(self.loop.run(self._state(), "read")["last_seq"])

    def mark_tail(self, offset: int) -> Tail | None:
        """The tail recorded by the prune mark at ``offset`` (when pruning removed the last event)."""
        raise NotImplementedError  # the key-value side (NatsMeta) provides it

    def _tail(self, operation: str) -> tuple[int, Tail | None]:
        """(the stream's last sequence, the tail its last stored message gives, if it is that one)."""

        async def both() -> tuple[int, Message | None]:
            # The last message first, then the last sequence: a commit in between shows as a
            # newer sequence than the message read, so read again (a purged tail stays older).
            for _ in range(5):
                last = await self._last(self.names.events)
                offset = int((await self._state())["last_seq"])
                if last is None or last.seq >= offset:
                    break
            return offset, last

        offset, last = self.loop.run(both(), operation)
        if offset == 0:
            return 0, Tail(0, GENESIS, None)
        if last is not None and last.seq == offset:
            return offset, Tail(last.seq, row_chain(last.data), from_epoch_us(row_recorded_us(last.data)))
        return offset, self.mark_tail(offset)  # pruned through the end: the mark has it

    def current_tail(self) -> Tail:
        """The last offset, its chain value and commit time, from the leader (or the genesis)."""
        offset, tail = self._tail("append")
        if tail is None:
            raise BackendError(
                f"offset {offset} of {self.url} is gone and no prune mark records it: the stream was "
                "purged behind the ledger's back (`rledger verify` reports it)"
            )
        return tail

    def head(self) -> Tail | None:
        """Return the chain's head: the stream's last sequence (``None`` if never written).

        A purge cannot lower a stream's last sequence, so a tail removed behind the ledger's back
        still shows as written: the head then has no chain value, and ``verify`` reports the cut.
        """
        offset, tail = self._tail("read")
        if offset == 0:
            return None
        return tail if tail is not None else Tail(offset, b"", None)

    def _bounds(self, after: int, through: int | None) -> tuple[int, int]:
        state = self.loop.run(self._state(), "read")
        first = max(after + 1, int(state["first_seq"]))
        last = int(state["last_seq"])
        return first, last if through is None else min(through, last)

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        subjects = self.names.events if query.stream is None else self.names.stream_subjects(query.stream)
        start, last = self._bounds(query.after, query.through)
        out: list[StoredRow] = []
        while len(out) < limit and start <= last:
            page = self._page(start, min(PAGE, last - start + 1), subjects)
            if not page:
                break
            for msg in page:
                if msg.seq > last:
                    return out
                row = unpack_row(msg.seq, msg.data)
                if query.matches(row):
                    out.append(row)
                    if len(out) >= limit:
                        break
            start = page[-1].seq + 1
        return out

    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order, nothing decoded but the type and time."""
        start, last = self._bounds(after, through)
        out: list[ScanRow] = []
        while len(out) < limit and start <= last:
            page = self._page(start, min(PAGE, limit - len(out), last - start + 1), self.names.events)
            if not page:
                break
            for msg in page:
                if msg.seq > last:
                    return out
                topic, occurred_us, state = scan_fields(msg.data)
                out.append((msg.seq, topic, occurred_us, state))
            start = page[-1].seq + 1
        return out

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset committed at or after ``when`` (a binary search: times never go back)."""
        when_us = to_epoch_us(when)
        lo, hi = self._bounds(0, None)
        if hi < lo:
            return None

        def recorded(seq: int) -> tuple[int, int]:
            page = self._page(seq, 1, self.names.events)
            return (page[0].seq, row_recorded_us(page[0].data)) if page else (hi + 1, when_us)

        if recorded(hi)[1] < when_us:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            seq, at = recorded(mid)
            if at >= when_us:
                hi = min(mid, seq)
            else:
                lo = seq + 1
        return lo

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it has none); it outlives pruned events."""
        return self.current_versions([stream]).get(stream, 0)

    def stats(self) -> BackendStats:
        """Return whole-ledger counts (one pass over the stored events)."""
        stats = BackendStats()
        streams: set[str] = set()
        after = 0
        while page := self.select(ReadQuery(after=after), PAGE):
            after = page[-1].offset
            for row in page:
                self._count(stats, streams, row)
        stats.streams = len(streams)
        stats.size_bytes = int(self.loop.run(self._state(), "read").get("bytes", 0))
        return stats

    @staticmethod
    def _count(stats: BackendStats, streams: set[str], row: StoredRow) -> None:
        stats.events += 1
        streams.add(row.stream)
        stats.by_type[row.type] = stats.by_type.get(row.type, 0) + 1
        if stats.first_recorded_at is None:
            stats.first_recorded_at = row.recorded_at
        stats.last_recorded_at = row.recorded_at
