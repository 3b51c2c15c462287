"""What the commands share: time options, the ledger a command opens, times and tables as text."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime

from ledger import Ledger, open_ledger


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 time option (``Z`` accepted; naive means UTC to the ledger)."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None


def open_db(args: argparse.Namespace) -> Ledger:
    """Open the ledger the global ``--db`` option names."""
    return open_ledger(args.db)


def when(value: datetime | None) -> str:
    """A time as a table shows it: to the second, blank when there is none."""
    return "" if value is None else value.isoformat(timespec="seconds")


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows as an aligned text table (the renderer the reports use)."""
    # Imported here: the projections (and numpy) load only when a command draws a table, so
    # ``rledger schema`` and the JSON formats start without them.
    from projections.metrics import table as render

    return render(rows, headers)
