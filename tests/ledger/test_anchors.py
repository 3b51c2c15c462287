"""Signed anchors catch what the chain alone cannot: a consistent rewrite by a writer of the database.

Each forgery below goes around the ledger and leaves the store self-consistent — links,
checkpoints, head and indexes all recomputed — so ``verify`` alone passes (that is the limit
documented in ``ledger/chain.py``). An anchor signed before the forgery and kept outside the
database catches each, naming the first offset where the ledger no longer extends it.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import psycopg
import pytest
import redis
from psycopg import sql

from ledger import (
    Anchor,
    AnchorError,
    Ledger,
    StepRecorded,
    load_anchor_key,
    load_public_key,
    new_anchor_key,
    read_anchors,
    sign_head,
    write_anchor,
)
from ledger import chain as chain_module
from ledger.backends.base import ReadQuery
from ledger.backends.memory import MemoryLedgerRecorder
from ledger.backends.packed_rows import pack_row
from ledger.backends.redis.layout import Keys, pack_chain_at
from ledger.backends.rows import Checkpoint, StoredRow
from tests.conftest import PG_URL, MakeLedger

EVENTS = 12


class Forger:
    """A writer of the database who recomputes everything the ledger derives."""

    def __init__(self, ledger: Ledger, url: str) -> None:
        self.ledger = ledger
        self.url = url
        parts = urlsplit(url)
        self.kind = "memory" if isinstance(ledger.backend, MemoryLedgerRecorder) else parts.scheme
        if self.kind == "nats":
            # The stream denies deleting a message and none can be changed in place.
            pytest.skip("a JetStream message cannot be edited or rewritten through the server")
        if self.kind == "redis":
            self.keys = Keys(parse_qs(parts.query)["prefix"][0])
        if self.kind == "postgresql":
            self.schema = parse_qs(parts.query)["schema"][0]

    def rows(self) -> list[StoredRow]:
        return list(self.ledger.read_rows(ReadQuery()))

    # -- raw access, per backend -------------------------------------------------------------

    def _sql(self, statement: str, params: tuple[object, ...] = ()) -> None:
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.url.split("://", 1)[1][1:])
            try:
                with conn:
                    conn.execute(statement.replace("%s", "?"), params)
            finally:
                conn.close()
            return
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
            conn.execute(statement, params)  # type: ignore[arg-type]

    def _redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.url.split("?", 1)[0])

    def _write_rows(self, rows: list[StoredRow]) -> None:
        if self.kind == "memory":
            backend = self.ledger.backend
            assert isinstance(backend, MemoryLedgerRecorder)
            by_offset = {r.offset: r for r in rows}
            backend._rows[:] = [by_offset.get(r.offset, r) for r in backend._rows]
        elif self.kind == "redis":
            client = self._redis()
            try:
                for r in rows:
                    client.hset(self.keys.rows, r.offset, pack_row(r))
            finally:
                client.close()
        else:
            for r in rows:
                self._sql(
                    "UPDATE ledger_events SET state = %s, chain = %s WHERE notification_id = %s",
                    (r.state, r.chain, r.offset),
                )

    def _set_head_and_checkpoints(self, last: StoredRow | None, checkpoints: list[Checkpoint]) -> None:
        if self.kind == "memory":
            backend = self.ledger.backend
            assert isinstance(backend, MemoryLedgerRecorder)
            backend._head = (
                None
                if last is None
                else dataclasses.replace(backend._head, offset=last.offset, chain=last.chain)  # type: ignore[arg-type]
            )
            backend._checkpoints[:] = checkpoints
        elif self.kind == "redis":
            client = self._redis()
            try:
                client.delete(self.keys.checkpoints)
                for cp in checkpoints:
                    client.hset(self.keys.checkpoints, cp.offset, pack_chain_at(cp.chain, cp.recorded_at))
                if last is None:
                    client.delete(self.keys.head)
                else:
                    client.hset(self.keys.head, mapping={"offset": last.offset, "chain": last.chain})
            finally:
                client.close()
        else:
            self._sql("DELETE FROM ledger_checkpoints")
            for cp in checkpoints:
                recorded: object = cp.recorded_at
                if self.kind == "sqlite":
                    recorded = int((cp.recorded_at - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1e6)
                self._sql(
                    'INSERT INTO ledger_checkpoints ("offset", chain, recorded_at) VALUES (%s, %s, %s)',
                    (cp.offset, cp.chain, recorded),
                )
            if last is None:
                self._sql("DELETE FROM ledger_head")
            else:
                self._sql("UPDATE ledger_head SET last_offset = %s, chain = %s", (last.offset, last.chain))

    def _delete_after(self, keep: int) -> None:
        doomed = [r for r in self.rows() if r.offset > keep]
        kept = [r for r in self.rows() if r.offset <= keep]
        versions = {r.stream: r.version for r in kept}
        if self.kind == "memory":
            backend = self.ledger.backend
            assert isinstance(backend, MemoryLedgerRecorder)
            del backend._rows[keep - backend._base :]
            for r in doomed:
                del backend._by_id[r.event_id]
                backend._streams[r.stream].remove(r.offset)
            backend._versions = versions
        elif self.kind == "redis":
            client = self._redis()
            try:
                for r in doomed:
                    client.hdel(self.keys.rows, r.offset)
                    client.hdel(self.keys.ids, r.event_id.bytes)
                    for key in (
                        self.keys.stream(r.stream),
                        self.keys.topic(r.type),
                        self.keys.agent(r.agent or ""),
                    ):
                        client.zrem(key, r.offset)
                client.delete(self.keys.versions)
                if versions:
                    client.hset(self.keys.versions, mapping=versions)  # type: ignore[arg-type]
            finally:
                client.close()
        else:
            self._sql("DELETE FROM ledger_events WHERE notification_id > %s", (keep,))

    # -- the forgeries -----------------------------------------------------------------------

    def _checkpoints_of(self, rows: list[StoredRow]) -> list[Checkpoint]:
        every = chain_module.CHECKPOINT_EVERY
        stamp = datetime(2025, 1, 1, tzinfo=UTC)
        return [Checkpoint(r.offset, r.chain, stamp) for r in rows if r.offset % every == 0]

    def truncate_with_head_rewritten(self, keep: int) -> None:
        """Cut the tail after ``keep`` and make the head, checkpoints and versions agree."""
        kept = [r for r in self.rows() if r.offset <= keep]
        self._delete_after(keep)
        self._set_head_and_checkpoints(kept[-1] if kept else None, self._checkpoints_of(kept))

    def edit_payload_and_recompute(self, offset: int) -> None:
        """Change one event's bytes and recompute every later link, checkpoint and the head."""
        rows = self.rows()
        previous = rows[offset - 2].chain if offset > 1 else bytes(32)
        forged = []
        for r in rows[offset - 1 :]:
            state = r.state
            if r.offset == offset:
                data = orjson.loads(state)
                data["success"] = not data["success"]
                state = orjson.dumps(data)
            previous = chain_module.link(previous, r.offset, r.stream, r.version, state)
            forged.append(r._replace(state=state, chain=previous))
        self._write_rows(forged)
        everything = rows[: offset - 1] + forged
        self._set_head_and_checkpoints(everything[-1], self._checkpoints_of(everything))

    def wipe(self) -> None:
        """Delete every event, the head and the checkpoints."""
        self._delete_after(0)
        self._set_head_and_checkpoints(None, [])


