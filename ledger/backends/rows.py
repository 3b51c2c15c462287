"""The rows and records a backend stores and hands back, each named for what it is used for.

One stored event is a :class:`StoredRow` (every column). Hot paths read leaner tuples of the
same row: a :class:`ScanRow` (in offset order, for folds) and a :class:`StreamRow` (one
stream in version order, for trails and breakers). A :class:`StoredId` is what an id look-up
finds during an append. Around the rows: the chain's :class:`Tail` and :class:`Checkpoint` s,
a projection's :class:`SavedView`, the filters of a :class:`ReadQuery`, and
:class:`BackendStats`. The public, decoded form of a row is :class:`ledger.Recorded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from ledger.timeutil import to_epoch_us

GENESIS = bytes(32)
"""The chain value before the first event."""


class StoredRow(NamedTuple):
    """One stored event, as the backend holds it.

    A named tuple, not a frozen dataclass: every append and read builds one per event, and a
    frozen dataclass's ``__init__`` (``object.__setattr__`` per field) is several times slower
    than building this positionally.

    Attributes:
        offset: global position, gapless, strictly increasing in commit order (from 1).
        stream: the stream it belongs to (``wf:<workflow>``, ``agent:<agent>`` or ``ledger``).
        version: position in its stream (from 1).
        type: the event type name.
        event_id: the idempotency key.
        agent: the agent column (indexed for filters), if any.
        occurred_at: event time (aware UTC).
        recorded_at: commit time (aware UTC, non-decreasing with offset).
        state: the encoded event (the bytes the chain covers).
        chain: the hash chain value after this event.
    """

    offset: int
    stream: str
    version: int
    type: str
    event_id: UUID
    agent: str | None
    occurred_at: datetime
    recorded_at: datetime
    state: bytes
    chain: bytes


ScanRow = tuple[int, str, int, bytes]
"""A stored row as folds read it, in offset order: (offset, event type, occurred_at in µs since
the epoch, encoded event). Plain tuples: a rebuild builds millions of them."""


StreamRow = tuple[int, int, int, bytes]
"""A stored row as one stream's reader sees it, in version order: (offset, version, recorded_at
in µs since the epoch, encoded event)."""


VerifyRow = tuple[int, str, int, str, bytes, str | None, int, int, bytes, bytes]


def verify_row(r: StoredRow) -> VerifyRow:
    """Return a full row's columns raw, as ``verify`` reads them (id bytes, times in µs)."""
    return (
        r.offset,
        r.stream,
        r.version,
        r.type,
        r.event_id.bytes,
        r.agent,
        to_epoch_us(r.occurred_at),
        to_epoch_us(r.recorded_at),
        r.state,
        r.chain,
    )


"""A stored row as ``verify`` reads it, every column raw: (offset, stream, version, type, event id
as its 16 bytes, agent, occurred_at µs, recorded_at µs, encoded event, chain value). Nothing is
decoded: the check compares these with the encoded event in bulk (:mod:`ledger.columns`)."""


@dataclass(frozen=True, slots=True)
class StoredId:
    """An event id found already stored, during an append: where it is and what it holds.

    Attributes:
        offset: the stored event's offset (returned again for an idempotent retry).
        state: its encoding (compared with the retry's to tell a conflicting duplicate).
    """

    offset: int
    state: bytes


@dataclass(frozen=True, slots=True)
class Tail:
    """The last stored event's position, chain value and commit time (or the genesis)."""

    offset: int
    chain: bytes
    recorded_at: datetime | None


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A chain value recorded at an offset, to detect deletions and truncation."""

    offset: int
    chain: bytes
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class ReadQuery:
    """Filters for a read; offsets are exclusive below (``after``) and inclusive above."""

    after: int = 0
    through: int | None = None
    stream: str | None = None
    agent: str | None = None
    types: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None

    def matches(self, row: StoredRow) -> bool:
        """Whether a row passes the filters (not the offset bounds), for stores that filter in Python."""
        return (
            (self.stream is None or row.stream == self.stream)
            and (self.agent is None or row.agent == self.agent)
            and (not self.types or row.type in self.types)
            and (self.since is None or row.occurred_at >= self.since)
            and (self.until is None or row.occurred_at < self.until)
        )


@dataclass(frozen=True, slots=True)
class SavedView:
    """A projection's stored state: the offset it is folded up to, its bytes and their digest."""

    name: str
    position: int
    state: bytes
    digest: str
    updated_at: datetime


@dataclass
class BackendStats:
    """Counts a backend reports for ``rledger stats``."""

    events: int = 0
    streams: int = 0
    first_recorded_at: datetime | None = None
    last_recorded_at: datetime | None = None
    by_type: dict[str, int] = field(default_factory=dict)
    size_bytes: int | None = None
