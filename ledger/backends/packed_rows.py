"""One row packed as bytes, for the stores that keep a row as one value (Redis, NATS JetStream).

A fixed header (version, times, event id, chain, lengths), then the stream, topic and agent, then
the stored event bytes: the partial readers (``scan_fields``, ``row_chain``…) decode only what
they return.
"""

from __future__ import annotations

import struct
from uuid import UUID

from ledger.backends.rows import StoredRow, VerifyRow
from ledger.timeutil import from_epoch_us, to_epoch_us

# version, occurred µs, recorded µs, event id, chain, stream length, topic length, agent length
# (-1: none); then the stream, topic and agent bytes, then the stored event bytes.
_ROW = struct.Struct(">qqq16s32sIHi")
_ROW_SIZE = _ROW.size


def pack_row(row: StoredRow) -> bytes:
    """Return the bytes stored for one row (its offset is kept beside them: a Redis hash field, a
    JetStream sequence)."""
    stream = row.stream.encode()
    topic = row.type.encode()
    agent = b"" if row.agent is None else row.agent.encode()
    header = _ROW.pack(
        row.version,
        to_epoch_us(row.occurred_at),
        to_epoch_us(row.recorded_at),
        row.event_id.bytes,
        row.chain,
        len(stream),
        len(topic),
        -1 if row.agent is None else len(agent),
    )
    return b"".join((header, stream, topic, agent, row.state))


def unpack_row(offset: int, data: bytes) -> StoredRow:
    """Return the row whose packed bytes are ``data``, stored at ``offset``."""
    _, stream, version, topic, event_id, agent, occurred, recorded, state, chain = verify_fields(offset, data)
    return StoredRow(
        offset,
        stream,
        version,
        topic,
        UUID(bytes=event_id),
        agent,
        from_epoch_us(occurred),
        from_epoch_us(recorded),
        state,
        bytes(chain),
    )


def verify_fields(offset: int, data: bytes) -> VerifyRow:
    """Return a packed row's columns raw, for ``verify`` (no UUID or datetime built)."""
    version, occurred, recorded, event_id, chain, n_stream, n_topic, n_agent = _ROW.unpack_from(data)
    at = _ROW_SIZE
    stream = data[at : at + n_stream].decode()
    at += n_stream
    topic = data[at : at + n_topic].decode()
    at += n_topic
    agent = None
    if n_agent >= 0:
        agent = data[at : at + n_agent].decode()
        at += n_agent
    return (offset, stream, version, topic, event_id, agent, occurred, recorded, data[at:], chain)


def scan_fields(data: bytes) -> tuple[str, int, bytes]:
    """Return (topic, occurred_at µs, stored bytes) of a packed row, decoding nothing else."""
    _, occurred, _, _, _, n_stream, n_topic, n_agent = _ROW.unpack_from(data)
    at = _ROW_SIZE + n_stream
    return data[at : at + n_topic].decode(), occurred, data[at + n_topic + max(n_agent, 0) :]


def row_version(data: bytes) -> int:
    """Return the stream version of a packed row."""
    return int(_ROW.unpack_from(data)[0])


def row_recorded_us(data: bytes) -> int:
    """Return the commit time (µs since the epoch) of a packed row."""
    return int(_ROW.unpack_from(data)[2])


def row_chain(data: bytes) -> bytes:
    """Return the chain value of a packed row."""
    return bytes(_ROW.unpack_from(data)[4])
