"""``SQLMetricStorage(db)`` takes what a user has in hand: a URL, a psycopg connection or pool, a
sqlite3 connection (issue #12). The storage opens its own connections to the same database.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from ledger import LedgerError, open_ledger
from projections import ReliabilityMetrics, SQLMetricStorage
from tests.conftest import sqlite_url, with_schema


def record_and_reopen(storage: SQLMetricStorage, url: str) -> int:
    """Record a step through ``storage`` and return the steps a fresh ledger on ``url`` reports."""
    try:
        asyncio.run(ReliabilityMetrics(storage=storage).record_step("planner", True))
    finally:
        storage.close()
    with open_ledger(url) as reopened:
        return ReliabilityMetrics(ledger=reopened).report().total_steps


def test_a_sqlite_connection_stores_in_its_file(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "app.db")
    try:
        assert record_and_reopen(SQLMetricStorage(conn), sqlite_url(tmp_path / "app.db")) == 1
    finally:
        conn.close()


def test_an_in_memory_sqlite_connection_is_a_clear_error() -> None:
    with pytest.raises(LedgerError, match="needs a file other processes can open"):
        SQLMetricStorage(sqlite3.connect(":memory:"))


@pytest.mark.postgres
def test_a_psycopg_connection_stores_in_its_database_and_schema(pg_server_url: str, pg_schema: str) -> None:
    with psycopg.connect(pg_server_url, options=f"-c search_path={pg_schema}") as conn:
        storage = SQLMetricStorage(conn)
        assert record_and_reopen(storage, with_schema(pg_server_url, pg_schema)) == 1
        assert conn.execute("SELECT count(*) FROM ledger_events").fetchone() == (1,)


@pytest.mark.postgres
def test_a_pool_with_a_schema_argument_stores_there(pg_server_url: str, pg_schema: str) -> None:
    with ConnectionPool(pg_server_url, min_size=1) as pool:
        storage = SQLMetricStorage(pool, schema=pg_schema)
        assert record_and_reopen(storage, with_schema(pg_server_url, pg_schema)) == 1


def test_anything_else_names_what_it_got_and_what_it_accepts() -> None:
    with pytest.raises(LedgerError, match=r"got object, expected a ledger URL .*sqlite3\.Connection"):
        SQLMetricStorage(object())  # type: ignore[arg-type]
