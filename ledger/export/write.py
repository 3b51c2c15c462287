"""Export a range of a ledger: the records (:class:`ExportRange`) and their JSON-lines or Parquet file.

The range is read in offset order, every row of it, so each record's ``prev_chain`` is known
even when the filters skip the row before it; only the rows the filters keep are written.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson

from ledger.backends.rows import GENESIS, ReadQuery, StoredRow
from ledger.export.records import COLUMNS, ExportRecord, iso

if TYPE_CHECKING:
    from ledger.reads import LedgerReads
    from ledger.redaction import Redactor

__all__ = ["ExportRange", "export_records", "parquet_module", "write_export"]


@dataclass(frozen=True)
class ExportRange:
    """Which events an export holds; every filter is optional and they combine (and).

    Attributes:
        after: offsets above this (exclusive).
        before_offset: offsets below this (exclusive).
        since: event time at or after this (``occurred_at``; half-open with ``until``).
        until: event time before this.
        types: these event types only.
        workflow: this workflow's events only (its ``workflow_id``).
        agent: this agent's events only.
    """

    after: int = 0
    before_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    types: tuple[str, ...] = ()
    workflow: str | None = None
    agent: str | None = None


def _chain_before(ledger: LedgerReads, offset: int) -> bytes:
    """The chain value the event at ``offset`` links to."""
    if offset <= 1:
        return GENESIS
    for row in ledger.backend.select(ReadQuery(after=offset - 2, through=offset - 1), 1):
        return row.chain
    for mark in ledger.backend.prune_marks():  # the row before was pruned: the cut's value
        if mark.offset == offset - 1:
            return mark.chain
    raise LookupError(f"no chain value before offset {offset}")


def export_records(
    ledger: LedgerReads, where: ExportRange, *, redaction: Redactor | None = None
) -> Iterator[ExportRecord]:
    """Yield the records of the events in ``where``, in offset order.

    ``redaction`` redacts payloads on the way out (those it changes are marked
    ``redacted_on_export``: they are checked by their links alone).
    """
    through = None if where.before_offset is None else where.before_offset - 1
    query = ReadQuery(
        since=where.since, until=where.until, types=where.types, agent=where.agent
    )  # the filters; the scan itself reads every row of the range
    previous: bytes | None = None
    expected = 0
    after = max(where.after, ledger.backend.pruned_through())
    for row in ledger.read_rows(ReadQuery(after=after, through=through), page_size=2000):
        if previous is None or row.offset != expected:
            previous = _chain_before(ledger, row.offset)
        record = _record(row, previous, query, where.workflow, redaction)
        previous, expected = row.chain, row.offset + 1
        if record is not None:
            yield record


def _record(
    row: StoredRow, previous: bytes, query: ReadQuery, workflow: str | None, redaction: Redactor | None
) -> ExportRecord | None:
    if not query.matches(row):
        return None
    data = orjson.loads(row.state)
    if workflow is not None and data.get("workflow_id") != workflow:
        return None
    payload = bytes(row.state)
    redacted = False
    if redaction is not None:
        from ledger.codec import decode, encode

        event = decode(payload, row.type)
        changed = redaction.redact(event, payload)
        if changed is not event:
            payload, redacted = encode(changed), True
    return ExportRecord(
        offset=row.offset,
        stream=row.stream,
        version=row.version,
        type=row.type,
        event_id=str(row.event_id),
        agent=row.agent,
        workflow_id=data.get("workflow_id"),
        occurred_at=iso(row.occurred_at),
        recorded_at=iso(row.recorded_at),
        prev_chain=previous.hex(),
        chain=bytes(row.chain).hex(),
        redacted_on_export=redacted,
        payload=payload.decode(),
    )


def parquet_module() -> Any:
    """``pyarrow.parquet``, or a clear error when the ``parquet`` extra is not installed.

    Raises:
        ValueError: pyarrow is missing (the entry point exits 2).
    """
    try:
        import pyarrow.parquet
    except ImportError:
        raise ValueError(
            "Parquet needs pyarrow: pip install 'reliability-ledger[parquet]' (or use --format jsonl)"
        ) from None
    return pyarrow.parquet


def write_export(records: Iterator[ExportRecord], path: str | os.PathLike[str], fmt: str) -> int:
    """Write records to ``path`` as ``jsonl`` or ``parquet``; return how many were written.

    The file is written beside its destination and moved into place when complete, so a failed
    export never leaves a partial file that looks whole.
    """
    target = os.fspath(path)
    partial = f"{target}.partial"
    count = 0
    try:
        if fmt == "parquet":
            count = _write_parquet(records, partial)
        elif fmt == "jsonl":
            with open(partial, "wb") as f:
                for record in records:
                    f.write(orjson.dumps(record.to_dict()) + b"\n")
                    count += 1
        else:
            raise ValueError(f"unknown export format {fmt!r} (jsonl or parquet)")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return count


_BATCH = 10_000


def _write_parquet(records: Iterator[ExportRecord], path: str) -> int:
    parquet_module()
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("offset", pa.int64()),
            ("stream", pa.string()),
            ("version", pa.int64()),
            ("type", pa.string()),
            ("event_id", pa.string()),
            ("agent", pa.string()),
            ("workflow_id", pa.string()),
            ("occurred_at", pa.string()),
            ("recorded_at", pa.string()),
            ("prev_chain", pa.string()),
            ("chain", pa.string()),
            ("redacted_on_export", pa.bool_()),
            ("payload", pa.string()),
        ]
    )
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[dict[str, object]] = []
        for record in records:
            batch.append(record.to_dict())
            if len(batch) >= _BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    assert [f.name for f in schema] == list(COLUMNS)
    return count
