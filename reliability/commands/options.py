"""What the commands share: time options, the ledger a command opens, times and tables as text."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from ledger import Ledger


def parse_time(value: str) -> datetime:
    """Parse an ISO 8601 time option (``Z`` accepted; naive means UTC to the ledger)."""
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None


def non_negative(value: str) -> int:
    """Parse a count or offset option: a whole number, 0 or more."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a whole number of 0 or more")
    return number


def event_type(value: str) -> str:
    """Parse an event type option: a stored type name (a typo must not answer 'no events')."""
    from ledger import EVENT_TYPES

    if value not in EVENT_TYPES:
        raise argparse.ArgumentTypeError(
            f"unknown event type '{value}'; known: {', '.join(sorted(EVENT_TYPES))}"
        )
    return value


def check_window(args: argparse.Namespace) -> None:
    """Refuse ``--since`` later than ``--until`` (an empty window is a mistake, not an answer).

    Raises:
        ValueError: the window is empty the wrong way round (the entry point exits 2).
    """
    since, until = getattr(args, "since", None), getattr(args, "until", None)
    if since is not None and until is not None:
        try:
            later = since > until
        except TypeError:  # one naive, one aware: both mean UTC to the ledger
            later = since.replace(tzinfo=None) > until.replace(tzinfo=None)
        if later:
            raise ValueError(f"--since {since.isoformat()} is later than --until {until.isoformat()}")


def input_file(path: str) -> str:
    """Return ``path``, an input file the command reads, after checking that it exists.

    Raises:
        FileNotFoundError: it does not (the entry point exits 2 with this message).
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"input file '{path}' does not exist")
    return path


def open_db(args: argparse.Namespace, *, create: bool = False) -> Ledger:
    """Open the ledger the global ``--db`` option names, with the ``--redaction`` policy if any.

    Only commands that write pass ``create=True``: a reading command given a SQLite path that
    does not exist fails (exit 2) instead of creating an empty ledger and answering from it.
    """
    from ledger import open_ledger

    return open_ledger(args.db, create=create, redaction=getattr(args, "redaction", None))


def when(value: datetime | None) -> str:
    """A time as a table shows it: to the second, blank when there is none."""
    return "" if value is None else value.isoformat(timespec="seconds")


def table(rows: Sequence[Sequence[object]], headers: Sequence[str]) -> str:
    """Rows as an aligned text table with a header rule.

    The same text as ``projections.metrics.table`` (the reports' renderer;
    ``tests/reliability/test_startup.py`` checks they agree), kept here so a command that draws a
    table (``rledger stats``) starts without loading the projections and numpy.
    """
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
