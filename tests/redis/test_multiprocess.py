"""Several processes appending to one Redis ledger at once: optimistic commits lose nothing.

The same checks as for SQLite and PostgreSQL (``tests/ledger/test_multiprocess.py``): every event
stored exactly once, offsets 1..N without a gap, each writer's order kept in every stream, the
chain verifying, and a follower reading ``after=last`` seeing every offset exactly once — here
with no lock at all, only the commit script's server-side checks and the ledger's re-runs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from ledger import open_ledger
from tests.conftest import delete_redis_keys, with_prefix
from tests.ledger import mp_workers
from tests.ledger.test_multiprocess import (
    EVENTS_EACH,
    ROUNDS,
    TIMEOUT,
    TOTAL,
    WRITERS,
    assert_every_event_once_in_writer_order,
    run_processes,
)

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_processes_appending_at_once_lose_nothing_and_keep_their_order(redis_url: str) -> None:
    open_ledger(redis_url).close()

    codes = run_processes(mp_workers.append_plan, [(redis_url, w, EVENTS_EACH) for w in range(WRITERS)])

    assert codes == [0] * WRITERS
    with open_ledger(redis_url) as ledger:
        assert_every_event_once_in_writer_order(ledger)


def test_a_follower_sees_every_offset_once_while_processes_write(redis_url: str) -> None:
    open_ledger(redis_url).close()
    seen: list[int] = []
    partial_views: set[int] = set()
    failure: list[BaseException] = []

    def follow() -> None:
        try:
            with open_ledger(redis_url) as follower:
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
    codes = run_processes(mp_workers.append_plan, [(redis_url, w, EVENTS_EACH) for w in range(WRITERS)])
    follower.join(timeout=TIMEOUT)

    assert not follower.is_alive()
    assert failure == []
    assert codes == [0] * WRITERS
    assert seen == list(range(1, TOTAL + 1))
    assert len(partial_views) > 1, "the follower never read while the writers were writing"


@pytest.fixture
def fresh_urls(redis_server_url: str, redis_prefix: str) -> Iterator[list[str]]:
    """URLs of ``ROUNDS`` Redis ledgers that do not exist yet."""
    yield [with_prefix(redis_server_url, f"{redis_prefix}_{k}") for k in range(ROUNDS)]
    delete_redis_keys(redis_server_url, redis_prefix)


def test_processes_opening_a_new_ledger_at_once_all_succeed(fresh_urls: list[str]) -> None:
    codes = run_processes(mp_workers.open_and_append_one, [(fresh_urls, w) for w in range(WRITERS)])

    assert codes == [0] * WRITERS
    for url in fresh_urls:
        with open_ledger(url) as ledger:
            assert ledger.latest_offset() == WRITERS
            assert ledger.verify().ok
