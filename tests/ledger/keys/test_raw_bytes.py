"""After ``forget`` the subject's plaintext is nowhere in the database's bytes, and its key row is gone.

The plaintext of an event about a subject never reaches the disk (it is sealed before the
write); these tests read the files and pages themselves. Each also finds the plaintext of an
event about nobody, stored as ever, so a scan that could not see text would fail them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from ledger import open_ledger
from ledger.keys.stores import TABLE
from tests.conftest import sqlite_url
from tests.ledger.keys.conftest import ALICE_SECRET, BOB_SECRET, PLAIN_SECRET, subject_events

pytestmark = pytest.mark.usefixtures("master_key")


def _sqlite_bytes(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def test_sqlite_file_and_wal_hold_no_plaintext_of_a_forgotten_subject(tmp_path: Path) -> None:
    path = tmp_path / "raw.db"
    with open_ledger(sqlite_url(path)) as ledger:
        ledger.append(subject_events())
        ref = next(ledger.read()).event.subject
        with sqlite3.connect(path) as conn:
            (wrapped,) = conn.execute(f"SELECT wrapped FROM {TABLE} WHERE subject = ?", (ref,)).fetchone()
        ledger.forget("alice", reason="r")
        before_checkpoint = _sqlite_bytes(path)  # main file and WAL, the ledger still open
        records = list(ledger.read())
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        left = conn.execute(f"SELECT count(*) FROM {TABLE} WHERE subject = ?", (ref,)).fetchone()[0]
    after_checkpoint = _sqlite_bytes(path)
    for raw in (before_checkpoint, after_checkpoint):
        assert ALICE_SECRET.encode() not in raw
        assert BOB_SECRET.encode() not in raw
        assert PLAIN_SECRET.encode() in raw  # the scan sees stored text
    assert left == 0
    assert bytes(wrapped) not in path.read_bytes()  # secure_delete: the key row's bytes are gone too
    assert records[2].event.result == BOB_SECRET  # type: ignore[union-attr]


def _schema_relation_bytes(server_url: str, schema: str) -> bytes:
    """Every table, TOAST table and index page of the schema, as on disk (after a checkpoint)."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
        rows = conn.execute(
            "SELECT pg_relation_filepath(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 't', 'i') "
            "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.reltoastrelid <> 0",
            [schema, schema],
        ).fetchall()
        chunks = []
        for (filepath,) in rows:
            if filepath is None:
                continue
            try:
                chunks.append(conn.execute("SELECT pg_read_binary_file(%s)", [filepath]).fetchone()[0])  # type: ignore[index]
            except psycopg.errors.UndefinedFile:
                continue  # an empty relation has no file yet
        return b"".join(bytes(c) for c in chunks)


def _schema_dump(server_url: str, schema: str) -> bytes:
    """Every table of the schema as ``COPY … TO STDOUT (FORMAT binary)`` writes it (bytea as its bytes)."""
    out = b""
    with psycopg.connect(server_url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema]
        ).fetchall()
        for (name,) in tables:
            with conn.cursor().copy(
                sql.SQL("COPY {} TO STDOUT (FORMAT binary)").format(sql.Identifier(schema, name))
            ) as copy:
                for block in copy:
                    out += bytes(block)
    return out


@pytest.mark.postgres
def test_postgres_pages_and_dump_hold_no_plaintext_of_a_forgotten_subject(
    pg_server_url: str, pg_schema: str, pg_url: str
) -> None:
    with open_ledger(pg_url) as ledger:
        ledger.append(subject_events())
        ledger.forget("alice", reason="r")
        records = list(ledger.read())
        ref = records[0].event.subject
    pages = _schema_relation_bytes(pg_server_url, pg_schema)
    dump = _schema_dump(pg_server_url, pg_schema)
    for raw in (pages, dump):
        assert ALICE_SECRET.encode() not in raw
        assert BOB_SECRET.encode() not in raw
        assert PLAIN_SECRET.encode() in raw
    with psycopg.connect(pg_server_url) as conn:
        left = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE subject = %s").format(sql.Identifier(pg_schema, TABLE)),
            [ref],
        ).fetchone()
    assert left == (0,)
    assert records[2].event.result == BOB_SECRET  # type: ignore[union-attr]
