"""Reads of a Redis ledger: offset ranges from the rows hash, filters through the offset indexes.

Rows live in one hash keyed by offset, so a range of offsets is one ``HMGET``. A stream, agent or
type filter walks that key's offset index (a sorted set) instead; the remaining filters, and
every time filter, are applied in Python on the fetched rows (there is no time index: event
times may lie centuries apart, beyond what a sorted-set score holds exactly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import redis

from ledger.backends.packed_rows import scan_fields, unpack_row, verify_fields
from ledger.backends.redis import checks
from ledger.backends.redis.layout import Keys, as_bytes, as_int, parse_commit_member, unpack_chain_at
from ledger.backends.rows import BackendStats, Checkpoint, ReadQuery, ScanRow, StoredRow, Tail, VerifyRow
from ledger.errors import LedgerLostError
from ledger.timeutil import from_epoch_us, to_epoch_us

_CHUNK = 1000
"""Offsets fetched per round trip while filtering."""


class RedisReads:
    """The read side of :class:`~ledger.backends.redis.recorder.RedisLedgerRecorder`."""

    incarnation: bytes
    """The token of the ledger this handle opened (see :meth:`check_incarnation`)."""

    def __init__(self, client: redis.Redis, keys: Keys, url: str) -> None:
        self.client = client
        self.keys = keys
        self.url = url

    def check_incarnation(self, seen: object) -> None:
        """Raise :class:`LedgerLostError` unless ``seen`` is this handle's incarnation."""
        if seen != self.incarnation:
            raise LedgerLostError(
                self.url,
                "the ledger's keys are gone (Redis restarted without persistence, was flushed, or "
                "evicted them)"
                if seen is None
                else "another ledger was created under the same name since this handle opened",
            )

    def max_offset(self) -> int:
        """Return the head offset (the highest ever written, also after pruning)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.meta, "incarnation")
        pipe.hget(self.keys.head, "offset")
        incarnation, offset = pipe.execute()
        self.check_incarnation(incarnation)
        return as_int(offset)

    def _first_and_last(self, through: int | None) -> tuple[int, int]:
        """Return (offsets up to here are swept away, the last offset to read)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(self.keys.meta, "swept")
        pipe.hget(self.keys.head, "offset")
        swept, head = pipe.execute()
        last = as_int(head)
        return as_int(swept), last if through is None else min(through, last)

    def _index_offsets(self, keys: list[str], after: int, through: int | None, count: int) -> list[int]:
        """Return the first ``count`` offsets after ``after`` in the union of sorted-set indexes."""
        high = "+inf" if through is None else through
        pipe = self.client.pipeline(transaction=False)
        for key in keys:
            pipe.zrangebyscore(key, f"({after}", high, start=0, num=count)
        merged = {int(m) for found in pipe.execute() for m in found}
        return sorted(merged)[:count]

    def select(self, query: ReadQuery, limit: int) -> list[StoredRow]:
        """Return up to ``limit`` rows matching ``query`` in offset order."""
        if query.stream is not None:
            index: list[str] | None = [self.keys.stream(query.stream)]
        elif query.agent is not None:
            index = [self.keys.agent(query.agent)]
        elif query.types:
            index = [self.keys.topic(t) for t in query.types]
        else:
            index = None
        out: list[StoredRow] = []
        after = query.after
        last = 0
        if index is None:
            swept, last = self._first_and_last(query.through)
            after = max(after, swept)
        chunk = min(max(limit, 16), _CHUNK)
        while len(out) < limit:
            if index is None:
                offsets = list(range(after + 1, min(after + chunk, last) + 1))
            else:
                offsets = self._index_offsets(index, after, query.through, chunk)
            if not offsets:
                break
            for offset, data in zip(offsets, self.client.hmget(self.keys.rows, offsets), strict=True):
                if data is None:
                    continue  # pruned under us, or deleted behind the ledger's back
                row = unpack_row(offset, as_bytes(data))
                if query.matches(row):
                    out.append(row)
                    if len(out) >= limit:
                        break
            after = offsets[-1]
        return out

    def scan(self, after: int, through: int | None, limit: int) -> list[ScanRow]:
        """Return lean rows in offset order: ``HMGET`` over the offset range, nothing decoded."""
        swept, last = self._first_and_last(through)
        after = max(after, swept)
        out: list[ScanRow] = []
        while len(out) < limit and after < last:
            offsets = list(range(after + 1, min(after + limit - len(out), last) + 1))
            for offset, data in zip(offsets, self.client.hmget(self.keys.rows, offsets), strict=True):
                if data is not None:
                    topic, occurred_us, state = scan_fields(as_bytes(data))
                    out.append((offset, topic, occurred_us, state))
            after = offsets[-1]
        return out

    def verify_scan(self, after: int, limit: int) -> list[VerifyRow]:
        """Return every column raw (``HMGET`` over the offset range; nothing decoded)."""
        swept, last = self._first_and_last(None)
        after = max(after, swept)
        out: list[VerifyRow] = []
        while len(out) < limit and after < last:
            offsets = list(range(after + 1, min(after + limit - len(out), last) + 1))
            for offset, data in zip(offsets, self.client.hmget(self.keys.rows, offsets), strict=True):
                if data is not None:
                    out.append(verify_fields(offset, as_bytes(data)))
            after = offsets[-1]
        return out

    def index_problems(self, rows: Sequence[VerifyRow]) -> list[tuple[int, str]]:
        """The id, stream, agent and type indexes checked against one page of rows."""
        return checks.index_problems(self.client, self.keys, rows)

    def stream_version_problems(self, last: Mapping[str, tuple[int, int]]) -> list[tuple[int, str]]:
        """Each stream's stored version checked against its last row's."""
        return checks.version_problems(self.client, self.keys, last)

    def offset_at(self, when: datetime) -> int | None:
        """Return the first offset committed at or after ``when`` (from the commits index)."""
        when_us = to_epoch_us(when)
        # Scores are doubles, exact to 2**53 µs (year 2255); rounding is monotone, so every
        # commit at or after ``when`` scores at least float(when); exact times are in the member.
        start = 0
        while True:
            page = self.client.zrangebyscore(
                self.keys.commits, repr(float(when_us)), "+inf", start=start, num=64
            )
            if not page:
                return None
            for member in page:
                first, recorded_us = parse_commit_member(as_bytes(member))
                if recorded_us >= when_us:
                    # The commit may straddle a prune cut: its first remaining event counts.
                    return max(first, as_int(self.client.hget(self.keys.meta, "pruned_through")) + 1)
            start += len(page)

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when empty); it outlives pruned events."""
        return as_int(self.client.hget(self.keys.versions, stream))

    def head(self) -> Tail | None:
        """Return the recorded head of the chain."""
        offset, chain, recorded = self.client.hmget(self.keys.head, ["offset", "chain", "recorded_us"])
        if offset is None:
            return None
        return Tail(as_int(offset), as_bytes(chain), from_epoch_us(as_int(recorded)))

    def checkpoints(self) -> list[Checkpoint]:
        """Return every checkpoint in offset order."""
        found = []
        for offset, data in self.client.hgetall(self.keys.checkpoints).items():
            chain, when = unpack_chain_at(as_bytes(data))
            found.append(Checkpoint(int(offset), chain, when))
        return sorted(found, key=lambda c: c.offset)

    def stats(self) -> BackendStats:
        """Return whole-ledger counts (one ``ZCARD`` per stream and per type)."""
        streams = [as_bytes(s).decode() for s in self.client.hkeys(self.keys.versions)]
        topics = [as_bytes(t).decode() for t in self.client.smembers(self.keys.topics)]
        pipe = self.client.pipeline(transaction=False)
        pipe.hlen(self.keys.rows)
        for name in streams:
            pipe.zcard(self.keys.stream(name))
        for name in topics:
            pipe.zcard(self.keys.topic(name))
        counts = pipe.execute()
        events = int(counts[0])
        stream_counts, topic_counts = counts[1 : 1 + len(streams)], counts[1 + len(streams) :]
        stats = BackendStats(
            events=events,
            streams=sum(1 for c in stream_counts if c),
            by_type={t: int(c) for t, c in zip(topics, topic_counts, strict=True) if c},
        )
        if events:
            swept, _ = self._first_and_last(None)
            first = self.select(ReadQuery(after=swept), 1)
            head = self.head()
            stats.first_recorded_at = first[0].recorded_at if first else None
            stats.last_recorded_at = head.recorded_at if head is not None else None
        return stats