@pytest.fixture
def forged(
    make_ledger: MakeLedger, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Ledger, Forger, list[Anchor]]]:
    """A ledger of 12 steps (checkpoints every 4), anchored at offset 8 and at its head."""
    monkeypatch.setattr(chain_module, "CHECKPOINT_EVERY", 4)
    ledger = make_ledger()
    key = load_anchor_key_made(tmp_path)
    anchors = []
    for i in range(EVENTS):
        ledger.append(StepRecorded(workflow_id=f"w{i % 3}", agent="a", success=True))
        if ledger.latest_offset() in (8, EVENTS):
            anchors.append(sign_head(ledger.backend, key, datetime.now(UTC)))
    assert ledger.verify(anchors=anchors).ok
    yield ledger, Forger(ledger, ledger_url), anchors


def load_anchor_key_made(tmp_path: Path) -> object:
    new_anchor_key(tmp_path / "signing.key")
    return load_anchor_key(tmp_path / "signing.key")


def problems(ledger: Ledger, anchors: list[Anchor] | None = None) -> list[tuple[str, int]]:
    return [(p.kind, p.offset) for p in ledger.verify(anchors=anchors or []).problems]


def test_a_truncated_tail_with_the_head_rewritten_needs_an_anchor(
    forged: tuple[Ledger, Forger, list[Anchor]],
) -> None:
    ledger, forger, anchors = forged
    forger.truncate_with_head_rewritten(keep=9)

    assert problems(ledger) == []  # the chain alone: consistent, so "OK"
    assert problems(ledger, anchors) == [("truncated", 10)]


