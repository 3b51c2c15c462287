"""``url_of``: the ledger URL of a connection a user has in hand (issue #12).

A psycopg connection or pool names its server, database and user; a sqlite3 connection its file.
The ledger opens its own connections to that database (never the user's), so the URL is all it
takes from them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ledger import LedgerError, StepRecorded, open_ledger, url_of
from tests.conftest import sqlite_url


@pytest.fixture
def pg_conn(pg_server_url: str, pg_schema: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(pg_server_url, options=f"-c search_path={pg_schema}")
    yield conn
    conn.close()


def test_a_url_is_its_own_url() -> None:
    assert url_of("sqlite:///x.db") == "sqlite:///x.db"


def test_a_sqlite_connection_names_its_file(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "user.db")
    try:
        url = url_of(conn)
        with open_ledger(url) as ledger:
            ledger.append(StepRecorded(agent="a", success=True))
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'ledger%'").fetchone()[0] > 0
    finally:
        conn.close()
    assert url == sqlite_url(tmp_path / "user.db")


def test_an_in_memory_sqlite_connection_is_refused_with_the_reason() -> None:
    conn = sqlite3.connect(":memory:")
    try:
        with pytest.raises(LedgerError, match=r"in-memory SQLite .* a file other processes can open"):
            url_of(conn)
    finally:
        conn.close()


@pytest.mark.postgres
def test_a_psycopg_connection_names_its_server_database_user_and_schema(
    pg_conn: psycopg.Connection, pg_schema: str
) -> None:
    parts = urlsplit(url_of(pg_conn))

    assert parts.scheme == "postgresql" and parts.hostname == "127.0.0.1" and parts.port == 5432
    assert parts.path == "/test" and parts.username == "postgres" and parts.password is None
    assert parse_qs(parts.query) == {"schema": [pg_schema]}


@pytest.mark.postgres
def test_the_schema_argument_wins_and_a_connection_without_one_uses_the_default(
    pg_server_url: str, pg_conn: psycopg.Connection
) -> None:
    assert parse_qs(urlsplit(url_of(pg_conn, schema="other")).query) == {"schema": ["other"]}
    with psycopg.connect(pg_server_url) as plain:
        assert urlsplit(url_of(plain)).query == ""


@pytest.mark.postgres
def test_a_ledger_opened_from_a_connection_writes_in_its_schema_and_leaves_it_idle(
    pg_conn: psycopg.Connection,
) -> None:
    with open_ledger(url_of(pg_conn)) as ledger:
        ledger.append(StepRecorded(agent="a", success=True))

    assert pg_conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # untouched by url_of
    assert pg_conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (1,)


@pytest.mark.postgres
def test_a_pool_names_its_conninfo_with_the_password_only_when_given(
    pg_server_url: str, pg_schema: str
) -> None:
    with ConnectionPool(
        pg_server_url, kwargs={"options": f"-c search_path={pg_schema}"}, min_size=1, open=True
    ) as pool:
        parts = urlsplit(url_of(pool))
        assert (parts.hostname, parts.port, parts.path, parts.username) == (
            "127.0.0.1",
            5432,
            "/test",
            "postgres",
        )
        assert parts.password is None and parse_qs(parts.query) == {"schema": [pg_schema]}
    secret = ConnectionPool(f"{pg_server_url}?password=s%40cret", open=False)  # never connects
    assert urlsplit(url_of(secret)).password == "s%40cret"


@pytest.mark.postgres
def test_an_async_connection_is_accepted(pg_server_url: str, pg_schema: str) -> None:
    async def user() -> str:
        conn = await psycopg.AsyncConnection.connect(pg_server_url, options=f"-c search_path={pg_schema}")
        try:
            return url_of(conn)
        finally:
            await conn.close()

    assert parse_qs(urlsplit(asyncio.run(user())).query) == {"schema": [pg_schema]}


def test_anything_else_names_the_type_received_and_what_is_accepted() -> None:
    with pytest.raises(LedgerError) as error:
        url_of(object())

    message = str(error.value)
    assert "got object" in message
    for accepted in ("URL", "psycopg Connection", "ConnectionPool", "sqlite3.Connection"):
        assert accepted in message
