"""What only the JetStream backend has to show: its URL, its batch limit, ids past the window, leases.

The shared contract (``tests/ledger``) runs on a single JetStream node too; these tests cover
what is particular to it. The fault tests on a 3-node cluster are in ``test_nats_cluster.py``.
"""

from __future__ import annotations

import time

import pytest

from ledger import StepRecorded, UnsupportedURLError, open_ledger
from ledger.backends.nats.jetstream import api
from ledger.backends.nats.recorder import NatsLedgerRecorder
from ledger.errors import BackendError, BackendUnavailableError

pytestmark = pytest.mark.nats


def step(workflow: str = "w1") -> StepRecorded:
    return StepRecorded(workflow_id=workflow, agent="a", success=True)


@pytest.mark.parametrize(
    "url",
    [
        "nats://127.0.0.1:1/bad.name",
        "nats://127.0.0.1:1/l?replicas=zero",
        "nats://127.0.0.1:1/l?timeout=-1",
        "nats://127.0.0.1:1/l?colour=red",
    ],
)
def test_a_malformed_url_is_refused_before_connecting(url: str) -> None:
    with pytest.raises(UnsupportedURLError):
        open_ledger(url)


def test_an_unreachable_cluster_is_a_clear_error_within_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as caught:
        open_ledger("nats://127.0.0.1:1/l?timeout=1")
    assert time.monotonic() - started < 5
    assert "127.0.0.1:1" in str(caught.value)


def test_a_batch_over_the_atomic_limit_is_refused_whole(nats_url: str) -> None:
    with open_ledger(nats_url) as ledger:
        with pytest.raises(BackendError, match="1000 that JetStream commits atomically"):
            ledger.append([step(f"w{i}") for i in range(1001)])
        assert ledger.latest_offset() == 0
        assert ledger.append([step(f"w{i}") for i in range(1000)]).offsets == tuple(range(1, 1001))


def test_idempotency_holds_past_the_duplicate_window(nats_url: str) -> None:
    with open_ledger(nats_url) as ledger:
        backend = ledger.backend
        assert isinstance(backend, NatsLedgerRecorder)
        # Shrink the server's de-duplication window to 100 ms, then retry after it passed.
        info = backend.loop.run(api(backend.nc, f"STREAM.INFO.{backend.names.stream}", None, 5), "t")
        config = {**info["config"], "duplicate_window": 100_000_000}
        backend.loop.run(api(backend.nc, f"STREAM.UPDATE.{backend.names.stream}", config, 5), "t")
        event = step()
        first = ledger.append([step(), event])
        time.sleep(0.5)

        again = ledger.append([event, step()])

        assert again.offsets[0] == first.offsets[1] and again.written == 1
        assert [r.event.event_id for r in ledger.read()].count(event.event_id) == 1


def test_a_second_process_reads_what_the_first_wrote(nats_url: str) -> None:
    with open_ledger(nats_url) as writer, open_ledger(nats_url) as reader:
        writer.append([step("w1"), step("w2")])
        assert [r.offset for r in reader.read()] == [1, 2]
        assert reader.backend.wait_for_events(1, 1.0)
        assert not reader.backend.wait_for_events(2, 0.3)


def test_one_lease_holder_at_a_time_and_a_released_lease_is_free_at_once(nats_url: str) -> None:
    with open_ledger(nats_url) as one, open_ledger(nats_url) as two:
        lock = one.backend.try_lock_runner("core")
        assert lock is not None
        assert two.backend.try_lock_runner("core") is None
        assert two.backend.try_lock_runner("other") is not None
        lock.release()
        taken = two.backend.try_lock_runner("core")
        assert taken is not None
        taken.release()
