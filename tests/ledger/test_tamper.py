"""Verify finds tampering: rows edited, deleted or cut off behind the ledger's back.

The tampering goes around the ledger, straight at the storage: the memory backend's row list,
the SQLite file through ``sqlite3``, the PostgreSQL schema through ``psycopg``, the Redis keys
through ``redis``.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import psycopg
import pytest
import redis
from psycopg import sql

from ledger import Ledger, StepRecorded, open_ledger
from ledger import chain as chain_module
from ledger.backends.base import ReadQuery
from ledger.backends.memory import MemoryLedgerRecorder
from ledger.backends.packed_rows import pack_row, unpack_row
from ledger.backends.redis.layout import Keys
from tests.conftest import PG_URL, MakeLedger


def as_bytes(value: object) -> bytes:
    assert isinstance(value, bytes | memoryview), type(value)
    return bytes(value)


class Storage:
    """Raw access to a ledger's stored rows, bypassing the ledger."""

    def state(self, offset: int) -> bytes:
        raise NotImplementedError

    def set_state(self, offset: int, state: bytes) -> None:
        raise NotImplementedError

    def set_chain(self, offset: int, chain: bytes) -> None:
        raise NotImplementedError

    def set_head_chain(self, chain: bytes) -> None:
        raise NotImplementedError

    def delete(self, offset: int) -> None:
        raise NotImplementedError


class MemoryStorage(Storage):
    def __init__(self, backend: MemoryLedgerRecorder) -> None:
        self.rows = backend._rows
        self.backend = backend

    def _index(self, offset: int) -> int:
        return next(i for i, r in enumerate(self.rows) if r.offset == offset)

    def state(self, offset: int) -> bytes:
        return self.rows[self._index(offset)].state

    def set_state(self, offset: int, state: bytes) -> None:
        i = self._index(offset)
        self.rows[i] = self.rows[i]._replace(state=state)

    def set_chain(self, offset: int, chain: bytes) -> None:
        i = self._index(offset)
        self.rows[i] = self.rows[i]._replace(chain=chain)

    def set_head_chain(self, chain: bytes) -> None:
        assert self.backend._head is not None
        self.backend._head = dataclasses.replace(self.backend._head, chain=chain)

    def delete(self, offset: int) -> None:
        del self.rows[self._index(offset)]


