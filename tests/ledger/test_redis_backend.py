"""What only the Redis backend has to show: its URL and keys, its server-side checks, its losses.

The shared contract (``tests/ledger``) runs on Redis too; these tests cover what is particular
to it: ledgers apart by key prefix, optimistic commits re-run when another writer wins, the
commit script refusing stale heads, stored ids and broken stream order, a Redis that restarted
empty, exact time lookups beyond a double's precision, and the library's recorder API.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from eventsourcing.persistence import IntegrityError, Notification, ProcessRecorder, Tracking

from ledger import BackendUnavailableError, Ledger, StepRecorded, UnsupportedURLError, open_ledger
from ledger.backends.base import LedgerBackend, StoredRow, Tail
from ledger.backends.redis.layout import Keys
from ledger.backends.redis.recorder import RedisLedgerRecorder, _eviction_problem
from ledger.backends.transaction import CommitConflictError, DuplicateKeyError
from ledger.errors import BackendError, LedgerLostError
from tests.conftest import ManualClock, delete_redis_keys, with_prefix

pytestmark = pytest.mark.redis

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def step(workflow: str = "w1", agent: str = "a") -> StepRecorded:
    return StepRecorded(workflow_id=workflow, agent=agent, success=True, occurred_at=T0)


@pytest.fixture
def ledger(redis_url: str) -> Iterator[Ledger]:
    with open_ledger(redis_url) as opened:
        yield opened


@pytest.fixture
def raw(redis_server_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server_url)
    yield client
    client.close()


def backend_of(ledger: Ledger) -> RedisLedgerRecorder:
    assert isinstance(ledger.backend, RedisLedgerRecorder)
    return ledger.backend


# -- URLs and keys ------------------------------------------------------------------------------


def test_ledgers_under_different_prefixes_do_not_see_each_other(
    redis_server_url: str, redis_prefix: str
) -> None:
    with (
        open_ledger(with_prefix(redis_server_url, f"{redis_prefix}_a")) as a,
        open_ledger(with_prefix(redis_server_url, f"{redis_prefix}_b")) as b,
    ):
        a.append([step(), step()])
        b.append(step("other"))

        assert [r.stream for r in a.read()] == ["wf:w1", "wf:w1"]
        assert [(r.offset, r.stream) for r in b.read()] == [(1, "wf:other")]


def test_every_key_of_a_ledger_lies_under_its_prefix(
    ledger: Ledger, raw: redis.Redis, redis_server_url: str, redis_prefix: str
) -> None:
    ledger.append([step("w1", "a1"), step("w2", "a2")])
    lock = ledger.backend.try_lock_runner("reliability")
    assert lock is not None
    lock.release()
    base = f"rledger:{{{redis_prefix}}}:"

    keys = sorted(k.decode().removeprefix(base) for k in raw.scan_iter(match=f"{base}*"))

    indexes = ["s:wf:w1", "s:wf:w2", "a:a1", "a:a2", "t:StepRecorded"]
    assert keys == sorted(["rows", "ids", "versions", "head", "commits", "meta", "topics", *indexes])
    assert delete_redis_keys(redis_server_url, redis_prefix) == len(keys)
    assert list(raw.scan_iter(match=f"{base}*")) == []


def test_an_unreachable_redis_is_unavailable_with_a_clear_message() -> None:
    url = "redis://:s3cret@127.0.0.1:1/0?prefix=nowhere"

    with pytest.raises(BackendUnavailableError) as caught:
        open_ledger(url)

    message = str(caught.value)
    assert message.startswith("cannot open ledger at redis://:***@127.0.0.1:1/0?prefix=nowhere: ")
    assert "s3cret" not in message


@pytest.mark.parametrize("prefix", ["a}b", "a{b", "x*", "has space"])
def test_a_prefix_that_would_break_the_key_layout_is_refused(redis_server_url: str, prefix: str) -> None:
    with pytest.raises(BackendUnavailableError, match="not a usable ledger prefix"):
        open_ledger(with_prefix(redis_server_url, prefix))


def test_ttl_days_in_the_url_turns_retention_on(redis_url: str) -> None:
    with open_ledger(f"{redis_url}&ttl_days=30") as ledger:
        assert ledger.retention is not None
        assert ledger.retention.policy.ttl == timedelta(days=30)
        assert ledger.append(step()).offsets == (1,)
    with pytest.raises(UnsupportedURLError):
        open_ledger(f"{redis_url}&ttl_days=soon")


class _ConfigOnly:
    """Just enough of a client to answer ``CONFIG GET`` (the shared server must not be reconfigured)."""

    def __init__(self, policy: str | None) -> None:
        self.policy = policy

    def config_get(self, name: str) -> dict[str, str]:
        if self.policy is None:
            raise redis.ResponseError("unknown command 'CONFIG'")
        return {name: self.policy}


@pytest.mark.parametrize(
    ("policy", "refused"),
    [
        ("allkeys-lru", True),
        ("allkeys-random", True),
        ("noeviction", False),
        ("volatile-lru", False),
        (None, False),
    ],
)
def test_a_redis_that_may_evict_ledger_keys_is_refused(policy: str | None, refused: bool) -> None:
    problem = _eviction_problem(_ConfigOnly(policy))  # type: ignore[arg-type]

    assert (problem is not None) == refused
    if refused:
        assert problem is not None and "noeviction" in problem


# -- a Redis that lost the ledger ---------------------------------------------------------------


def test_a_redis_that_restarted_empty_is_not_written_to_as_if_nothing_happened(
    ledger: Ledger, redis_server_url: str, redis_prefix: str, redis_url: str
) -> None:
    ledger.append([step(), step(), step()])

    delete_redis_keys(redis_server_url, redis_prefix)  # what a restart without persistence leaves

    with pytest.raises(LedgerLostError, match="keys are gone"):
        ledger.append(step())
    with pytest.raises(LedgerLostError):
        ledger.latest_offset()
    with open_ledger(redis_url) as fresh:
        assert fresh.append(step()).offsets == (1,)
    with pytest.raises(LedgerLostError, match="another ledger was created"):
        ledger.append(step())


# -- optimistic commits -------------------------------------------------------------------------


def test_a_commit_beaten_by_another_writer_is_run_again_with_fresh_reads(redis_url: str) -> None:
    rival = open_ledger(redis_url)
    calls: list[datetime] = []

    def clock() -> datetime:
        # The ledger asks the time after reading the head: a rival commit here beats it.
        calls.append(T0)
        if len(calls) == 1:
            rival.append(step("rival"))
        return T0

    try:
        with open_ledger(redis_url, clock=clock) as ledger:
            result = ledger.append([step("mine"), step("mine")])
            report = ledger.verify()
            streams = [r.stream for r in ledger.read()]
    finally:
        rival.close()

    assert len(calls) == 2  # the first attempt lost the race and wrote nothing
    assert result.offsets == (2, 3)
    assert streams == ["wf:rival", "wf:mine", "wf:mine"]
    assert report.ok, report.problems


def row(offset: int, version: int, event: StepRecorded, chain: bytes = bytes(32)) -> StoredRow:
    return StoredRow(offset, "wf:w1", version, "StepRecorded", event.event_id, "a", T0, T0, b"{}", chain)


def commit_rows(backend: LedgerBackend, rows: list[StoredRow], *, before: Any = None) -> None:
    """Run one raw transaction: read the tail, call ``before`` (a rival), then write ``rows``."""
    with backend.write() as tx:
        tail = tx.tail()
        if before is not None:
            before()
        tx.insert(rows)
        tx.save_head(Tail(rows[-1].offset, rows[-1].chain, T0), [])
        assert tail.offset == rows[0].offset - 1


def test_the_server_refuses_a_commit_whose_head_moved_and_writes_nothing(
    ledger: Ledger, redis_url: str
) -> None:
    ledger.append(step())
    with open_ledger(redis_url) as rival, pytest.raises(CommitConflictError, match="head moved to 2"):
        commit_rows(ledger.backend, [row(2, 2, step())], before=lambda: rival.append(step("rival")))

    assert [(r.offset, r.stream) for r in ledger.read()] == [(1, "wf:w1"), (2, "wf:rival")]
    assert ledger.verify().ok


def test_the_server_refuses_an_event_id_already_stored(ledger: Ledger) -> None:
    stored = step()
    ledger.append(stored)

    with pytest.raises(DuplicateKeyError):
        commit_rows(ledger.backend, [row(2, 2, step()), row(3, 3, stored)])

    assert ledger.latest_offset() == 1
    assert ledger.stream_version("wf:w1") == 1


def test_the_server_refuses_rows_that_do_not_continue_their_stream(ledger: Ledger) -> None:
    ledger.append(step())

    with pytest.raises(BackendError, match="stream 'wf:w1' is at version 1"):
        commit_rows(ledger.backend, [row(2, 5, step())])

    assert ledger.latest_offset() == 1


# -- time lookups -------------------------------------------------------------------------------


def test_offset_at_is_exact_to_the_microsecond_beyond_a_doubles_precision(redis_url: str) -> None:
    # 2400 lies past 2**53 µs since 1970: sorted-set scores there are 2 µs apart.
    clock = ManualClock(datetime(2400, 1, 1, tzinfo=UTC))
    one_us = timedelta(microseconds=1)
    with open_ledger(redis_url, clock=clock) as ledger:
        times = []
        for _ in range(4):
            times.append(clock.now)
            ledger.append(step())
            clock.advance(microseconds=1)

        assert [ledger.offset_at(t) for t in times] == [0, 1, 2, 3]
        assert [ledger.offset_at(t + one_us) for t in times] == [1, 2, 3, 4]


# -- the library's recorder API -----------------------------------------------------------------


def test_the_backend_is_a_library_process_recorder(ledger: Ledger) -> None:
    backend = backend_of(ledger)
    ledger.append([step("w1"), step("w2"), step("w1")])

    assert isinstance(backend, ProcessRecorder)
    assert [(e.originator_id, e.originator_version) for e in backend.select_events("wf:w1")] == [
        ("wf:w1", 1),
        ("wf:w1", 2),
    ]
    assert [e.originator_version for e in backend.select_events("wf:w1", gt=1)] == [2]
    assert [e.originator_version for e in backend.select_events("wf:w1", desc=True, limit=1)] == [2]
    assert backend.max_notification_id() == 3
    with pytest.raises(NotImplementedError, match=r"Ledger\.append"):
        backend.insert_events([])


def test_tracking_positions_only_advance(ledger: Ledger) -> None:
    backend = backend_of(ledger)

    assert backend.max_tracking_id("app") is None
    backend.insert_tracking(Tracking("app", 5))
    with pytest.raises(IntegrityError):
        backend.insert_tracking(Tracking("app", 5))
    backend.insert_tracking(Tracking("app", 7))

    assert backend.max_tracking_id("app") == 7
    assert backend.has_tracking_id("app", 6)


def test_a_subscription_yields_stored_events_then_new_ones(ledger: Ledger) -> None:
    ledger.append([step(), step()])
    got: list[Notification] = []
    backend = backend_of(ledger)

    with backend.subscribe(gt=1) as subscription:

        def consume() -> None:
            for notification in subscription:
                got.append(notification)
                if len(got) == 3:
                    return

        consumer = threading.Thread(target=consume)
        consumer.start()
        ledger.append([step("w2"), step("w3")])
        consumer.join(timeout=10)
        alive = consumer.is_alive()
    consumer.join(timeout=10)

    assert not alive, "the subscription never delivered the new events"
    assert [(n.id, n.originator_id) for n in got] == [(2, "wf:w1"), (3, "wf:w2"), (4, "wf:w3")]


def test_a_runner_lock_expires_unless_renewed_and_only_its_holder_releases_it(
    ledger: Ledger, raw: redis.Redis, redis_prefix: str
) -> None:
    key = Keys(redis_prefix).runner("slo")
    lock = ledger.backend.try_lock_runner("slo")
    assert lock is not None

    assert 0 < raw.pttl(key) <= 30_000
    raw.set(key, "someone-else", px=30_000)  # as if our lock expired and another runner took it
    lock.release()

    assert raw.get(key) == b"someone-else"
    assert ledger.backend.try_lock_runner("slo") is None
