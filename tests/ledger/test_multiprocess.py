"""Several processes appending to one ledger at once (SQLite, PostgreSQL, Redis): nothing lost or reordered.

Afterwards every event is there exactly once, offsets run 1..N without a gap, each writer's
events keep its order within every stream, and the hash chain verifies. A follower reading
``after=last`` while the writers run sees every offset exactly once.
"""

from __future__ import annotations

import multiprocessing
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from ledger import Ledger, open_ledger
from tests.conftest import delete_redis_keys, sqlite_url, with_prefix, with_schema
from tests.ledger import mp_workers

pytestmark = pytest.mark.slow

SPAWN = multiprocessing.get_context("spawn")
WRITERS = 4
EVENTS_EACH = 200
TOTAL = WRITERS * EVENTS_EACH
TIMEOUT = 120.0


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    # Redis has no lock at all (optimistic commits checked by its script): the same checks
    # must hold there too.
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "shared.db")
    url: str = request.getfixturevalue("pg_url" if request.param == "postgres" else "redis_url")
    return url


def run_processes(target: Callable[..., None], args: list[tuple[Any, ...]]) -> list[int | None]:
    """Start one process per argument tuple (all released together), wait, return exit codes."""
    barrier = SPAWN.Barrier(len(args))
    processes: list[BaseProcess] = [SPAWN.Process(target=target, args=(*a, barrier)) for a in args]
    for process in processes:
        process.start()
    deadline = time.monotonic() + TIMEOUT
    running = {p.sentinel: p for p in processes}
    while running:
        ended = wait(list(running), timeout=max(deadline - time.monotonic(), 0))
        if not ended:
            break  # out of time: the leftovers are killed below
        for sentinel in ended:
            assert isinstance(sentinel, int)
            process = running.pop(sentinel)
            process.join()
            if process.exitcode != 0:
                barrier.abort()  # the others must not wait for a writer that is gone
    codes = [p.exitcode for p in processes]
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join()
    return codes


def assert_every_event_once_in_writer_order(ledger: Ledger) -> None:
    records = list(ledger.read(page_size=250))
    assert [r.offset for r in records] == list(range(1, TOTAL + 1))
    expected_ids = {mp_workers.event_id(w, s) for w in range(WRITERS) for s in range(EVENTS_EACH)}
    stored_ids = [r.event.event_id for r in records]
    assert len(set(stored_ids)) == TOTAL
    assert set(stored_ids) == expected_ids

    by_stream: dict[str, list[Any]] = {}
    for record in records:
        by_stream.setdefault(record.stream, []).append(record)
    for stream, in_stream in by_stream.items():
        assert [r.version for r in in_stream] == list(range(1, len(in_stream) + 1)), stream
    for writer in range(WRITERS):
        agent = f"writer-{writer}"
        own = [r.event.call_index for r in by_stream[f"wf:own-{writer}"]]
        shared = [r.event.call_index for r in by_stream["wf:shared"] if r.event.agent == agent]
        assert own == [s for s in range(EVENTS_EACH) if s % 3 != 0]
        assert shared == [s for s in range(EVENTS_EACH) if s % 3 == 0]

    report = ledger.verify()
    assert report.ok, report.problems
    assert report.events_checked == TOTAL


def test_processes_appending_at_once_lose_nothing_and_keep_their_order(shared_url: str) -> None:
    open_ledger(shared_url).close()  # the tables exist before the writers start

    codes = run_processes(mp_workers.append_plan, [(shared_url, w, EVENTS_EACH) for w in range(WRITERS)])

    assert codes == [0] * WRITERS
    with open_ledger(shared_url) as ledger:
        assert_every_event_once_in_writer_order(ledger)


def test_a_follower_sees_every_offset_once_while_processes_write(shared_url: str) -> None:
    open_ledger(shared_url).close()
    seen: list[int] = []
    partial_views: set[int] = set()
    failure: list[BaseException] = []

    def follow() -> None:
        try:
            with open_ledger(shared_url) as follower:
                last = 0
                deadline = time.monotonic() + TIMEOUT
                while last < TOTAL and time.monotonic() < deadline:
                    for record in follower.read(after=last, page_size=64):
                        seen.append(record.offset)
                        last = record.offset
                    if 0 < last < TOTAL:
                        partial_views.add(last)
        except BaseException as exc:  # surfaced in the main thread below
            failure.append(exc)

    follower = threading.Thread(target=follow, name="follower")
    follower.start()
    codes = run_processes(mp_workers.append_plan, [(shared_url, w, EVENTS_EACH) for w in range(WRITERS)])
    follower.join(timeout=TIMEOUT)

    assert not follower.is_alive()
    assert failure == []
    assert codes == [0] * WRITERS
    assert seen == list(range(1, TOTAL + 1))
    assert len(partial_views) > 1, "the follower never read while the writers were writing"


ROUNDS = 4


@pytest.fixture
def fresh_urls(request: pytest.FixtureRequest, tmp_path: Path, shared_url: str) -> Iterator[list[str]]:
    """URLs of ``ROUNDS`` ledgers that do not exist yet, on the backend of ``shared_url``."""
    if shared_url.startswith("sqlite"):
        yield [sqlite_url(tmp_path / f"fresh-{k}.db") for k in range(ROUNDS)]
        return
    if shared_url.startswith("redis"):
        redis_server: str = request.getfixturevalue("redis_server_url")
        prefix: str = request.getfixturevalue("redis_prefix")
        yield [with_prefix(redis_server, f"{prefix}_{k}") for k in range(ROUNDS)]
        delete_redis_keys(redis_server, prefix)
        return
    server: str = request.getfixturevalue("pg_server_url")
    base: str = request.getfixturevalue("pg_schema")
    schemas = [f"{base}_{k}" for k in range(ROUNDS)]
    yield [with_schema(server, schema) for schema in schemas]
    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def test_processes_opening_a_new_ledger_at_once_all_succeed(fresh_urls: list[str]) -> None:
    # Orchestrators start together on a fresh deployment; each opens (and so creates) the ledger.
    # Several rounds, because a race between creators does not strike every time.
    codes = run_processes(mp_workers.open_and_append_one, [(fresh_urls, w) for w in range(WRITERS)])

    assert codes == [0] * WRITERS
    for url in fresh_urls:
        with open_ledger(url) as ledger:
            assert ledger.latest_offset() == WRITERS
            assert ledger.verify().ok


def test_processes_opening_an_old_sqlite_file_at_once_convert_it_once(tmp_path: Path) -> None:
    # After an upgrade, every orchestrator opens the file made before numbered streams at once:
    # one of them converts it, the others wait for that and append to the converted file.
    fixture = Path(__file__).parent / "fixtures" / "ledger-v1-name-keyed-streams.db"
    urls = []
    for k in range(ROUNDS):
        shutil.copy(fixture, tmp_path / f"old-{k}.db")
        urls.append(sqlite_url(tmp_path / f"old-{k}.db"))

    codes = run_processes(mp_workers.open_and_append_one, [(urls, w) for w in range(WRITERS)])

    assert codes == [0] * WRITERS
    for url in urls:
        with open_ledger(url) as ledger:
            assert ledger.latest_offset() == 16 + WRITERS
            assert [r.version for r in ledger.read(workflow_id="shared")] == list(range(1, WRITERS + 1))
            assert [r.version for r in ledger.read(workflow_id="wf-1")] == [1, 2, 3, 4, 5]
            report = ledger.verify()
            assert report.ok, report.problems
