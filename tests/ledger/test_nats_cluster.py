"""Fault tests on a 3-node JetStream cluster (R3) on loopback: a leader killed, quorum lost.

Each test starts its own cluster from the pinned server binary on free ports (never the
machine's own NATS on 4222) and stops it; bounded to tens of seconds.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from ledger import BackendUnavailableError, Ledger, StepRecorded, open_ledger
from ledger.backends.nats.jetstream import api
from ledger.backends.nats.recorder import NatsLedgerRecorder
from tests.conftest import REQUIRE_SERVICES, SPAWN
from tests.ledger.nats_workers import write_batches
from tests.nats_servers import NatsServer, binary_problem, cluster_url, start_cluster

pytestmark = [pytest.mark.nats, pytest.mark.slow]

T = TypeVar("T")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    problem = binary_problem()
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    nodes = start_cluster(tmp_path / "cluster")
    yield nodes
    for node in nodes:
        node.stop()


def leader_of(ledger: Ledger) -> str:
    backend = ledger.backend
    assert isinstance(backend, NatsLedgerRecorder)
    info = backend.loop.run(api(backend.nc, f"STREAM.INFO.{backend.names.stream}", None, 5), "t")
    return str(info["cluster"]["leader"])


def append_until_acknowledged(ledger: Ledger, event: StepRecorded, within: float) -> float:
    started = time.monotonic()
    while True:
        try:
            ledger.append(event)
            return time.monotonic() - started
        except BackendUnavailableError:
            if time.monotonic() - started > within:
                raise
            time.sleep(0.1)


def eventually(read: Callable[[], T], within: float) -> T:
    """``read()`` once the cluster answers it (each R3 stream, the ledger's buckets too, elects
    its own leader after a restart)."""
    started = time.monotonic()
    while True:
        try:
            return read()
        except BackendUnavailableError:
            if time.monotonic() - started > within:
                raise
            time.sleep(0.2)


def test_writers_through_a_leader_kill_lose_nothing_and_write_nothing_twice(
    cluster: list[NatsServer], tmp_path: Path
) -> None:
    open_ledger(cluster_url(cluster, "faults", replicas=3, timeout=15)).close()
    url = cluster_url(cluster, "faults", replicas=3, timeout=3)
    with open_ledger(url) as ledger:
        ledger.append(StepRecorded(workflow_id="setup", agent="t", success=True))
        writers = []
        for n in range(4):
            out = tmp_path / f"acked-{n}.jsonl"
            p = SPAWN.Process(target=write_batches, args=(url, f"wr{n}", 40, str(out)))
            p.start()
            writers.append((p, out))
        time.sleep(3)  # the writers are under way
        name = leader_of(ledger)
        victim = next(node for node in cluster if node.name == name)
        victim.kill()
        time.sleep(2)
        victim.start()
        for p, _ in writers:
            p.join(120)
            assert p.exitcode == 0, "a writer gave up"

        acked = [i for _, out in writers for line in out.read_text().splitlines() for i in json.loads(line)]
        # Right after the restart the stream may still be electing a leader: a clear error, then reads.
        rows = eventually(lambda: list(ledger.read()), 30)
        stored = [str(r.event.event_id) for r in rows]
        assert len(acked) == 4 * 40 * 10
        assert len(stored) == len(set(stored)), "an event was stored twice"
        assert set(acked) <= set(stored), "an acknowledged event was lost"
        # Only whole batches: everything stored is the setup event or an acknowledged one.
        assert set(stored) - set(acked) == {stored[0]}
        assert [r.offset for r in rows] == list(range(1, len(rows) + 1))
        for stream in {r.stream for r in rows}:
            mine = [r for r in rows if r.stream == stream]
            assert [r.version for r in mine] == list(range(1, len(mine) + 1))
            modes = [r.event.mode for r in mine]  # type: ignore[union-attr]
            assert modes == sorted(modes), f"{stream} out of order"
        assert eventually(lambda: ledger.verify().ok, 30)  # the KV bucket elects its own leader too
    # The restarted node caught up: a ledger opened on it alone reads everything.
    with open_ledger(f"{victim.url}/faults?timeout=10") as alone:
        deadline = time.monotonic() + 20
        while alone.latest_offset() < len(rows) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert alone.latest_offset() == len(rows)


def test_without_quorum_appends_fail_clearly_in_time_and_resume_after(cluster: list[NatsServer]) -> None:
    # Created with time to spare (a new R3 stream and buckets), then used with a 2 s deadline.
    open_ledger(cluster_url(cluster, "quorum", replicas=3, timeout=15)).close()
    url = cluster_url(cluster, "quorum", replicas=3, timeout=2)
    # Opening reads the stream and buckets: on a loaded machine the first look can miss 2 s,
    # which is not what this test is about (the append without quorum is).
    with eventually(lambda: open_ledger(url), 30) as ledger:
        first = ledger.append([StepRecorded(workflow_id="q", agent="t", success=True) for _ in range(5)])
        survivor = cluster[0]
        for node in cluster[1:]:
            node.kill()

        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as caught:
            ledger.append(StepRecorded(workflow_id="q", agent="t", success=True))
        elapsed = time.monotonic() - started
        assert elapsed < 2 + 2, f"the no-quorum error took {elapsed:.1f} s"
        assert "quorum" in str(caught.value)

        for node in cluster[1:]:
            node.start(wait=False)
        resumed = append_until_acknowledged(
            ledger, StepRecorded(workflow_id="q", agent="t", success=True), 30
        )
        rows = eventually(lambda: list(ledger.read()), 30)
        assert [r.offset for r in rows][: len(first.offsets)] == list(first.offsets)
        assert len({r.event.event_id for r in rows}) == len(rows)
        assert eventually(ledger.verify, 30).ok
        print(f"appends resumed {resumed:.1f} s after the restart (survivor {survivor.name})")
