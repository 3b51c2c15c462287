"""Export a ledger's range with its chain values, check an export on its own, import it elsewhere.

``rledger export --since/--until/--after/--before-offset … --format jsonl|parquet --out FILE``
writes :class:`ExportRecord` s (:func:`export_records`, :func:`write_export`); ``rledger import
--check FILE`` verifies one (:func:`check_export`); ``rledger import FILE`` appends it into
another ledger, idempotently (:func:`import_records`). Parquet needs the ``parquet`` extra.
"""

from __future__ import annotations

from ledger.export.check import ExportCheck, ExportProblem, check_export, read_export
from ledger.export.load import ImportResult, import_records
from ledger.export.records import COLUMNS, ExportFormatError, ExportRecord
from ledger.export.write import ExportRange, export_records, write_export

__all__ = [
    "COLUMNS",
    "ExportCheck",
    "ExportFormatError",
    "ExportProblem",
    "ExportRange",
    "ExportRecord",
    "ImportResult",
    "check_export",
    "export_records",
    "import_records",
    "read_export",
    "write_export",
]
