"""One exported event: where it was stored, its stored bytes, and the chain values around it.

A record carries what is needed to check it without the ledger it came from: ``payload`` is the
event's stored JSON text exactly as the chain hashed it, ``prev_chain`` the chain value before
it and ``chain`` its own, so ``chain == link(prev_chain, offset, stream, version, payload)``
(:mod:`ledger.chain`), and consecutive records link (one's ``prev_chain`` is the other's
``chain``). A payload redacted on the way out (an export given a redaction policy) no longer
hashes to ``chain``: such a record says so (``redacted_on_export``) and is checked by its links
alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["COLUMNS", "ExportFormatError", "ExportRecord"]

COLUMNS = (
    "offset",
    "stream",
    "version",
    "type",
    "event_id",
    "agent",
    "workflow_id",
    "occurred_at",
    "recorded_at",
    "prev_chain",
    "chain",
    "redacted_on_export",
    "payload",
)
"""The fields of a record, in the order a JSON line and a Parquet file hold them."""


class ExportFormatError(ValueError):
    """An export file that cannot be read as one: which line or row, which field, why."""


@dataclass(frozen=True, slots=True)
class ExportRecord:
    """One exported event (see the module docstring for what each value is)."""

    offset: int
    stream: str
    version: int
    type: str
    event_id: str
    agent: str | None
    workflow_id: str | None
    occurred_at: str
    recorded_at: str
    prev_chain: str
    chain: str
    redacted_on_export: bool
    payload: str

    def to_dict(self) -> dict[str, Any]:
        """The record as a JSON object (and a Parquet row)."""
        return {name: getattr(self, name) for name in COLUMNS}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> ExportRecord:
        """Read a record back from a JSON object or a Parquet row.

        Raises:
            ExportFormatError: not an object, a field missing or of the wrong type (says where).
        """
        if not isinstance(data, dict):
            raise ExportFormatError(f"{where}: an export record must be a JSON object")
        missing = [name for name in COLUMNS if name not in data and name != "redacted_on_export"]
        if missing:
            raise ExportFormatError(f"{where}: missing field(s) {', '.join(missing)}")
        values = {name: data.get(name, False) for name in COLUMNS}
        for name, kind in _KINDS.items():
            value = values[name]
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
            if not ok and not (name in _OPTIONAL and value is None):
                raise ExportFormatError(
                    f"{where}: field {name!r} must be {_KIND_NAMES[kind]}, got {type(value).__name__}"
                )
        for name in ("prev_chain", "chain"):
            try:
                if len(bytes.fromhex(values[name])) != 32:
                    raise ValueError
            except ValueError:
                raise ExportFormatError(f"{where}: field {name!r} is not 64 hex digits") from None
        return cls(**values)


_KINDS: dict[str, type] = {
    "offset": int,
    "stream": str,
    "version": int,
    "type": str,
    "event_id": str,
    "agent": str,
    "workflow_id": str,
    "occurred_at": str,
    "recorded_at": str,
    "prev_chain": str,
    "chain": str,
    "redacted_on_export": bool,
    "payload": str,
}
_OPTIONAL = frozenset({"agent", "workflow_id"})
_KIND_NAMES = {int: "a whole number", str: "a string", bool: "true or false"}


def iso(value: datetime) -> str:
    """A stored time as a record holds it (ISO 8601, UTC)."""
    return value.isoformat()
