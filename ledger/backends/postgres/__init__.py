"""The ``postgresql://user[:pw]@host:port/db[?schema=s]`` backend: the production engine."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from ledger.backends.postgres.pool import LedgerDatastore, connect_options, translate
from ledger.backends.postgres.recorder import PostgresLedgerRecorder
from ledger.deadline import DEFAULT_TIMEOUT

SCHEMES = ("postgresql", "postgres")
"""The URL schemes this backend serves."""


def from_url(
    url: str, shown: str, *, create: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> PostgresLedgerRecorder:
    """Connect to the database a ``postgresql://`` URL names and open (creating) the ledger.

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname[?schema=name]``; the defaults are
            user ``postgres``, host ``127.0.0.1``, port 5432, database ``postgres``, schema
            ``public``.
        shown: the URL with any password redacted (kept as the backend's ``url``).
        create: create the schema and tables if missing; ``False`` (the CLI's reading
            commands) refuses a schema without the ledger's tables, so a mistyped
            ``?schema=`` is an error, not a new empty ledger answering "no data".
        timeout: the deadline in seconds of every operation (see :mod:`ledger.deadline`).

    Raises:
        BackendUnavailableError: the server cannot be reached.
        FileNotFoundError: ``create`` is false and the schema holds no ledger.
    """
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return open_postgres(
        dbname=(parts.path or "/").lstrip("/") or "postgres",
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        url=shown,
        schema=query.get("schema", ""),
        timeout=timeout,
        create=create,
    )


def open_postgres(
    *,
    dbname: str,
    host: str,
    port: int,
    user: str,
    password: str,
    url: str,
    schema: str = "",
    pool_size: int = 2,
    max_overflow: int = 8,
    timeout: float = DEFAULT_TIMEOUT,
    create: bool = True,
) -> PostgresLedgerRecorder:
    """Connect to PostgreSQL and open the ledger's tables (creating them if ``create``).

    Raises:
        BackendUnavailableError: the server cannot be reached.
        FileNotFoundError: ``create`` is false and the schema holds no ledger.
    """
    options = connect_options(timeout)
    try:
        # Fail fast with a clear message rather than a pool time-out later.
        psycopg.connect(dbname=dbname, host=host, port=port, user=user, password=password, **options).close()
    except psycopg.Error as exc:
        raise translate(exc, url, "connect", timeout, cut=False) from exc
    datastore = LedgerDatastore(
        dbname=dbname,
        host=host,
        port=port,
        user=user,
        password=password,
        pool_size=pool_size,
        max_overflow=max_overflow,
        schema=schema,
        timeout=timeout,
        url=url,
    )
    connect_kwargs: dict[str, Any] = {
        "dbname": dbname,
        "host": host,
        "port": port,
        "user": user,
        "password": password,
        **options,
    }
    recorder = PostgresLedgerRecorder(datastore, url, connect_kwargs)
    if not create and not recorder.exists():
        recorder.close()
        raise FileNotFoundError(
            f"no ledger at {url}: schema '{datastore.schema}' has no ledger tables "
            "(only append and demo create one; check ?schema=)"
        )
    recorder.create_table()
    return recorder


__all__ = ["SCHEMES", "PostgresLedgerRecorder", "from_url", "open_postgres"]