class SQLiteStorage(Storage):
    def __init__(self, path: str) -> None:
        self.path = path

    def _run(self, statement: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(self.path)
        try:
            with conn:
                return conn.execute(statement, params).fetchall()
        finally:
            conn.close()

    def state(self, offset: int) -> bytes:
        rows = self._run("SELECT state FROM ledger_events WHERE notification_id = ?", (offset,))
        return as_bytes(rows[0][0])

    def set_state(self, offset: int, state: bytes) -> None:
        self._run("UPDATE ledger_events SET state = ? WHERE notification_id = ?", (state, offset))

    def set_chain(self, offset: int, chain: bytes) -> None:
        self._run("UPDATE ledger_events SET chain = ? WHERE notification_id = ?", (chain, offset))

    def set_head_chain(self, chain: bytes) -> None:
        self._run("UPDATE ledger_head SET chain = ?", (chain,))

    def delete(self, offset: int) -> None:
        self._run("DELETE FROM ledger_events WHERE notification_id = ?", (offset,))


class PostgresStorage(Storage):
    def __init__(self, schema: str) -> None:
        self.schema = schema

    def _run(self, statement: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def state(self, offset: int) -> bytes:
        rows = self._run("SELECT state FROM ledger_events WHERE notification_id = %s", (offset,))
        return as_bytes(rows[0][0])

    def set_state(self, offset: int, state: bytes) -> None:
        self._run("UPDATE ledger_events SET state = %s WHERE notification_id = %s", (state, offset))

    def set_chain(self, offset: int, chain: bytes) -> None:
        self._run("UPDATE ledger_events SET chain = %s WHERE notification_id = %s", (chain, offset))

    def set_head_chain(self, chain: bytes) -> None:
        self._run("UPDATE ledger_head SET chain = %s", (chain,))

    def delete(self, offset: int) -> None:
        self._run("DELETE FROM ledger_events WHERE notification_id = %s", (offset,))


class RedisStorage(Storage):
    def __init__(self, url: str) -> None:
        self.url = url
        self.keys = Keys(parse_qs(urlsplit(url).query)["prefix"][0])

    def _client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url.split("?", 1)[0])

    def _rewrite(self, offset: int, *, state: bytes | None = None, chain: bytes | None = None) -> None:
        client = self._client()
        try:
            row = unpack_row(offset, as_bytes(client.hget(self.keys.rows, offset)))
            row = row._replace(state=state or row.state, chain=chain or row.chain)
            client.hset(self.keys.rows, offset, pack_row(row))
        finally:
            client.close()

    def state(self, offset: int) -> bytes:
        client = self._client()
        try:
            return unpack_row(offset, as_bytes(client.hget(self.keys.rows, offset))).state
        finally:
            client.close()

    def set_state(self, offset: int, state: bytes) -> None:
        self._rewrite(offset, state=state)

    def set_chain(self, offset: int, chain: bytes) -> None:
        self._rewrite(offset, chain=chain)

    def set_head_chain(self, chain: bytes) -> None:
        client = self._client()
        try:
            client.hset(self.keys.head, "chain", chain)
        finally:
            client.close()

    def delete(self, offset: int) -> None:
        client = self._client()
        try:
            client.hdel(self.keys.rows, offset)
        finally:
            client.close()


class NatsStorage(Storage):
    """A JetStream ledger's stream, through the JetStream API: what an operator could do to it.

    Its messages cannot be changed in place and the stream denies deleting one, but a purge
    filtered to one message's subject removes it (the ledger's prune needs purges allowed).
    """

    def __init__(self, ledger: Ledger) -> None:
        self.backend = ledger.backend

    def _row(self, offset: int) -> tuple[str, bytes]:
        from ledger.backends.nats.jetstream import leader_get

        b = self.backend
        msg = b.loop.run(leader_get(b.nc, b.names.stream, {"seq": offset}, 5), "tamper")  # type: ignore[attr-defined]
        assert msg is not None
        return msg.subject, msg.data

    def state(self, offset: int) -> bytes:
        from ledger.backends.packed_rows import unpack_row

        return unpack_row(offset, self._row(offset)[1]).state

    def set_state(self, offset: int, state: bytes) -> None:
        pytest.skip("a JetStream message cannot be changed in place through the server")

    set_chain = set_state
    set_head_chain = set_state  # type: ignore[assignment]

    def delete(self, offset: int) -> None:
        from ledger.backends.nats.jetstream import api

        b = self.backend
        request = {"filter": self._row(offset)[0]}
        b.loop.run(api(b.nc, f"STREAM.PURGE.{b.names.stream}", request, 5), "tamper")  # type: ignore[attr-defined]


def storage_of(ledger: Ledger, url: str) -> Storage:
    if isinstance(ledger.backend, MemoryLedgerRecorder):
        return MemoryStorage(ledger.backend)
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return SQLiteStorage(url.split("://", 1)[1][1:])
    if parts.scheme == "redis":
        return RedisStorage(url)
    if parts.scheme == "nats":
        return NatsStorage(ledger)
    return PostgresStorage(parse_qs(parts.query)["schema"][0])


EVENTS = 6


@pytest.fixture
def written(make_ledger: MakeLedger, ledger_url: str) -> Iterator[tuple[Ledger, Storage]]:
    """A ledger holding six steps that verifies clean, and raw access to its storage."""
    ledger = make_ledger()
    for i in range(EVENTS):
        ledger.append(StepRecorded(workflow_id=f"w{i % 2}", agent="a", success=True))
    assert ledger.verify().ok
    yield ledger, storage_of(ledger, ledger_url)


def flip_success(state: bytes) -> bytes:
    data = orjson.loads(state)
    data["success"] = not data["success"]
    return orjson.dumps(data)


def kinds(ledger: Ledger) -> list[tuple[str, int]]:
    return [(p.kind, p.offset) for p in ledger.verify().problems]


def test_verify_finds_an_edited_row_at_its_offset(written: tuple[Ledger, Storage]) -> None:
    ledger, storage = written

    storage.set_state(3, flip_success(storage.state(3)))

    report = ledger.verify()
    assert not report.ok
    assert kinds(ledger) == [("edited", 3)]
    assert report.first_bad_offset == 3
    assert report.events_checked == EVENTS


def test_verify_finds_a_deleted_row_in_the_middle(written: tuple[Ledger, Storage]) -> None:
    ledger, storage = written

    storage.delete(3)

    report = ledger.verify()
    assert not report.ok
    assert kinds(ledger) == [("missing", 3)]
    assert report.events_checked == EVENTS - 1


def test_verify_finds_a_truncated_tail(written: tuple[Ledger, Storage]) -> None:
    ledger, storage = written

    storage.delete(EVENTS)
    storage.delete(EVENTS - 1)

    report = ledger.verify()
    assert not report.ok
    assert kinds(ledger) == [("truncated", EVENTS - 1)]
    assert (report.last_offset, report.head_offset) == (EVENTS - 2, EVENTS)


def test_verify_finds_an_edit_whose_link_was_recomputed(written: tuple[Ledger, Storage]) -> None:
    ledger, storage = written
    previous = next(ledger.read_rows(ReadQuery(after=1, through=2))).chain
    forged = flip_success(storage.state(3))
    (row,) = ledger.read_rows(ReadQuery(after=2, through=3))

    storage.set_state(3, forged)
    storage.set_chain(3, chain_module.link(previous, 3, row.stream, row.version, forged))

    # Row 3 now links to row 2 again; row 4's stored link no longer follows from row 3's.
    assert kinds(ledger) == [("edited", 4)]


def test_verify_finds_a_rewritten_chain_at_a_checkpoint(
    make_ledger: MakeLedger, ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The forger edits row 2 and recomputes every later link and the head: only the
    # checkpoint recorded at offset 4 still remembers the original chain.
    monkeypatch.setattr(chain_module, "CHECKPOINT_EVERY", 4)
    ledger = make_ledger()
    for i in range(EVENTS):
        ledger.append(StepRecorded(workflow_id="w", agent="a", success=True, mode=f"m{i}"))
    storage = storage_of(ledger, ledger_url)
    rows = list(ledger.read_rows(ReadQuery()))

    storage.set_state(2, flip_success(rows[1].state))
    previous = rows[0].chain
    for row in rows[1:]:
        state = storage.state(row.offset)
        previous = chain_module.link(previous, row.offset, row.stream, row.version, state)
        storage.set_chain(row.offset, previous)
    storage.set_head_chain(previous)

    report = ledger.verify()
    assert not report.ok
    assert kinds(ledger) == [("checkpoint_mismatch", 4)]


def test_verify_reports_a_sqlite_value_whose_storage_type_was_changed(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append([StepRecorded(workflow_id="w", agent="a", success=True) for _ in range(3)])
    conn = sqlite3.connect(path)
    with conn:
        # replace() on a BLOB returns TEXT: the row's value is now a different storage type.
        conn.execute(
            "UPDATE ledger_events SET state = replace(state, 'true', 'false') WHERE notification_id = 2"
        )
        assert conn.execute(
            "SELECT typeof(state) FROM ledger_events WHERE notification_id = 2"
        ).fetchone() == ("text",)
    conn.close()

    with open_ledger(f"sqlite:///{path}") as ledger:
        report = ledger.verify()
    assert not report.ok
    assert [(p.kind, p.offset) for p in report.problems] == [("edited", 2)]
    assert report.events_checked == 3


def test_verify_reports_a_sqlite_chain_stored_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with open_ledger(f"sqlite:///{path}") as ledger:
        ledger.append([StepRecorded(workflow_id="w", agent="a", success=True) for _ in range(3)])
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("UPDATE ledger_events SET chain = hex(chain) WHERE notification_id = 2")
    conn.close()

    with open_ledger(f"sqlite:///{path}") as ledger:
        problems = [(p.kind, p.offset) for p in ledger.verify().problems]
    assert problems[0] == ("edited", 2)


@pytest.mark.postgres
def test_verify_reports_a_postgres_row_edited_in_sql(pg_url: str) -> None:
    # PostgreSQL columns are typed (bytea): an edit cannot change a value's type, only its bytes.
    with open_ledger(pg_url) as ledger:
        ledger.append([StepRecorded(workflow_id="w", agent="a", success=True) for _ in range(3)])
        storage = storage_of(ledger, pg_url)
        assert isinstance(storage, PostgresStorage)
        storage._run(
            "UPDATE ledger_events SET state = convert_to(replace(convert_from(state, 'UTF8'), 'true', "
            "'false'), 'UTF8') WHERE notification_id = 2",
            (),
        )

        assert kinds(ledger) == [("edited", 2)]
