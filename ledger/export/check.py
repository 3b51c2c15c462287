"""Read an export back (JSON lines or Parquet) and check it on its own, without the ledger it came from.

:func:`check_export` recomputes each record's chain value from its ``prev_chain`` and payload
(:func:`ledger.chain.link`), checks that consecutive records link, and that the columns beside
the payload (type, event id) say what the payload says. An edited payload, an edited chain
value, a removed or reordered record inside a consecutive run shows at its line. A gap (an
export of a filtered range) is not a problem: the records on each side are checked on their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import orjson

from ledger.chain import link
from ledger.export.records import ExportFormatError, ExportRecord
from ledger.export.write import parquet_module

__all__ = ["ExportCheck", "ExportProblem", "check_export", "read_export"]

_PARQUET_MAGIC = b"PAR1"


def read_export(path: str | os.PathLike[str]) -> Iterator[tuple[str, ExportRecord]]:
    """Yield (where, record) from an export file, JSON lines or Parquet (told by its first bytes).

    Raises:
        FileNotFoundError: there is no such file.
        ExportFormatError: a line or row is not a record (says which, and why).
    """
    target = os.fspath(path)
    if not os.path.exists(target):
        raise FileNotFoundError(f"export file '{target}' does not exist")
    with open(target, "rb") as f:
        magic = f.read(4)
    if magic == _PARQUET_MAGIC:
        yield from _read_parquet(target)
        return
    with open(target, "rb") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                data = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ExportFormatError(f"{where}: not JSON ({exc})") from None
            yield where, ExportRecord.from_dict(data, where)


def _read_parquet(path: str) -> Iterator[tuple[str, ExportRecord]]:
    pq = parquet_module()
    parquet_file = pq.ParquetFile(path)
    row = 0
    for batch in parquet_file.iter_batches(batch_size=10_000):
        for data in batch.to_pylist():
            row += 1
            where = f"row {row}"
            yield where, ExportRecord.from_dict(data, where)


@dataclass(frozen=True)
class ExportProblem:
    """One thing wrong in an export: where, at which offset, what."""

    where: str
    offset: int
    kind: str
    detail: str


@dataclass
class ExportCheck:
    """What :func:`check_export` found.

    Attributes:
        records: records read.
        verified: records whose own chain value was recomputed and matched.
        links: consecutive pairs whose link was checked.
        gaps: places where the next record is not the next offset (a filtered export).
        unverifiable: records redacted on export (their payload no longer hashes to ``chain``).
        first_offset: the first record's offset (0 when empty).
        last_offset: the last record's offset.
        problems: what is wrong, in file order.
    """

    records: int = 0
    verified: int = 0
    links: int = 0
    gaps: int = 0
    unverifiable: int = 0
    first_offset: int = 0
    last_offset: int = 0
    problems: list[ExportProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether nothing is wrong."""
        return not self.problems


def check_export(records: Iterable[tuple[str, ExportRecord]]) -> ExportCheck:
    """Check records read by :func:`read_export` (see the module docstring)."""
    report = ExportCheck()
    last: ExportRecord | None = None
    for where, record in records:
        report.records += 1
        if last is None:
            report.first_offset = record.offset
        report.last_offset = record.offset
        problems = report.problems
        if last is not None:
            if record.offset <= last.offset:
                problems.append(
                    ExportProblem(
                        where, record.offset, "order", f"offset {record.offset} after {last.offset}"
                    )
                )
            elif record.offset == last.offset + 1:
                report.links += 1
                if record.prev_chain != last.chain:
                    problems.append(
                        ExportProblem(
                            where,
                            record.offset,
                            "link",
                            f"prev_chain is not the chain value of offset {last.offset} (the record before)",
                        )
                    )
            else:
                report.gaps += 1
        problem = _own(record)
        if problem == "unverifiable":
            report.unverifiable += 1
        elif problem is not None:
            problems.append(ExportProblem(where, record.offset, *problem.split(": ", 1)))
        else:
            report.verified += 1
        last = record
    return report


def _own(record: ExportRecord) -> str | None:
    """What is wrong with one record by itself (``kind: detail``), ``unverifiable``, or ``None``."""
    state = record.payload.encode()
    try:
        data = orjson.loads(state)
    except orjson.JSONDecodeError:
        return "payload: the payload is not JSON"
    if not isinstance(data, dict) or data.get("type") != record.type:
        return f"column: type {record.type!r} is not the payload's"
    if data.get("event_id") != record.event_id:
        return f"column: event_id {record.event_id} is not the payload's"
    if record.redacted_on_export:
        return "unverifiable"
    computed = link(bytes.fromhex(record.prev_chain), record.offset, record.stream, record.version, state)
    if computed.hex() != record.chain:
        return "edited: the payload or position does not hash to the record's chain value"
    return None
