"""How a ledger lies in Redis: its keys and the packed formats of rows, marks and views.

Every key of one ledger starts ``rledger:{<prefix>}:``; the braces are a hash tag, so a Redis
Cluster would keep a ledger's keys in one slot (its scripts touch many of them at once)::

    rows        HASH  offset -> packed row (the stored event, see ``pack_row``)
    ids         HASH  event id (16 bytes) -> offset          (idempotency)
    versions    HASH  stream -> version                     (survives pruning)
    s:<stream>  ZSET  offsets of one stream (score = member = offset)
    a:<agent>   ZSET  offsets of one agent
    t:<topic>   ZSET  offsets of one event type; ``topics`` SET names them
    head        HASH  offset, chain, recorded_us             (the chain's head)
    commits     ZSET  score = commit time µs, member = "<first offset:020>:<commit µs>"
    checkpoints HASH  offset -> chain ‖ recorded_us
    marks       HASH  offset -> chain ‖ pruned_at_us ‖ events  (prune marks)
    meta        HASH  incarnation, pruned_through, swept
    views       HASH  name -> packed view;  tracking  HASH  name -> position
    runner:<n>  STRING  the token of the runner holding projection <n> (expires unless renewed)
    appended    pub/sub channel: the new head offset after each commit

The server-side scripts that write these keys are in :mod:`~ledger.backends.redis.scripts`.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import Any

from ledger.backends.rows import SavedView
from ledger.timeutil import from_epoch_us, to_epoch_us

KEY_ROOT = "rledger"
"""Every key of every ledger starts with this (then ``:{prefix}:``)."""


class Keys:
    """The key names of one ledger."""

    def __init__(self, prefix: str) -> None:
        self.base = f"{KEY_ROOT}:{{{prefix}}}"
        self.pattern = f"{KEY_ROOT}:{{{prefix}}}:*"
        b = self.base
        self.rows = f"{b}:rows"
        self.ids = f"{b}:ids"
        self.versions = f"{b}:versions"
        self.topics = f"{b}:topics"
        self.head = f"{b}:head"
        self.commits = f"{b}:commits"
        self.checkpoints = f"{b}:checkpoints"
        self.marks = f"{b}:marks"
        self.meta = f"{b}:meta"
        self.views = f"{b}:views"
        self.tracking = f"{b}:tracking"
        self.channel = f"{b}:appended"

    def stream(self, stream: str) -> str:
        """The offset index of one stream."""
        return f"{self.base}:s:{stream}"

    def agent(self, agent: str) -> str:
        """The offset index of one agent."""
        return f"{self.base}:a:{agent}"

    def topic(self, topic: str) -> str:
        """The offset index of one event type."""
        return f"{self.base}:t:{topic}"

    def runner(self, name: str) -> str:
        """The runner lock of one projection."""
        return f"{self.base}:runner:{name}"


def as_bytes(value: Any) -> bytes:
    """Return a Redis reply as bytes (the client never decodes: ``decode_responses`` is off)."""
    if not isinstance(value, bytes):
        raise TypeError(f"expected a bytes reply from Redis, got {type(value).__name__}")
    return value


def as_int(value: Any, default: int = 0) -> int:
    """Return a Redis integer reply (or a stored decimal string) as an int; ``None`` → default."""
    return default if value is None else int(value)


# -- small records ---------------------------------------------------------------------------

_CHAIN_AT = struct.Struct(">32sq")
_MARK = struct.Struct(">32sqq")
_VIEW = struct.Struct(">qqH")


def pack_chain_at(chain: bytes, when: datetime) -> bytes:
    """A checkpoint's value: its chain value and time."""
    return _CHAIN_AT.pack(chain, to_epoch_us(when))


def unpack_chain_at(data: bytes) -> tuple[bytes, datetime]:
    """The inverse of :func:`pack_chain_at`."""
    chain, when = _CHAIN_AT.unpack(data)
    return bytes(chain), from_epoch_us(when)


def pack_mark(chain: bytes, when: datetime, events: int) -> bytes:
    """A prune mark's value: the chain value at the cut, when, and how many events went."""
    return _MARK.pack(chain, to_epoch_us(when), events)


def unpack_mark(data: bytes) -> tuple[bytes, datetime, int]:
    """The inverse of :func:`pack_mark`."""
    chain, when, events = _MARK.unpack(data)
    return bytes(chain), from_epoch_us(when), events


def pack_view(view: SavedView) -> bytes:
    """A saved projection: position, time, digest and state bytes."""
    digest = view.digest.encode()
    return _VIEW.pack(view.position, to_epoch_us(view.updated_at), len(digest)) + digest + view.state


def unpack_view(name: str, data: bytes) -> SavedView:
    """The inverse of :func:`pack_view`."""
    position, updated, n_digest = _VIEW.unpack_from(data)
    at = _VIEW.size
    digest = data[at : at + n_digest].decode()
    return SavedView(name, position, data[at + n_digest :], digest, from_epoch_us(updated))


def commit_member(first_offset: int, recorded_us: int) -> str:
    """The ``commits`` member of one commit: zero-padded so equal times sort by offset."""
    return f"{first_offset:020d}:{recorded_us}"


def parse_commit_member(member: bytes) -> tuple[int, int]:
    """Return (first offset, commit time µs) of a ``commits`` member."""
    first, _, recorded = member.decode().partition(":")
    return int(first), int(recorded)
