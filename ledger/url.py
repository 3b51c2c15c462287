"""Open a ledger from a URL: the one place a backend is chosen."""

from __future__ import annotations

import os
from urllib.parse import parse_qs, unquote, urlsplit

from ledger.backends.base import LedgerBackend
from ledger.errors import BackendUnavailableError, UnsupportedURLError
from ledger.events import utc_now
from ledger.store import Clock, Ledger

DEFAULT_URL = "sqlite:///ledger.db"
"""The CLI's default ledger: a SQLite file in the working directory."""


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def open_backend(url: str) -> LedgerBackend:
    """Return the backend a URL names (creating tables if needed)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    shown = redact(url)
    if scheme == "memory":
        from ledger.backends.memory import MemoryLedgerRecorder

        return MemoryLedgerRecorder(shown)
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as SQLAlchemy spells them.
        path = unquote(url.split("://", 1)[1])
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise UnsupportedURLError(url)
        from ledger.backends.sqlite import open_sqlite

        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise BackendUnavailableError(shown, f"directory {directory} does not exist")
        try:
            return open_sqlite(path, shown)
        except Exception as exc:  # translate driver errors at the seam
            raise BackendUnavailableError(shown, str(exc)) from exc
    if scheme in ("postgresql", "postgres"):
        from ledger.backends.postgres import open_postgres

        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return open_postgres(
            dbname=(parts.path or "/").lstrip("/") or "postgres",
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
            url=shown,
            schema=query.get("schema", ""),
        )
    raise UnsupportedURLError(url)


def open_ledger(url: str = "memory://", *, clock: Clock = utc_now) -> Ledger:
    """Open the ledger a URL names.

    Args:
        url: ``memory://`` (default; nothing persists), ``sqlite:///path/to/file.db`` or
            ``postgresql://user:password@host:port/dbname[?schema=name]``.
        clock: returns aware UTC datetimes; the ledger's commit times come from it.

    Raises:
        UnsupportedURLError: no backend understands the URL.
        BackendUnavailableError: the database cannot be reached or opened.
    """
    return Ledger(open_backend(url), clock=clock)
