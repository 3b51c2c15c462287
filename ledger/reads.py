"""The ledger's audit reads: filtered events, lean scans for folds, streams, offsets and verify.

:class:`~ledger.store.Ledger` is a :class:`LedgerReads`; every read goes straight to the backend
and refuses (:class:`~ledger.errors.LedgerClosedError`) once the ledger is closed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.anchors import Anchor, anchor_pins
from ledger.backends.base import LedgerBackend
from ledger.backends.rows import ReadQuery, ScanRow, StoredRow, StreamRow
from ledger.errors import LedgerClosedError, PrunedRangeError
from ledger.recorded import Recorded, to_recorded
from ledger.timeutil import as_utc

if TYPE_CHECKING:
    from ledger import verify as verify_mod
    from ledger.keys.envelope import Envelope


class LedgerReads:
    """The read side of :class:`~ledger.store.Ledger`.

    Attributes:
        backend: where events are stored.
    """

    backend: LedgerBackend
    _closed: bool

    @property
    def envelope(self) -> Envelope:
        """The ledger's crypto-shredding (:attr:`ledger.Ledger.envelope`)."""
        raise NotImplementedError

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerClosedError

    def read(
        self,
        *,
        after: int = 0,
        limit: int | None = None,
        through: int | None = None,
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
            through: only offsets up to and including this.
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
        type_tuple: tuple[str, ...] = (types,) if isinstance(types, str) else tuple(types or ())
        query = ReadQuery(
            after=after,
            through=through,
            stream=stream,
            agent=agent,
            types=type_tuple,
            since=as_utc(since) if since is not None else None,
            until=as_utc(until) if until is not None else None,
        )
        envelope = self.envelope
        remaining = limit
        size = page_size if remaining is None else min(page_size, max(remaining, 1))
        for row in self.backend.iter_rows(query, page_size=size):
            if remaining is not None:
                if remaining <= 0:
                    return
                remaining -= 1
            yield to_recorded(row, envelope)

    def open_sealed(self, data: dict[str, Any]) -> tuple[str, ...]:
        """Open the sealed fields of a stored event's decoded dict in place (readers of raw rows:
        trails); return the fields that read as erased. See :mod:`ledger.keys`."""
        if data.get("subject") is None:
            return ()
        return self.envelope.reveal(data)

    def read_rows(self, query: ReadQuery, page_size: int = 1000) -> Iterator[StoredRow]:
        """Yield raw stored rows (undecoded) for fast folds; see :meth:`read` for filters."""
        self._check_open()
        return self.backend.iter_rows(query, page_size=page_size)

    def scan(self, *, after: int = 0, through: int | None = None, page_size: int = 5000) -> Iterator[ScanRow]:
        """Yield lean rows (offset, type, occurred_at µs, bytes) in offset order, for fast folds.

        Raises:
            PrunedRangeError: events after ``after`` were pruned: a fold from there would
                silently lack them.
        """
        # Not a generator function: a pruned range raises here, at the call, not at first use.
        pages = self.scan_pages(after=after, through=through, page_size=page_size)
        return itertools.chain.from_iterable(pages)

    def scan_pages(
        self, *, after: int = 0, through: int | None = None, page_size: int = 5000
    ) -> Iterator[list[ScanRow]]:
        """Like :meth:`scan`, a page (list) of rows at a time: folds take pages, and handing
        rows over one by one to re-collect them is a measurable share of a rebuild (bench.rebuild)."""
        self._check_open()
        pruned = self.backend.pruned_through()
        if after < pruned:
            raise PrunedRangeError(after, pruned)
        return self._scan_pages(after, through, page_size)

    def _scan_pages(self, after: int, through: int | None, page_size: int) -> Iterator[list[ScanRow]]:
        while True:
            page = self.backend.scan(after, through, page_size)
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

    def verify(
        self,
        *,
        anchors: Sequence[Anchor] = (),
        public_key: bytes | None = None,
        since_anchor: bool = False,
    ) -> verify_mod.VerifyReport:
        """Recompute the hash chain; check it, every stored column and index, and any anchors.

        After a prune it checks from the latest prune mark and reports what was pruned.

        Args:
            anchors: signed heads kept outside the database (:func:`ledger.read_anchors`): the
                ledger must still extend every one ("anchor_mismatch" or "truncated" otherwise).
            public_key: the raw Ed25519 key the anchors must be signed with (without it, each
                anchor's own key, which proves the file whole but not who signed it).
            since_anchor: check only the events after the latest valid anchor (a daily verify
                of what is new), instead of the whole ledger.
        """
        # The verifier (the codec, pydantic) loads when a verify runs, not with every reader.
        from ledger import verify as verify_mod

        self._check_open()
        pins, problems = anchor_pins(anchors, public_key)
        start = None
        if since_anchor and pins:
            latest = max(pins)
            start = (latest, pins[latest])
        report = verify_mod.verify(self.backend, pins=pins, start=start)
        for offset, detail in problems:
            report.ok = False
            report.problems.append(verify_mod.IntegrityProblem("anchor_mismatch", offset, detail))
        report.problems.sort(key=lambda p: p.offset)
        return report
