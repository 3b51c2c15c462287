"""What a command writes to: the output interface the ``rledger`` entry point implements.

Commands never print; they are handed an :class:`Output` and ``cli.py`` decides that it means
the terminal. A test can hand them one that collects the text instead.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
"""The ledger could not be reached, or did not answer within its deadline: worth a retry."""


class Output(Protocol):
    """Where a command's results (stdout) and diagnostics (stderr) go."""

    def write(self, text: str = "", *, end: str = "\n", flush: bool = False) -> None:
        """Write ``text`` and ``end`` as a result; ``flush`` for lines a watcher waits for."""

    def write_bytes(self, data: bytes) -> None:
        """Write already-encoded result bytes (e.g. a JSON-lines history)."""

    def json_line(self, obj: Any, *, indent: bool = False) -> None:
        """Write ``obj`` as one JSON document (dataclasses and datetimes as orjson writes them)."""

    def error(self, text: str) -> None:
        """Write a diagnostic line (the result stays clean for a pipe)."""

    def progress(
        self, total: int, desc: str, *, quiet: bool = False
    ) -> AbstractContextManager[Callable[[int], None]]:
        """A progress display for a long task; the callable it yields sets the count done."""
        ...
