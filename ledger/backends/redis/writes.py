"""Writes to a Redis ledger: reads now, every write at the end in one checked server-side script."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.backends.packed_rows import pack_row, unpack_row
from ledger.backends.redis.layout import as_bytes, as_int, commit_member, pack_chain_at
from ledger.backends.rows import GENESIS, Checkpoint, StoredId, StoredRow, Tail
from ledger.backends.transaction import CommitConflictError, DuplicateKeyError, WriteTransaction
from ledger.errors import BackendError
from ledger.timeutil import from_epoch_us, to_epoch_us

if TYPE_CHECKING:
    from ledger.backends.redis.recorder import RedisLedgerRecorder


class RedisWrite(WriteTransaction):
    """Reads go straight to Redis; the writes wait for :meth:`commit`, which checks and applies them."""

    def __init__(self, backend: RedisLedgerRecorder) -> None:
        self.backend = backend
        self.expected_head = 0
        self.rows: list[StoredRow] = []
        self.head: Tail | None = None
        self.checkpoints: list[Checkpoint] = []

    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        offsets = self.backend.client.hmget(self.backend.keys.ids, [e.bytes for e in event_ids])
        known = [(e, as_int(o)) for e, o in zip(event_ids, offsets, strict=True) if o is not None]
        if not known:
            return {}
        states = self.backend.client.hmget(self.backend.keys.rows, [o for _, o in known])
        return {
            e: StoredId(o, unpack_row(o, as_bytes(data)).state)
            for (e, o), data in zip(known, states, strict=True)
            if data is not None
        }

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        values = self.backend.client.hmget(self.backend.keys.versions, streams)
        return {s: as_int(v) for s, v in zip(streams, values, strict=True) if v is not None}

    def tail(self) -> Tail:
        offset, chain, recorded = self.backend.client.hmget(
            self.backend.keys.head, ["offset", "chain", "recorded_us"]
        )
        if offset is None:
            return Tail(0, GENESIS, None)
        self.expected_head = as_int(offset)
        return Tail(self.expected_head, as_bytes(chain), from_epoch_us(as_int(recorded)))

    def insert(self, rows: list[StoredRow]) -> None:
        # Checked on the server at commit (it raises DuplicateKeyError there).
        self.rows = rows

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        self.head = tail
        self.checkpoints = checkpoints

    def commit(self) -> None:
        if not self.rows or self.head is None or self.head.recorded_at is None:
            return  # nothing new (every event was already stored)
        recorded_us = to_epoch_us(self.head.recorded_at)
        args: list[Any] = [
            self.backend.keys.base,
            self.backend.incarnation,
            self.expected_head,
            self.head.offset,
            self.head.chain,
            recorded_us,
            commit_member(self.rows[0].offset, recorded_us),
            len(self.checkpoints),
        ]
        for cp in self.checkpoints:
            args += [cp.offset, pack_chain_at(cp.chain, cp.recorded_at)]
        # The script places row i at expected_head + 1 + i: the store assigns them that way.
        assert self.rows[0].offset == self.expected_head + 1
        assert self.rows[-1].offset == self.expected_head + len(self.rows)
        args += [pack_row(r) for r in self.rows]
        answer = self.backend.commit_script(args=args)
        verdict = answer[0]
        if verdict == b"ok":
            return
        if verdict == b"moved":
            raise CommitConflictError(f"the head moved to {int(answer[1])} (another writer committed)")
        if verdict == b"duplicate":
            raise DuplicateKeyError(f"an event id of the batch is already stored at offset {int(answer[1])}")
        if verdict == b"lost":
            self.backend.check_incarnation(answer[1] if len(answer) > 1 else None)
        # The head did not move, yet a stream is not where the rows continue from: the store
        # disagrees with itself (edited behind the ledger's back); retrying would not help.
        raise BackendError(
            f"stream '{answer[1].decode()}' is at version {int(answer[2])} in {self.backend.url} although "
            "the head did not move: the stored versions were changed outside the ledger"
        )
