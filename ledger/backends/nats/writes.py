"""Writes to a JetStream ledger: reads from the stream leader, then one conditional atomic batch.

The transaction reads the tail (the last message), stream versions and, on a retry, stored ids;
the commit sends every row as one atomic batch whose first message expects the stream's last
sequence to be that tail (``Nats-Expected-Last-Sequence``) and whose every message expects its
event-id subject to be empty (``Nats-Expected-Last-Subject-Sequence: 0``). The server checks
both under its lock at commit and stores all or none, so offsets are gap-free and in commit
order across any number of writers, chain links follow the stored tail, and no event id is
stored twice. A refused batch is told apart afterwards: the tail moved (another writer won: the
ledger runs the transaction again) or an event id is stored (looked up by its subject: the
ledger then returns its original offset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from ledger.backends.nats.jetstream import MAX_BATCH, WRONG_LAST_SEQUENCE, JetStreamError, publish_batch
from ledger.backends.packed_rows import pack_row, unpack_row
from ledger.backends.rows import Checkpoint, StoredId, StoredRow, Tail
from ledger.backends.transaction import CommitConflictError, DuplicateKeyError, WriteTransaction
from ledger.errors import BackendError, BackendUnavailableError

if TYPE_CHECKING:
    from ledger.backends.nats.recorder import NatsLedgerRecorder


class NatsWrite(WriteTransaction):
    """Reads go to the stream leader; the rows wait for :meth:`commit`, one atomic batch."""

    def __init__(self, backend: NatsLedgerRecorder) -> None:
        self.backend = backend
        self.expected_tail = 0
        self.rows: list[StoredRow] = []
        self.checkpoints: list[Checkpoint] = []

    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        # The streams of the ids are known from the attempt that was refused: exact subjects.
        known = self.backend.recent_streams
        found = self.backend.stored_ids({e: known.get(e) for e in event_ids})
        return {e: StoredId(m.seq, unpack_row(m.seq, m.data).state) for e, m in found.items()}

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        return self.backend.current_versions(streams)

    def tail(self) -> Tail:
        remembered = self.backend.committed_tail
        tail = remembered if remembered is not None else self.backend.current_tail()
        self.expected_tail = tail.offset
        return tail

    def insert(self, rows: list[StoredRow]) -> None:
        # Checked on the server at commit (a stored id refuses the whole batch there).
        if len(rows) > MAX_BATCH:
            raise BackendError(
                f"a transaction of {len(rows)} new events is more than the {MAX_BATCH} that JetStream "
                f"commits atomically in one batch; nothing was written: append at most {MAX_BATCH} at once"
            )
        self.rows = rows
        self.backend.recent_streams = {r.event_id: r.stream for r in rows}

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        # The head is the last message itself; checkpoints are recorded once the batch is stored.
        self.checkpoints = checkpoints

    def commit(self) -> None:
        """Publish the rows as one conditional atomic batch (nothing to do when all were stored)."""
        if not self.rows:
            return
        names = self.backend.names
        assert self.rows[0].offset == self.expected_tail + 1
        messages = [
            (names.subject(r.stream, r.event_id), {"Nats-Expected-Last-Subject-Sequence": "0"}, pack_row(r))
            for r in self.rows
        ]
        messages[0][1]["Nats-Expected-Last-Sequence"] = str(self.expected_tail)
        loop = self.backend.loop
        # Until this batch is known stored, the next transaction reads the tail from the server.
        self.backend.committed_tail = None
        try:
            ack = loop.run(publish_batch(self.backend.nc, messages, loop.timeout), "append")
        except JetStreamError as exc:
            if exc.err_code in WRONG_LAST_SEQUENCE:
                # Told apart by the ids, not the head: a head read during a leader change may
                # lag, the ids' subjects are what the server refused on.
                stored = self.backend.stored_ids({r.event_id: r.stream for r in self.rows})
                if stored:
                    raise DuplicateKeyError(
                        f"{len(stored)} event id(s) of the batch are stored ({exc})"
                    ) from exc
                raise CommitConflictError(f"the stream moved past {self.expected_tail} ({exc})") from exc
            if exc.code == 503:
                raise BackendUnavailableError(self.backend.url, f"append: {exc}") from exc
            raise BackendError(f"JetStream refused the batch on {self.backend.url}: {exc}") from exc
        if int(ack.get("seq", 0)) != self.rows[-1].offset:
            raise BackendError(
                f"JetStream stored the batch ending at sequence {ack.get('seq')}, not at offset "
                f"{self.rows[-1].offset}: the stream {names.stream} is written by something else"
            )
        last = self.rows[-1]
        self.backend.committed_tail = Tail(last.offset, last.chain, last.recorded_at)
        if self.checkpoints:
            self.backend.add_checkpoints(self.checkpoints)
