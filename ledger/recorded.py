"""What a read returns: a stored event, decoded, with where and when it was stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ledger.backends.rows import StoredRow

if TYPE_CHECKING:
    from ledger.events import Event


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as read back from the ledger, with where and when it was stored."""

    offset: int
    stream: str
    version: int
    recorded_at: datetime
    event: Event

    def to_json_dict(self) -> dict[str, Any]:
        """Return the event as JSON plus its offset, stream, version and recorded_at."""
        data: dict[str, Any] = self.event.model_dump(mode="json")
        data["offset"] = self.offset
        data["stream"] = self.stream
        data["version"] = self.version
        data["recorded_at"] = self.recorded_at.isoformat()
        return data


def to_recorded(row: StoredRow) -> Recorded:
    """Decode a stored row into a :class:`Recorded` event."""
    # The codec (pydantic and the event models) loads on the first read, not when the ledger's
    # modules do: a command that only counts (``rledger stats``) never needs it. Once loaded,
    # this import is a look-up in sys.modules.
    from ledger.codec import decode

    return Recorded(
        offset=row.offset,
        stream=row.stream,
        version=row.version,
        recorded_at=row.recorded_at,
        event=decode(row.state, row.type),
    )
