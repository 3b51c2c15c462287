"""A caller's batch on its way through a commit: validated and encoded going in, offsets coming out.

:func:`prepare` turns one caller's events into a :class:`PreparedBatch` (outside any transaction,
so validation never holds the write lock); :class:`~ledger.commit.Committer` writes batches and
answers each with an :class:`AppendResult`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ledger.codec import validate_and_encode
from ledger.errors import BatchTooLargeError
from ledger.event_base import LedgerEvent

if TYPE_CHECKING:
    from ledger.redaction import Redactor

__all__ = ["AppendResult", "EventInput", "ExpectedVersion", "PreparedBatch", "Sealer", "prepare"]

EventInput = LedgerEvent | Mapping[str, Any] | str | bytes
"""One event as a caller may pass it: a model, a mapping, or its JSON text or bytes."""
ExpectedVersion = int | Mapping[str, int] | None
"""A batch's ``expected_version``: one stream's version, a version per stream, or no check."""

_stream_of = operator.attrgetter("stream")

Sealer = Callable[[list[LedgerEvent], list[bytes], int], list[bytes]]
"""Turns a validated batch's encodings into the stored ones (:meth:`ledger.keys.Envelope.seal`)."""


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
class PreparedBatch:
    """One caller's batch, validated and encoded, waiting to be committed.

    Attributes:
        events: the validated events, in input order.
        states: their encodings (the bytes stored and chained).
        streams: the stream of each event.
        expected: the caller's ``expected_version`` (see :meth:`ledger.Ledger.append`).
    """

    events: list[LedgerEvent]
    states: list[bytes]
    streams: list[str]
    expected: ExpectedVersion


MAX_BATCH_EVENTS = 20_000
"""Most events one append may carry: one transaction holds the write lock while it is written
(300k events held it 11.7 s and took 663 MB; 20 000 take well under a second). Larger inputs go
in several appends (``rledger append`` splits a file into ``--batch-size`` transactions)."""

MAX_BATCH_BYTES = 32 << 20
"""Most encoded bytes one append may carry (32 MiB), for the same reason."""


def prepare(
    events: Iterable[EventInput] | EventInput,
    expected: ExpectedVersion,
    *,
    max_event_bytes: int,
    redaction: Redactor | None = None,
    seal: Sealer | None = None,
) -> PreparedBatch:
    """Validate and encode one caller's events (one or many) into a batch ready to commit.

    A batch is one transaction holding the write lock while it is written, so it is bounded:
    at most :data:`MAX_BATCH_EVENTS` events and :data:`MAX_BATCH_BYTES` encoded bytes.
    A ``redaction`` policy rewrites the validated events here, before the bytes are chained;
    ``seal`` (the ledger's crypto-shredding) runs after it, also before the chain, so the chain
    covers the ciphertexts of events that name a subject (and never a redacted value).

    Raises:
        BatchRejectedError: some events are invalid.
        BatchTooLargeError: the batch is over a limit (nothing written; split it).
        PrivacyError: an event names a subject and this ledger cannot encrypt it (nothing written).
    """
    items: list[EventInput]
    items = [events] if isinstance(events, LedgerEvent | Mapping | str | bytes) else list(events)
    if len(items) > MAX_BATCH_EVENTS:
        raise BatchTooLargeError(len(items), MAX_BATCH_EVENTS, "events")
    validated, states = validate_and_encode(items, max_bytes=max_event_bytes)
    if redaction is not None:
        redaction.redact_batch(validated, states, max_event_bytes)
    if seal is not None:
        states = seal(validated, states, max_event_bytes)
    size = sum(map(len, states))
    if size > MAX_BATCH_BYTES:
        raise BatchTooLargeError(size, MAX_BATCH_BYTES, "encoded bytes")
    return PreparedBatch(
        events=validated, states=states, streams=list(map(_stream_of, validated)), expected=expected
    )
