"""Retention on JetStream: record the prune mark, keep the versions of emptied streams, purge.

JetStream removes a prefix of a stream with a purge up to a sequence (the stream denies
deleting single messages, so nothing else can remove one). Before purging, the backend records
the prune mark (the offset, the chain value there and its commit time: the chain and the tail
go on from it) and, for each ledger stream whose last event goes, its version (so versions
carry on). An interrupted prune is finished by the next one: the mark is the cut.
"""

from __future__ import annotations

from datetime import datetime

from ledger.backends.nats.jetstream import api
from ledger.backends.nats.meta import NatsMeta
from ledger.backends.packed_rows import row_version
from ledger.backends.pruning import PruneResult, plan_prune
from ledger.backends.rows import ReadQuery, StoredRow
from ledger.errors import BackendError
from ledger.timeutil import to_epoch_us


class NatsPruning(NatsMeta):
    """The retention side of :class:`~ledger.backends.nats.recorder.NatsLedgerRecorder`."""

    def prune(self, before: datetime, *, force: bool, pruned_at: datetime) -> PruneResult:
        """Remove the events recorded before ``before`` (never past a stored projection unless forced)."""
        first_after = self.offset_at(before)
        wanted = self.max_offset() if first_after is None else first_after - 1
        marks = self.mark_records()
        floor = marks[-1][0] if marks else 0
        wanted = max(wanted, floor)
        through, held_back = plan_prune(wanted, floor, self.view_positions(), force=force)
        if through <= floor:
            self._purge(floor)  # finish an interrupted prune
            return PruneResult(0, floor, wanted, held_back)
        cut = self.select(ReadQuery(after=through - 1, through=through), 1)
        if not cut:
            raise BackendError(f"cannot prune through offset {through}: its event is missing")
        streams = sorted({r.stream for r in self._pruned_rows(floor, through)})
        for stream, last in self.last_messages(streams).items():
            if last.seq <= through:
                # The stream's last event is among those going: keep its version.
                self.set_version_floor(stream, row_version(last.data))
        self.add_mark((through, cut[0].chain, pruned_at, through - floor, to_epoch_us(cut[0].recorded_at)))
        self._purge(through)
        return PruneResult(through - floor, through, wanted, held_back)

    def _pruned_rows(self, floor: int, through: int) -> list[StoredRow]:
        """The rows in ``(floor, through]`` (those a prune removes)."""
        rows: list[StoredRow] = []
        after = floor
        while after < through:
            page = self.select(ReadQuery(after=after, through=through), 1000)
            if not page:
                break
            rows += page
            after = page[-1].offset
        return rows

    def _purge(self, through: int) -> None:
        if through <= 0:
            return
        self.loop.run(
            api(self.nc, f"STREAM.PURGE.{self.names.stream}", {"seq": through + 1}, self.timeout), "prune"
        )
