"""Retention on Redis: record the cut atomically against projection saves, then delete below it.

The prune mark is written in one ``WATCH``/``MULTI`` step that re-plans if a projection saved its
position meanwhile, so the cut never passes a stored projection. The rows below the cut are then
deleted in chunks (one long script would block every other client); readers skip what is
already swept, ``verify`` starts at the mark, and an interrupted deletion is finished by the next
prune.
"""

from __future__ import annotations

from datetime import datetime

import redis

from ledger.backends.packed_rows import row_chain, unpack_row
from ledger.backends.pruning import PruneMark, PruneResult, plan_prune
from ledger.backends.redis.layout import Keys, as_bytes, as_int, pack_mark, parse_commit_member, unpack_mark
from ledger.backends.redis.reads import RedisReads
from ledger.errors import BackendError

SWEEP_CHUNK = 2000
"""Pruned rows deleted per atomic step."""

SET_SWEPT = """
local swept = tonumber(redis.call('HGET', KEYS[1], 'swept') or '0')
if tonumber(ARGV[1]) > swept then redis.call('HSET', KEYS[1], 'swept', ARGV[1]) end
return 1
"""


class RedisPruning(RedisReads):
    """The retention side of :class:`~ledger.backends.redis.recorder.RedisLedgerRecorder`."""

    def __init__(self, client: redis.Redis, keys: Keys, url: str) -> None:
        super().__init__(client, keys, url)
        # Sweeps may run in several processes at once: the swept mark only moves forwards.
        self._set_swept = client.register_script(SET_SWEPT)

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Record the cut atomically against projection saves, then delete below it in chunks.

        Readers never see a half-pruned ledger as broken: the chain is verified from the mark,
        and an interrupted sweep is finished by the next prune.
        """
        first_after = self.offset_at(before)
        wanted = self.max_offset() if first_after is None else first_after - 1
        with self.client.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # A projection saved meanwhile, or another prune, re-runs the plan.
                    pipe.watch(self.keys.tracking, self.keys.meta)  # type: ignore[no-untyped-call]
                    incarnation, floor_raw = pipe.hmget(self.keys.meta, ["incarnation", "pruned_through"])
                    self.check_incarnation(incarnation)
                    floor = as_int(floor_raw)
                    wanted = max(wanted, floor)
                    positions = {
                        as_bytes(n).decode(): as_int(p) for n, p in pipe.hgetall(self.keys.tracking).items()
                    }
                    through, held_back = plan_prune(wanted, floor, positions, force=force)
                    if through <= floor:
                        pipe.unwatch()
                        result = PruneResult(0, floor, wanted, held_back)
                        break
                    data = pipe.hget(self.keys.rows, through)
                    if data is None:
                        raise BackendError(f"cannot prune through offset {through}: its row is missing")
                    pipe.multi()
                    chain = row_chain(as_bytes(data))
                    pipe.hset(self.keys.marks, through, pack_mark(chain, pruned_at, through - floor))
                    pipe.hset(self.keys.meta, "pruned_through", through)
                    pipe.execute()
                    result = PruneResult(through - floor, through, wanted, held_back)
                    break
                except redis.WatchError:
                    continue
        self.sweep()
        return result

    def sweep(self) -> int:
        """Delete rows at or below the latest prune mark that are still stored; return the count."""
        swept_raw, through_raw = self.client.hmget(self.keys.meta, ["swept", "pruned_through"])
        swept, through = as_int(swept_raw), as_int(through_raw)
        deleted = 0
        while swept < through:
            hi = min(swept + SWEEP_CHUNK, through)
            offsets = list(range(swept + 1, hi + 1))
            present = [
                (o, d) for o, d in zip(offsets, self.client.hmget(self.keys.rows, offsets), strict=True) if d
            ]
            rows = [unpack_row(o, as_bytes(d)) for o, d in present]
            index_keys = {self.keys.stream(r.stream) for r in rows} | {self.keys.topic(r.type) for r in rows}
            index_keys |= {self.keys.agent(r.agent) for r in rows if r.agent is not None}
            pipe = self.client.pipeline(transaction=True)
            if rows:
                pipe.hdel(self.keys.rows, *[r.offset for r in rows])
                pipe.hdel(self.keys.ids, *[r.event_id.bytes for r in rows])
            for key in index_keys:
                pipe.zremrangebyscore(key, "-inf", hi)
            self._set_swept(keys=[self.keys.meta], args=[hi], client=pipe)
            pipe.execute()
            deleted += len(rows)
            swept = hi
        self._trim_commits(through)
        return deleted

    def _trim_commits(self, through: int) -> None:
        # A commit entry may go once the next one starts at or below the cut's successor: then
        # every event of its commit was pruned. Entries sort by time, hence by offset.
        while True:
            members = [as_bytes(m) for m in self.client.zrange(self.keys.commits, 0, 99)]
            starts = [parse_commit_member(m)[0] for m in members]
            gone = [m for m, nxt in zip(members, starts[1:], strict=False) if nxt <= through + 1]
            if gone:
                self.client.zrem(self.keys.commits, *gone)
            if len(gone) < len(members) - 1 or not gone:
                return

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        marks = []
        for offset, data in self.client.hgetall(self.keys.marks).items():
            chain, when, events = unpack_mark(as_bytes(data))
            marks.append(PruneMark(as_int(offset), chain, when, events))
        return sorted(marks, key=lambda m: m.offset)

    def pruned_through(self) -> int:
        """Return the latest cut (one small read: folds check it before every scan)."""
        return as_int(self.client.hget(self.keys.meta, "pruned_through"))
