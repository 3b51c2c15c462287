"""One error tree: what the stores and the encoder raise reaches callers as the ledger's errors.

Bad inputs are the same clear validation error on every backend (naming the event's index and
field, nothing written); a full SQLite file is ``StorageFullError``; concurrent idempotent
retries on Redis are retried, never the internal ``DuplicateKeyError``; a batch too large for
one transaction is refused before anything is encoded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ledger import (
    MAX_BATCH_EVENTS,
    MAX_DEPTH,
    BatchRejectedError,
    BatchTooLargeError,
    StepRecorded,
    StorageFullError,
    ToolCalled,
    open_ledger,
)
from tests.conftest import MakeLedger, sqlite_url


def _nest(levels: int) -> Any:
    """A value ``levels`` containers deep (0: a scalar)."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def _tool(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ToolCalled", "workflow_id": "w", "agent": "a", "tool": "t", "arguments": arguments}


def _rejected(make_ledger: MakeLedger, events: list[Any]) -> BatchRejectedError:
    ledger = make_ledger()
    with pytest.raises(BatchRejectedError) as caught:
        ledger.append(events)
    assert list(ledger.read()) == []  # nothing of the batch was written
    return caught.value


# The event object is level 1 and "arguments" level 2: a value n containers deep inside it
# makes the event n + 2 levels deep.
DEEPEST_OK = MAX_DEPTH - 2


@pytest.mark.parametrize("as_model", [False, True], ids=["mapping", "model"])
def test_nesting_deeper_than_the_limit_is_refused_on_every_backend(
    make_ledger: MakeLedger, as_model: bool
) -> None:
    ok, deep = _tool({"q": _nest(DEEPEST_OK)}), _tool({"q": _nest(DEEPEST_OK + 1)})
    ledger = make_ledger()
    ledger.append(ToolCalled.model_validate(ok) if as_model else ok)
    assert [r.event.arguments for r in ledger.read()] == [{"q": _nest(DEEPEST_OK)}]  # reads back
    for levels in (DEEPEST_OK + 1, 200, 254, 300):  # 200-254 used to be stored, then break reads
        event = _tool({"q": _nest(levels)})
        bad: Any = ToolCalled.model_validate(event) if as_model and levels < 250 else event
        with pytest.raises(BatchRejectedError) as caught:
            ledger.append([deep if levels == DEEPEST_OK + 1 else bad, ok])
        (problem,) = caught.value.problems
        assert problem.index == 0 and problem.field is not None and problem.field.startswith("arguments.q[0]")
        assert f"nested deeper than {MAX_DEPTH} levels" in problem.reason
    assert len(list(ledger.read())) == 1


def test_a_lone_surrogate_is_refused_naming_the_field(make_ledger: MakeLedger) -> None:
    model = ToolCalled(workflow_id="w", agent="a", tool="t", arguments={"q": ["x", "\ud800"]})
    for event in (model, _tool({"q": ["x", "\ud800"]})):
        error = _rejected(make_ledger, [StepRecorded(agent="a", success=True), event])
        (problem,) = error.problems
        assert (problem.index, problem.field) == (1, "arguments.q[1]")
        assert "not valid Unicode (a lone surrogate)" in problem.reason


@pytest.mark.parametrize("field", ["agent", "workflow_id"])
def test_nul_in_a_named_field_is_the_same_error_on_every_backend(make_ledger: MakeLedger, field: str) -> None:
    event = {"type": "StepRecorded", "workflow_id": "w", "agent": "a", "success": True, field: "a\x00b"}
    for given in (event, StepRecorded.model_validate(event)):
        error = _rejected(make_ledger, [given])
        (problem,) = error.problems
        assert (problem.index, problem.field) == (0, field)
        assert "NUL character (U+0000)" in problem.reason


