"""Import an export into a ledger: its payloads appended in order, idempotently.

Each record's payload is appended as the event it is (its event id kept), in batches, so an
import run twice, or over a ledger that already holds some of the events, writes each event
once: the second time they are duplicates, not rewritten (:meth:`ledger.Ledger.append`). The
target ledger gives the events its own offsets and chain values; a redaction policy of its own
applies as to any append.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.export.records import ExportRecord

if TYPE_CHECKING:
    from ledger.store import Ledger

__all__ = ["ImportResult", "import_records"]

BATCH = 1000
"""Events per append (one transaction each)."""


@dataclass(frozen=True)
class ImportResult:
    """What an import did: records read, events newly written, events already there."""

    records: int
    written: int
    duplicates: int


def import_records(
    ledger: Ledger, records: Iterable[tuple[str, ExportRecord]], *, batch: int = BATCH
) -> ImportResult:
    """Append the records' payloads to ``ledger`` in file order.

    Raises:
        BatchRejectedError: a payload is not a valid event (the batch is not written; earlier
            batches are, and a rerun after the fix skips them as duplicates).
        DuplicateEventError: an event id is already stored with another payload.
    """
    count = written = duplicates = 0
    pending: list[str] = []

    def flush() -> None:
        nonlocal written, duplicates
        if pending:
            result = ledger.append(pending)
            written += result.written
            duplicates += result.duplicates
            pending.clear()

    for _, record in records:
        count += 1
        pending.append(record.payload)
        if len(pending) >= batch:
            flush()
    flush()
    return ImportResult(records=count, written=written, duplicates=duplicates)
