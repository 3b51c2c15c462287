"""Where subject data keys are kept: a :class:`KeyStore`, apart from the events.

Each key is stored wrapped by the master key (:mod:`ledger.keys.master`), under a key id, with
the subject's pseudonym (for ``forget``) and, for keys of a field horizon, the horizon in days
and the day its events occurred on (for retention by field). By default the store is a table,
``rledger_subject_keys``, in the ledger's own SQLite file or PostgreSQL schema; a KMS-backed
store implements the same protocol. Destroying a key deletes its row: the ciphertexts of the
events it encrypted stay in the chain, unreadable.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from contextlib import closing
from typing import TYPE_CHECKING, Any, Protocol

from ledger.keys.errors import SubjectsUnsupportedError

if TYPE_CHECKING:
    from ledger.backends.base import LedgerBackend

TABLE = "rledger_subject_keys"
"""The key table's name (in the ledger's SQLite file or PostgreSQL schema)."""

KeyRow = tuple[str, str, int | None, str | None, bytes]
"""One key as stored: key id, subject pseudonym, horizon in days, day (ISO date), wrapped key."""


class KeyStore(Protocol):
    """Get, create and destroy subjects' wrapped data keys."""

    def get(self, key_id: str) -> bytes | None:
        """Return the wrapped key stored under ``key_id`` (``None``: none, or destroyed)."""
        ...

    def get_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the wrapped keys stored under any of ``key_ids`` (the others are left out)."""
        ...

    def create_many(self, rows: Sequence[KeyRow]) -> dict[str, bytes]:
        """Store each row's wrapped key unless a key is there, in one transaction; return the keys
        stored under those ids (a race's winner where another writer made one first)."""
        ...

    def destroy_subject(self, subject: str) -> int:
        """Delete every key of the subject (its pseudonym); return how many were deleted."""
        ...

    def destroy_expired(self, horizon_days: int, before_day: str) -> int:
        """Delete the keys of a horizon whose day is before ``before_day`` (ISO date); return how many."""
        ...

    def sample(self) -> tuple[str, bytes] | None:
        """Return one stored (key id, wrapped key), or ``None`` when the store holds none."""
        ...


class MemoryKeyStore:
    """Keys in a dict: for ``memory://`` ledgers and tests."""

    def __init__(self) -> None:
        self._rows: dict[str, tuple[str, int | None, str | None, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str) -> bytes | None:
        """Return the wrapped key stored under ``key_id``."""
        row = self._rows.get(key_id)
        return None if row is None else row[3]

    def get_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the wrapped keys stored under any of ``key_ids``."""
        rows = self._rows
        return {k: rows[k][3] for k in key_ids if k in rows}

    def create_many(self, rows: Sequence[KeyRow]) -> dict[str, bytes]:
        """Store each row's key unless one is there; return the stored ones."""
        with self._lock:
            return {r[0]: self._rows.setdefault(r[0], r[1:])[3] for r in rows}

    def destroy_subject(self, subject: str) -> int:
        """Delete every key of the subject."""
        with self._lock:
            gone = [k for k, row in self._rows.items() if row[0] == subject]
            for k in gone:
                del self._rows[k]
        return len(gone)

    def destroy_expired(self, horizon_days: int, before_day: str) -> int:
        """Delete the keys of a horizon whose day is before ``before_day``."""
        with self._lock:
            gone = [
                k
                for k, (_, h, day, _w) in self._rows.items()
                if h == horizon_days and day is not None and day < before_day
            ]
            for k in gone:
                del self._rows[k]
        return len(gone)

    def sample(self) -> tuple[str, bytes] | None:
        """Return one stored key."""
        for key_id, row in list(self._rows.items()):
            return key_id, row[3]
        return None


_SQLITE_CREATE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, "
    "horizon_days INTEGER, day TEXT, wrapped BLOB NOT NULL)"
)


class SQLiteKeyStore:
    """The key table in the ledger's SQLite file.

    Its connections set ``secure_delete``, so a destroyed key's row is overwritten with zeros
    in the file (and in the WAL frame that records the delete), not just unlinked.
    """

    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        conn.execute("PRAGMA secure_delete = ON")
        return conn

    def _exists(self, conn: sqlite3.Connection) -> bool:
        return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,)).fetchone() is not None

    def get(self, key_id: str) -> bytes | None:
        """Return the wrapped key stored under ``key_id``."""
        with closing(self._connect()) as conn:
            if not self._exists(conn):
                return None
            row = conn.execute(f"SELECT wrapped FROM {TABLE} WHERE key_id = ?", (key_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def get_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the wrapped keys stored under any of ``key_ids``."""
        found: dict[str, bytes] = {}
        with closing(self._connect()) as conn:
            if not self._exists(conn):
                return found
            for i in range(0, len(key_ids), 500):  # under SQLite's bound-parameter limit
                chunk = list(key_ids[i : i + 500])
                marks = ", ".join("?" * len(chunk))
                query = f"SELECT key_id, wrapped FROM {TABLE} WHERE key_id IN ({marks})"
                found.update((str(k), bytes(w)) for k, w in conn.execute(query, chunk))
        return found

    def create_many(self, rows: Sequence[KeyRow]) -> dict[str, bytes]:
        """Store each row's key unless one is there, in one transaction; return the stored ones."""
        with closing(self._connect()) as conn:
            conn.execute(_SQLITE_CREATE)
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?) ON CONFLICT (key_id) DO NOTHING", rows
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return self.get_many([r[0] for r in rows])

    def _delete(self, where: str, params: tuple[Any, ...]) -> int:
        with closing(self._connect()) as conn:
            if not self._exists(conn):
                return 0
            count = conn.execute(f"DELETE FROM {TABLE} WHERE {where}", params).rowcount
        return max(count, 0)

    def destroy_subject(self, subject: str) -> int:
        """Delete every key of the subject."""
        return self._delete("subject = ?", (subject,))

    def destroy_expired(self, horizon_days: int, before_day: str) -> int:
        """Delete the keys of a horizon whose day is before ``before_day``."""
        return self._delete("horizon_days = ? AND day < ?", (horizon_days, before_day))

    def sample(self) -> tuple[str, bytes] | None:
        """Return one stored key."""
        with closing(self._connect()) as conn:
            if not self._exists(conn):
                return None
            row = conn.execute(f"SELECT key_id, wrapped FROM {TABLE} LIMIT 1").fetchone()
        return None if row is None else (str(row[0]), bytes(row[1]))


_PG_CREATE = (
    "CREATE TABLE IF NOT EXISTS {t} (key_id TEXT PRIMARY KEY, subject TEXT NOT NULL, "
    "horizon_days INTEGER, day TEXT, wrapped BYTEA NOT NULL)"
)


class PostgresKeyStore:
    """The key table in the ledger's PostgreSQL schema, through the ledger's connection pool.

    A destroy vacuums the table afterwards, so the deleted row's tuple does not linger in its
    pages until autovacuum gets to it.
    """

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        from psycopg.sql import SQL, Identifier

        self._table = SQL("{0}.{1}").format(Identifier(datastore.schema), Identifier(TABLE))
        self._sql = SQL

    def _run(self, statement: str, params: list[Any], *, create: bool = False) -> list[Any]:
        import psycopg

        query = self._sql(statement).format(t=self._table)
        with self.datastore.get_connection("write") as conn:
            try:
                with conn.transaction():
                    if create:
                        conn.execute(self._sql(_PG_CREATE).format(t=self._table))
                    cur = conn.execute(query, params)
                    return list(cur.fetchall()) if cur.description else [cur.rowcount]
            except psycopg.errors.UndefinedTable:
                return []

    def _vacuum(self) -> None:
        with self.datastore.get_connection("write") as conn:
            conn.commit()  # VACUUM cannot run inside a transaction block
            conn.autocommit = True
            try:
                conn.execute(self._sql("VACUUM {t}").format(t=self._table))
            finally:
                conn.autocommit = False

    def get(self, key_id: str) -> bytes | None:
        """Return the wrapped key stored under ``key_id``."""
        rows = self._run("SELECT wrapped FROM {t} WHERE key_id = %s", [key_id])
        return bytes(rows[0]["wrapped"]) if rows else None

    def get_many(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        """Return the wrapped keys stored under any of ``key_ids``."""
        rows = self._run("SELECT key_id, wrapped FROM {t} WHERE key_id = ANY(%s)", [list(key_ids)])
        return {str(r["key_id"]): bytes(r["wrapped"]) for r in rows}

    def create_many(self, rows: Sequence[KeyRow]) -> dict[str, bytes]:
        """Store each row's key unless one is there, in one transaction; return the stored ones."""
        insert = self._sql("INSERT INTO {t} VALUES (%s, %s, %s, %s, %s) ON CONFLICT (key_id) DO NOTHING")
        with self.datastore.get_connection("write") as conn, conn.transaction():
            conn.execute(self._sql(_PG_CREATE).format(t=self._table))
            conn.cursor().executemany(insert.format(t=self._table), list(rows))
        return self.get_many([r[0] for r in rows])

    def _delete(self, where: str, params: list[Any]) -> int:
        rows = self._run("DELETE FROM {t} WHERE " + where, params)
        count = int(rows[0]) if rows else 0
        if count:
            self._vacuum()
        return count

    def destroy_subject(self, subject: str) -> int:
        """Delete every key of the subject."""
        return self._delete("subject = %s", [subject])

    def destroy_expired(self, horizon_days: int, before_day: str) -> int:
        """Delete the keys of a horizon whose day is before ``before_day``."""
        return self._delete("horizon_days = %s AND day < %s", [horizon_days, before_day])

    def sample(self) -> tuple[str, bytes] | None:
        """Return one stored key."""
        rows = self._run("SELECT key_id, wrapped FROM {t} LIMIT 1", [])
        return (str(rows[0]["key_id"]), bytes(rows[0]["wrapped"])) if rows else None


def key_store_for(backend: LedgerBackend) -> KeyStore:
    """Return the default key store of a ledger's backend: a table in the same database.

    Raises:
        SubjectsUnsupportedError: the backend keeps no subject keys (Redis, NATS).
    """
    module = type(backend).__module__
    if module.startswith("ledger.backends.sqlite"):
        pool = backend.datastore.pool  # type: ignore[attr-defined]
        return SQLiteKeyStore(pool.db_name, backend.timeout)
    if module.startswith("ledger.backends.postgres"):
        return PostgresKeyStore(backend.datastore)  # type: ignore[attr-defined]
    if module.startswith("ledger.backends.memory"):
        return MemoryKeyStore()
    raise SubjectsUnsupportedError(backend.url)


__all__ = [
    "TABLE",
    "KeyRow",
    "KeyStore",
    "MemoryKeyStore",
    "PostgresKeyStore",
    "SQLiteKeyStore",
    "key_store_for",
]
