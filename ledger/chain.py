"""The tamper-evident hash chain over events in offset order: one link per event, checkpoints.

``chain[n] = sha256(chain[n-1] ‖ offset ‖ stream ‖ version ‖ stored bytes)``, starting from 32
zero bytes; :mod:`ledger.verify` recomputes it. What the chain alone catches, and what it cannot:

- **Caught by the chain alone:** an edited row (its link breaks), a deleted row in the middle
  (offsets are gapless: the gap shows), a tail cut off while the recorded head still names the
  old last offset, a chain value edited at a row or in the head, and any edit of a stored value
  made by someone who does not also recompute every later link. Checkpoints (chain values
  recorded every ``CHECKPOINT_EVERY`` offsets) catch a rewrite that recomputed the links but not
  the checkpoints.
- **Not caught by the chain alone:** everything a writer of the database can redo consistently,
  because the head and checkpoints live in the same database: a truncated tail with the head
  rewritten to the new end, a payload edit with every later link, checkpoint and the head
  recomputed, a wipe of every table. Only a chain value kept *outside* the database catches
  these: a signed anchor (:mod:`ledger.anchors`, ``rledger anchor``, ``verify --anchor``).

After a prune the chain is checked from the latest prune mark (the offset and chain value at the
cut), and the report says what was pruned.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence

from ledger.backends.base import Checkpoint, Tail

CHECKPOINT_EVERY = 10_000
"""A checkpoint is recorded each time the offset crosses a multiple of this."""


def link(previous: bytes, offset: int, stream: str, version: int, state: bytes) -> bytes:
    """Return the chain value of one event given the previous chain value."""
    return link_run(previous, offset, (stream,), (version,), (state,))[0]


U64 = struct.Struct(">Q").pack
"""An offset or version as it is hashed: 8 bytes, big-endian."""


def link_run(
    previous: bytes,
    first_offset: int,
    streams: Sequence[str],
    versions: Sequence[int],
    states: Sequence[bytes],
) -> list[bytes]:
    """Return the chain values of consecutive events from ``first_offset`` on.

    The one definition of a link: ``sha256(previous ‖ offset ‖ stream ‖ 0 ‖ version ‖ state)``,
    offset and version as 8-byte big-endian, all in one buffer and one hash call. Appends run it
    over a whole commit (one loop with its names bound locally: no per-event call overhead).
    """
    sha256 = hashlib.sha256
    join = b"".join
    chains: list[bytes] = []
    offset = first_offset
    for stream, version, state in zip(streams, versions, states, strict=True):
        previous = sha256(
            join((previous, U64(offset), stream.encode(), b"\x00", U64(version), state))
        ).digest()
        chains.append(previous)
        offset += 1
    return chains


def checkpoints_crossed(
    before: int, after: int, chain_at: Callable[[int], bytes], tail: Tail
) -> list[Checkpoint]:
    """Return the checkpoints for multiples of ``CHECKPOINT_EVERY`` in ``(before, after]``.

    ``chain_at(offset)`` gives the chain value just written at an offset in that range.
    """
    assert tail.recorded_at is not None
    first = (before // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    return [
        Checkpoint(offset=o, chain=chain_at(o), recorded_at=tail.recorded_at)
        for o in range(first, after + 1, CHECKPOINT_EVERY)
    ]
