"""Replaying a redacted recording: what was redacted is served as recorded and never compared.

A tool call recorded under a redaction policy holds markers, hashes or nothing where the values
were (its ``redactions`` say where). A replay serves its result as recorded — redacted — since
the value is gone. Comparing a re-run's call with it, the redacted paths are left out of both
sides: a difference elsewhere is a difference as ever; the redacted paths themselves are
*not comparable* (:class:`NotComparable`), reported apart from the differences, counted, and
never taken for a match (:meth:`replay.ReplayResult.is_exact_match` is false) nor a divergence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger import LedgerEvent

__all__ = ["NotComparable", "compare_redacted", "redacted_paths"]

_GONE = object()
"""What stands in, on both sides, for a value at a redacted path."""


@dataclass(frozen=True)
class NotComparable:
    """A value a replay could not compare: the recording holds it redacted.

    Attributes:
        field: ``arguments``, ``result`` or ``outcome``.
        path: the redacted path (``arguments.card``), as the recording's ``redactions`` say.
        location: ``call N``, or ``outcome``.
        call_index: the tool call's ordinal (``None`` for the outcome).
        action: how it was redacted (``drop``, ``mask`` or ``hash``).
    """

    field: str
    path: str
    location: str
    call_index: int | None
    action: str

    @property
    def description(self) -> str:
        """The entry in words."""
        return f"{self.path} was redacted ({self.action}) when recorded: not comparable"


def redacted_paths(event: LedgerEvent, field: str) -> dict[str, str]:
    """The paths under ``field`` the recording redacted, with the action of each."""
    prefix = (f"{field}.", f"{field}[")
    return {r.path: r.action for r in event.redactions if r.path == field or r.path.startswith(prefix)}


def _without(value: Any, path: str, gone: dict[str, str]) -> Any:
    """``value`` with what is at a redacted path replaced by a stand-in (a dropped key added)."""
    if path in gone:
        return _GONE
    if isinstance(value, dict):
        out = {k: _without(v, f"{path}.{k}", gone) for k, v in value.items()}
        prefix = f"{path}."
        for p in gone:  # a dropped key is missing from the recording, present in the re-run
            key = p[len(prefix) :] if p.startswith(prefix) else None
            if key and "." not in key and "[" not in key:
                out[key] = _GONE
        return out
    if isinstance(value, list | tuple):
        return [_without(v, f"{path}[{i}]", gone) for i, v in enumerate(value)]
    return value


def compare_redacted(
    taped: LedgerEvent | None, field: str, original: Any, replayed: Any, call_index: int | None
) -> tuple[bool, list[NotComparable]]:
    """Compare one field of a recorded event (a call, the workflow's completion) with the
    re-run's, leaving the redacted paths out.

    ``original`` and ``replayed`` are JSON values (``replay.result.stored_json``). Returns
    whether they differ outside the redacted paths, and the redacted paths (not comparable)
    when they do not; a recording with nothing redacted in the field is compared as it is.
    """
    gone = {} if taped is None else redacted_paths(taped, field)
    if not gone:
        return original != replayed, []
    if _without(original, field, gone) != _without(replayed, field, gone):
        return True, []
    loc = "outcome" if call_index is None else f"call {call_index}"
    return False, [NotComparable(field, p, loc, call_index, a) for p, a in sorted(gone.items())]