def test_a_payload_edit_with_the_chain_recomputed_needs_an_anchor(
    forged: tuple[Ledger, Forger, list[Anchor]],
) -> None:
    ledger, forger, anchors = forged
    forger.edit_payload_and_recompute(offset=10)

    assert problems(ledger) == []
    # Offset 8's anchor still holds; the head's does not: the edit is in (8, 12].
    assert problems(ledger, anchors) == [("anchor_mismatch", 12)]
    detail = ledger.verify(anchors=anchors).problems[0].detail
    assert "an event at or before it was altered" in detail


def test_an_edit_before_the_first_anchor_is_named_at_that_anchor(
    forged: tuple[Ledger, Forger, list[Anchor]],
) -> None:
    ledger, forger, anchors = forged
    forger.edit_payload_and_recompute(offset=3)

    assert problems(ledger) == []
    assert problems(ledger, anchors) == [("anchor_mismatch", 8), ("anchor_mismatch", 12)]


def test_a_wipe_needs_an_anchor(forged: tuple[Ledger, Forger, list[Anchor]]) -> None:
    ledger, forger, anchors = forged
    forger.wipe()

    assert problems(ledger) == []
    assert problems(ledger, anchors) == [("truncated", 1), ("truncated", 1)]


def test_since_the_anchor_checks_only_what_is_new(forged: tuple[Ledger, Forger, list[Anchor]]) -> None:
    ledger, _forger, anchors = forged
    for _ in range(5):
        ledger.append(StepRecorded(workflow_id="w", agent="a", success=True))

    report = ledger.verify(anchors=anchors, since_anchor=True)
    assert report.ok
    assert (report.first_offset, report.events_checked, report.last_offset) == (EVENTS, 5, EVENTS + 5)


def test_since_the_anchor_still_catches_a_rewrite_at_the_anchor(
    forged: tuple[Ledger, Forger, list[Anchor]],
) -> None:
    ledger, forger, anchors = forged
    forger.edit_payload_and_recompute(offset=10)

    report = ledger.verify(anchors=anchors, since_anchor=True)
    assert [(p.kind, p.offset) for p in report.problems] == [("anchor_mismatch", EVENTS)]


def test_a_forged_anchor_pins_nothing_and_is_reported(tmp_path: Path) -> None:
    from ledger import open_ledger

    with open_ledger("memory://") as ledger:
        ledger.append([StepRecorded(agent="a", success=True) for _ in range(3)])
        new_anchor_key(tmp_path / "k")
        good = sign_head(ledger.backend, load_anchor_key(tmp_path / "k"), datetime.now(UTC))
        bad = dataclasses.replace(good, chain=bytes(32), source="forged.json")
        report = ledger.verify(anchors=[bad])
        assert [(p.kind, p.offset) for p in report.problems] == [("anchor_mismatch", 3)]
        assert "signature does not verify" in report.problems[0].detail

        # A trusted key refuses an anchor that another key signed, however valid.
        new_anchor_key(tmp_path / "other")
        other = sign_head(ledger.backend, load_anchor_key(tmp_path / "other"), datetime.now(UTC))
        trusted = load_public_key(tmp_path / "k.pub")
        assert ledger.verify(anchors=[good], public_key=trusted).ok
        assert not ledger.verify(anchors=[other], public_key=trusted).ok


def test_keys_are_private_and_anchors_round_trip_through_a_directory(tmp_path: Path) -> None:
    from ledger import open_ledger

    public = new_anchor_key(tmp_path / "k")
    assert stat.S_IMODE(os.stat(tmp_path / "k").st_mode) == 0o600
    assert load_public_key(tmp_path / "k.pub") == public
    with pytest.raises(FileExistsError):
        new_anchor_key(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o644)
    with pytest.raises(AnchorError, match="readable by others"):
        load_anchor_key(tmp_path / "k")
    os.chmod(tmp_path / "k", 0o600)

    heads = tmp_path / "heads"
    heads.mkdir()
    with open_ledger("memory://") as ledger:
        for _ in (1, 2):
            ledger.append(StepRecorded(agent="a", success=True))
            write_anchor(sign_head(ledger.backend, load_anchor_key(tmp_path / "k"), datetime.now(UTC)), heads)
    read = read_anchors(heads)
    assert [a.offset for a in read] == [1, 2]
    assert all(a.signed_by(public) for a in read)
    assert b"PRIVATE" not in b"".join(p.read_bytes() for p in heads.iterdir())
    (heads / "junk.json").write_text("{}")
    with pytest.raises(AnchorError, match=r"junk\.json"):
        read_anchors(heads)