def test_nul_in_a_free_form_value_is_stored_and_read_back(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append(_tool({"q": "a\x00b", "escaped": "\\u0000"}))
    assert [r.event.arguments for r in ledger.read()] == [{"q": "a\x00b", "escaped": "\\u0000"}]


def test_a_batch_over_the_limit_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    with open_ledger(sqlite_url(tmp_path / "l.db")) as ledger:
        events = [StepRecorded(agent="a", success=True) for _ in range(MAX_BATCH_EVENTS + 1)]
        with pytest.raises(BatchTooLargeError) as caught:
            ledger.append(events)
        assert (caught.value.size, caught.value.limit, caught.value.unit) == (
            len(events),
            MAX_BATCH_EVENTS,
            "events",
        )
        assert "ledger.MAX_BATCH_EVENTS" in str(caught.value) and "nothing written" in str(caught.value)
        assert ledger.latest_offset() == 0
        assert ledger.append(events[:MAX_BATCH_EVENTS]).offsets[-1] == MAX_BATCH_EVENTS


def test_a_full_sqlite_file_is_storage_full_and_keeps_what_was_written(tmp_path: Path) -> None:
    with open_ledger(sqlite_url(tmp_path / "l.db")) as ledger:
        ledger.append(StepRecorded(agent="a", success=True))
        # Cap the file at the pages it has, on the connection the writer uses (a tiny disk).
        backend: Any = ledger.backend
        with backend.datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute(f"PRAGMA max_page_count = {pages}")
        big = [ToolCalled(agent="a", tool="t", result={"blob": "x" * 50_000}) for _ in range(20)]
        with pytest.raises(StorageFullError) as caught:
            ledger.append(big)
        assert "database or disk is full" in str(caught.value) and "nothing written" in str(caught.value)
        assert ledger.latest_offset() == 1
        assert ledger.verify().ok


@pytest.mark.redis
def test_concurrent_idempotent_retries_on_redis_are_retried_not_raised(redis_url: str) -> None:
    """Six writers append the same batches at once: each gets the same offsets, none an error."""
    batches = [
        [
            StepRecorded(
                event_id=UUID(int=b * 10 + k + 1, version=4), workflow_id=f"w{b}", agent="a", success=True
            )
            for k in range(5)
        ]
        for b in range(150)
    ]
    ledgers = [open_ledger(redis_url) for _ in range(6)]
    errors: list[BaseException] = []
    results: list[list[tuple[int, ...]]] = [[] for _ in ledgers]
    start = threading.Barrier(len(ledgers))

    def write(i: int) -> None:
        for batch in batches:
            start.wait()  # all six at once, batch after batch: the race the retries run into
            try:
                results[i].append(ledgers[i].append(batch).offsets)
            except Exception as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert all(r == results[0] for r in results)  # every writer was told the same offsets
        stored = [r.event.event_id for r in ledgers[0].read()]
        assert stored == [e.event_id for b in batches for e in b]
    finally:
        for ledger in ledgers:
            ledger.close()


@pytest.mark.redis
def test_an_id_stored_between_the_look_up_and_the_commit_is_retried(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race six writers hit on Redis, made certain: another writer stores the batch right
    after this one looked its ids up (the internal ``DuplicateKeyError`` used to escape)."""
    from ledger.backends.redis.writes import RedisWrite

    batch = [
        StepRecorded(event_id=UUID(int=k + 1, version=4), workflow_id="w", agent="a", success=True)
        for k in range(3)
    ]
    with open_ledger(redis_url) as ours, open_ledger(redis_url) as other:
        ours.append(batch[:1])  # so the next append of the batch hits a stored id and looks up
        look_up = RedisWrite.existing
        raced: list[bool] = []

        def existing_then_race(self: RedisWrite, event_ids: list[UUID]) -> Any:
            found = look_up(self, event_ids)
            if self.backend is ours.backend and not raced:
                raced.append(True)
                other.append(batch)  # stores the rest between our look-up and our commit
            return found

        monkeypatch.setattr(RedisWrite, "existing", existing_then_race)
        result = ours.append(batch)
        assert raced and result.offsets == (1, 2, 3) and result.written == 0
        assert [r.event.event_id for r in other.read()] == [e.event_id for e in batch]


def test_a_sqlite_lock_held_past_the_deadline_is_a_timeout(tmp_path: Path) -> None:
    """Another process holding the file's write lock: the append waits its deadline, no longer."""
    import sqlite3
    import time

    from ledger import BackendTimeoutError

    path = tmp_path / "l.db"
    with open_ledger(sqlite_url(path), timeout=0.5) as ledger:
        ledger.append(StepRecorded(agent="a", success=True))
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # the write lock, as another writer would hold it
        try:
            start = time.monotonic()
            with pytest.raises(BackendTimeoutError) as caught:
                ledger.append(StepRecorded(agent="a", success=True))
            assert time.monotonic() - start < 0.5 + 1.0
            assert caught.value.deadline == 0.5 and "database is locked" in str(caught.value)
            assert isinstance(caught.value.__cause__, Exception)  # the driver's error, kept
        finally:
            holder.rollback()
            holder.close()
        assert ledger.append(StepRecorded(agent="a", success=True)).offsets == (2,)
