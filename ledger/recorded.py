"""What a read returns: a stored event, decoded, with where and when it was stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.backends.rows import StoredRow

if TYPE_CHECKING:
    from ledger.events import Event
    from ledger.keys.envelope import Envelope

MARKER_BYTES = b'"$enc"'
"""In a stored event that has sealed fields (:data:`ledger.keys.envelope.MARKER_BYTES`)."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as read back from the ledger, with where and when it was stored.

    ``erased`` names the fields of an event about a forgotten subject that read as erased
    (their key was destroyed; see :mod:`ledger.keys`); it is empty for every other event.
    """

    offset: int
    stream: str
    version: int
    recorded_at: datetime
    event: Event
    erased: tuple[str, ...] = ()

    def to_json_dict(self) -> dict[str, Any]:
        """Return the event as JSON plus its offset, stream, version and recorded_at."""
        data: dict[str, Any] = self.event.model_dump(mode="json")
        data["offset"] = self.offset
        data["stream"] = self.stream
        data["version"] = self.version
        data["recorded_at"] = self.recorded_at.isoformat()
        if self.erased:
            data["erased"] = list(self.erased)
        return data


def to_recorded(row: StoredRow, envelope: Envelope | None = None) -> Recorded:
    """Decode a stored row into a :class:`Recorded` event (opening sealed fields with ``envelope``)."""
    # The codec (pydantic and the event models) loads on the first read, not when the ledger's
    # modules do: a command that only counts (``rledger stats``) never needs it. Once loaded,
    # this import is a look-up in sys.modules.
    from ledger.codec import decode

    if envelope is not None and MARKER_BYTES in bytes(row.state):
        return _opened(row, envelope)
    return Recorded(
        offset=row.offset,
        stream=row.stream,
        version=row.version,
        recorded_at=row.recorded_at,
        event=decode(row.state, row.type),
    )


def _opened(row: StoredRow, envelope: Envelope) -> Recorded:
    """Decode a row whose event may have sealed fields: open them (or mark them erased) first."""
    import orjson

    from ledger.events import EVENT_ADAPTER

    data = orjson.loads(row.state)
    erased = envelope.reveal(data)
    return Recorded(
        offset=row.offset,
        stream=row.stream,
        version=row.version,
        recorded_at=row.recorded_at,
        event=EVENT_ADAPTER.validate_python(data),
        erased=erased,
    )
