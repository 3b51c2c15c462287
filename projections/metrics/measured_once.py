"""One explanation or replay is one measurement, however the guide's code records it.

The builder records each explanation's time (MTTE) and the replayer each replay's outcome (RSR)
by themselves. The guide then calls ``SLOTracker.record_mtte`` / ``record_rsr`` by hand for the
same explanation or replay. So each automatic measurement is noted here, keyed by its ledger,
workflow and checkpoint (and replay mode); the next manual record with that key, in the same
process, *is* that measurement: it appends nothing and returns the automatic event. Each
automatic measurement absorbs at most one manual record; a manual record with no automatic one
pending (another process, a builder with ``record_mtte=False``) is appended as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import TypeVar

from ledger import ExplanationRecorded, Ledger, ReplayAttempted

_E = TypeVar("_E", ExplanationRecorded, ReplayAttempted)
_MAX_PENDING = 4096  # automatic measurements nobody records by hand must not pile up forever
_lock = threading.Lock()
_pending: OrderedDict[tuple[object, ...], list[ExplanationRecorded | ReplayAttempted]] = OrderedDict()


def _ledger_key(ledger: Ledger) -> object:
    # Two handles on one file or database are one ledger; every memory:// ledger is its own.
    url = ledger.url
    return ("id", id(ledger)) if url.startswith("memory:") else ("url", url)


def _key(
    ledger: Ledger, event: ExplanationRecorded | ReplayAttempted | None, **fields: object
) -> tuple[object, ...]:
    kind = type(event).__name__ if event is not None else fields.pop("kind")
    return (_ledger_key(ledger), kind, *sorted(fields.items()))


def note_automatic(ledger: Ledger, event: ExplanationRecorded | ReplayAttempted) -> None:
    """Remember an automatic measurement just appended, for the manual record that may follow."""
    fields: dict[str, object] = {"workflow": event.workflow_id, "checkpoint": event.checkpoint_id}
    if isinstance(event, ReplayAttempted):
        fields["mode"] = event.replay_mode
    key = _key(ledger, event, **fields)
    with _lock:
        _pending.setdefault(key, []).append(event)
        _pending.move_to_end(key)
        while len(_pending) > _MAX_PENDING:
            _pending.popitem(last=False)


def claim_automatic(ledger: Ledger, kind: type[_E], **fields: object) -> _E | None:
    """The oldest pending automatic measurement of ``kind`` with these fields, now claimed."""
    key = _key(ledger, None, kind=kind.__name__, **fields)
    with _lock:
        events = _pending.get(key)
        if not events:
            return None
        event = events.pop(0)
        if not events:
            del _pending[key]
    assert isinstance(event, kind)
    return event
