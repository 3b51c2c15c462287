"""Open a ledger from a URL: the one place a backend is chosen."""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

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
    if scheme in ("redis", "rediss"):
        from ledger.backends.redis import open_redis

        # The ledger's own parameters are not the client's: strip them before it parses the rest.
        ours = {k: v for k, v in parse_qsl(parts.query) if k in _LEDGER_PARAMS}
        client_query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in _LEDGER_PARAMS])
        client_url = parts._replace(query=client_query).geturl()
        return open_redis(client_url, prefix=ours.get("prefix", "ledger"), url=shown)
    raise UnsupportedURLError(url)


_LEDGER_PARAMS = ("prefix", "ttl_days")
"""Query parameters of a ``redis://`` URL that the ledger reads (the client reads the rest)."""


def ttl_days_of(url: str) -> float | None:
    """Return the ``?ttl_days=`` of a ``redis://`` URL, if it has one."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss"):
        return None
    value = dict(parse_qsl(parts.query)).get("ttl_days")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise UnsupportedURLError(url) from None


def open_ledger(url: str = "memory://", *, clock: Clock = utc_now, ttl_days: float | None = None) -> Ledger:
    """Open the ledger a URL names.

    Args:
        url: ``memory://`` (default; nothing persists), ``sqlite:///path/to/file.db``,
            ``postgresql://user:password@host:port/dbname[?schema=name]`` or
            ``redis://[:password@]host:port/db[?prefix=name][&ttl_days=N]``.
        clock: returns aware UTC datetimes; the ledger's commit times come from it.
        ttl_days: remove events older than this many days automatically, after appends (at
            most hourly), once every stored projection has folded them (see
            :meth:`Ledger.keep_for`). A ``redis://`` URL may carry it as ``?ttl_days=``.

    Raises:
        UnsupportedURLError: no backend understands the URL.
        BackendUnavailableError: the database cannot be reached or opened.
    """
    ledger = Ledger(open_backend(url), clock=clock)
    days = ttl_days if ttl_days is not None else ttl_days_of(url)
    if days is not None:
        try:
            ledger.keep_for(timedelta(days=days))
        except ValueError:
            ledger.close()
            raise
    return ledger
