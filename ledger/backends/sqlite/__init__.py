"""The ``sqlite:///path/file.db`` backend: one ledger per SQLite file (WAL), no server."""

from __future__ import annotations

import os
from urllib.parse import unquote

from ledger.backends.sqlite.datastore import LedgerSQLiteDatastore
from ledger.backends.sqlite.recorder import SQLiteLedgerRecorder
from ledger.deadline import DEFAULT_TIMEOUT
from ledger.errors import BackendSetupError, BackendUnavailableError, LedgerError, UnsupportedURLError

SCHEMES = ("sqlite",)
"""The URL schemes this backend serves."""


def from_url(
    url: str, shown: str, *, create: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> SQLiteLedgerRecorder:
    """Open (creating it if needed and ``create``) the ledger a ``sqlite:///`` URL names.

    ``sqlite:///relative.db`` and ``sqlite:////absolute/path.db``, as SQLAlchemy spells them.

    Args:
        url: the URL as given.
        shown: the URL with any password redacted (kept as the backend's ``url``).
        create: create the file if it does not exist (else that is an error).
        timeout: seconds a write waits for the file's lock (another process writing).

    Raises:
        FileNotFoundError: ``create`` is false and the file does not exist.
        UnsupportedURLError: the URL names no file.
        BackendUnavailableError: the file's directory does not exist, or it cannot be opened.
    """
    path = unquote(url.split("://", 1)[1])
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise UnsupportedURLError(url)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise BackendSetupError(shown, f"directory {directory} does not exist")
    if not create and not os.path.exists(path):
        raise FileNotFoundError(f"ledger file {path} does not exist (only append and demo create one)")
    try:
        return open_sqlite(path, shown, timeout=timeout)
    except LedgerError:
        raise
    except Exception as exc:  # translate driver errors at the seam
        raise BackendUnavailableError(shown, str(exc)) from exc


def open_sqlite(path: str, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> SQLiteLedgerRecorder:
    """Open (creating if needed) the ledger in the SQLite file at ``path``."""
    datastore = LedgerSQLiteDatastore(path, timeout=timeout, url=url)
    recorder = SQLiteLedgerRecorder(datastore, url)
    recorder.create_table()
    return recorder


__all__ = ["SCHEMES", "SQLiteLedgerRecorder", "from_url", "open_sqlite"]
