"""How a ledger lies in JetStream: its stream, subjects, key-value keys and packed records.

One ledger ``L`` is one JetStream stream, ``RLEDGER_L``, whose sequence is the ledger's offset
(one Raft leader writes it: gap-free, in commit order). Every event is one message::

    rledger.L.e.<stream token>.<event id hex>     body: the packed row (see ``pack_row``)

so a ledger stream's events are the subjects ``rledger.L.e.<token>.*`` (its last version is the
last of them) and an event id is a subject that may hold one message at most: each publish
carries ``Nats-Expected-Last-Subject-Sequence: 0``, so the server itself refuses an event id
stored already, beyond any de-duplication window, for as long as the event is retained.

Beside the stream, a key-value bucket ``RLEDGER_L_META`` holds what is not an event::

    view.<name hex>     a projection's position, digest and state (chunks: viewc.<name hex>.<gen>.<i>)
    checkpoints         every chain checkpoint          marks      every prune mark
    ver.<token>         a stream's version, kept when pruning removed its last event

and ``RLEDGER_L_LEASES`` (entries expire unless renewed) the runner leases ``lease.<name hex>``.
"""

from __future__ import annotations

import hashlib
import re
import struct
from datetime import datetime
from uuid import UUID

from ledger.timeutil import from_epoch_us, to_epoch_us

LEDGER_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What a ledger name may be: it becomes part of stream, bucket and subject names."""


class Names:
    """The JetStream names of one ledger."""

    def __init__(self, ledger: str) -> None:
        self.ledger = ledger
        self.stream = f"RLEDGER_{ledger}"
        self.meta = f"RLEDGER_{ledger}_META"
        self.leases = f"RLEDGER_{ledger}_LEASES"
        self.events = f"rledger.{ledger}.e.>"

    def subject(self, stream: str, event_id: UUID) -> str:
        """The subject of one event."""
        return f"rledger.{self.ledger}.e.{stream_token(stream)}.{event_id.hex}"

    def stream_subjects(self, stream: str) -> str:
        """The subjects of one ledger stream's events."""
        return f"rledger.{self.ledger}.e.{stream_token(stream)}.*"


def stream_token(stream: str) -> str:
    """A subject token for a ledger stream name (any string: hashed, 128 bits)."""
    return hashlib.sha256(stream.encode()).hexdigest()[:32]


def name_token(name: str) -> str:
    """A key-value key token for a projection name (any string, reversible)."""
    return name.encode().hex()


# -- small records ---------------------------------------------------------------------------

_CHAIN_AT = struct.Struct(">q32sq")
_MARK = struct.Struct(">q32sqqq")
_VIEW = struct.Struct(">qqHII")


def pack_checkpoints(items: list[tuple[int, bytes, datetime]]) -> bytes:
    """The ``checkpoints`` record: (offset, chain, time) per checkpoint."""
    return b"".join(_CHAIN_AT.pack(o, c, to_epoch_us(t)) for o, c, t in items)


def unpack_checkpoints(data: bytes) -> list[tuple[int, bytes, datetime]]:
    """The inverse of :func:`pack_checkpoints`."""
    return [
        (o, bytes(c), from_epoch_us(t))
        for o, c, t in (_CHAIN_AT.unpack_from(data, i) for i in range(0, len(data), _CHAIN_AT.size))
    ]


MarkRecord = tuple[int, bytes, datetime, int, int]
"""A prune mark as stored: (offset, chain at it, pruned at, events, commit µs of the row at it)."""


def pack_marks(items: list[MarkRecord]) -> bytes:
    """The ``marks`` record."""
    return b"".join(_MARK.pack(o, c, to_epoch_us(t), n, r) for o, c, t, n, r in items)


def unpack_marks(data: bytes) -> list[MarkRecord]:
    """The inverse of :func:`pack_marks`."""
    out: list[MarkRecord] = []
    for i in range(0, len(data), _MARK.size):
        o, c, t, n, r = _MARK.unpack_from(data, i)
        out.append((o, bytes(c), from_epoch_us(t), n, r))
    return out


ViewHead = tuple[int, int, str, int, int]
"""A view record's head: (position, updated µs, digest, chunk count, generation)."""


def pack_view_head(position: int, updated_us: int, digest: str, chunks: int, generation: int) -> bytes:
    """The head of a ``view.<name>`` record; inline state follows it when ``chunks`` is 0."""
    d = digest.encode()
    return _VIEW.pack(position, updated_us, len(d), chunks, generation) + d


def unpack_view_head(data: bytes) -> tuple[ViewHead, bytes]:
    """Return the head of a view record and the bytes after it (the inline state)."""
    position, updated, n_digest, chunks, generation = _VIEW.unpack_from(data)
    at = _VIEW.size
    digest = data[at : at + n_digest].decode()
    return (position, updated, digest, chunks, generation), data[at + n_digest :]
