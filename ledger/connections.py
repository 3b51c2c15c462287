"""The ledger URL of a connection a user already has: a psycopg connection or pool, a sqlite3 one.

The ledger never uses the caller's connection: it opens its own to the same database. Its appends
take a table lock inside their own transactions; run on the caller's connection they would
interleave with whatever transaction the caller has open (committing or rolling back the caller's
work with the ledger's, or deadlocking against it). So all it takes from a connection is where it
points: server, port, database, user (and a password only when the caller gave one), or a file.
"""

from __future__ import annotations

import re
import sys
from typing import Any
from urllib.parse import quote, urlencode

from ledger.errors import LedgerError

ACCEPTED = (
    "a ledger URL (str), a psycopg Connection or AsyncConnection, a psycopg_pool ConnectionPool "
    "or AsyncConnectionPool, or a sqlite3.Connection to a file"
)
"""What :func:`url_of` accepts, as its error message says."""

_SEARCH_PATH = re.compile(r"(?:-c\s*|--)search_path\s*=\s*(\S+)")


def url_of(db: object, *, schema: str | None = None) -> str:
    """Return the ledger URL of the database ``db`` points at (a URL is returned as given).

    A psycopg connection or pool gives ``postgresql://user[:password]@host:port/dbname``, with
    ``?schema=`` from ``schema`` or else the first entry of a ``search_path`` set in the
    connection's ``options`` (``-c search_path=name``); without either the ledger uses its default
    schema (``public``). A session's ``SET search_path`` is not read: asking would start a
    transaction on the caller's connection. A sqlite3 connection gives its main database's file.
    The password is in the URL only when the connection was given one; the ledger shows URLs
    with it redacted.

    Args:
        db: a URL, a psycopg ``Connection``/``AsyncConnection``, a psycopg_pool
            ``ConnectionPool``/``AsyncConnectionPool``, or a ``sqlite3.Connection``.
        schema: the PostgreSQL schema of the ledger (overrides the connection's ``search_path``).

    Raises:
        LedgerError: ``db`` is none of these, is an in-memory SQLite database (other processes
            cannot open it), or connects over a Unix socket or to several hosts.
    """
    if isinstance(db, str):
        return db
    sqlite3 = sys.modules.get("sqlite3")
    if sqlite3 is not None and isinstance(db, sqlite3.Connection):
        return _sqlite_url(db)
    params = _postgres_params(db)
    if params is None:
        raise LedgerError(
            f"cannot open a ledger on {type(db).__module__}.{type(db).__qualname__}: "
            f"got {type(db).__name__}, expected {ACCEPTED}"
        )
    return _postgres_url(params, schema)


def _sqlite_url(conn: Any) -> str:
    cursor = conn.execute("PRAGMA database_list")  # a read: starts no transaction
    try:
        files = {name: path for _, name, path in cursor.fetchall()}
    finally:
        cursor.close()
    path = files.get("main") or ""
    if not path:
        raise LedgerError(
            "an in-memory SQLite connection cannot hold the ledger: it needs a file other processes "
            "can open (connect to a file, or pass a sqlite:///path.db URL)"
        )
    return f"sqlite:///{quote(path, safe='/')}"


def _postgres_params(db: object) -> dict[str, str] | None:
    """The connection parameters of a psycopg connection or pool (``None`` for anything else)."""
    psycopg = sys.modules.get("psycopg")
    if psycopg is None:
        return None  # no psycopg object can exist before psycopg is imported
    if isinstance(db, psycopg.Connection | psycopg.AsyncConnection):
        info = db.info
        params: dict[str, str] = dict(info.get_parameters())
        params.update(host=info.host, port=str(info.port), dbname=info.dbname, user=info.user)
        if info.password:
            params["password"] = info.password
        return params
    pool = sys.modules.get("psycopg_pool")
    if pool is not None and isinstance(db, pool.ConnectionPool | pool.AsyncConnectionPool):
        given = psycopg.conninfo.conninfo_to_dict(db.conninfo, **(db.kwargs or {}))
        # What libpq would use for what the pool leaves out (environment, then compiled defaults).
        defaults = {
            o.keyword.decode(): o.val.decode()
            for o in psycopg.pq.Conninfo.get_defaults()
            if o.val is not None
        }
        return {**defaults, **{k: str(v) for k, v in given.items() if v is not None}}
    return None


def _postgres_url(params: dict[str, str], schema: str | None) -> str:
    host = params.get("host") or params.get("hostaddr") or ""
    if not host or host.startswith("/") or "," in host:
        raise LedgerError(
            f"the ledger connects to PostgreSQL over TCP to one host; this connection uses "
            f"'{host or 'the default Unix socket'}': pass a postgresql://user@host:port/db URL"
        )
    user = params.get("user") or "postgres"
    netloc = quote(user, safe="")
    if params.get("password"):
        netloc += ":" + quote(params["password"], safe="")
    host = f"[{host}]" if ":" in host else host
    netloc += f"@{host}:{params.get('port') or 5432}"
    dbname = params.get("dbname") or user  # libpq's default database is the user's name
    if schema is None:
        match = _SEARCH_PATH.search(params.get("options") or "")
        first = match.group(1).split(",")[0].strip("'\"") if match else ""
        schema = first if first and first != "$user" else None
    query = f"?{urlencode({'schema': schema})}" if schema else ""
    return f"postgresql://{netloc}/{dbname}{query}"
