"""A network partition on a 3-node JetStream cluster: the stream leader cut off from its peers.

Every route between two nodes runs through a loopback proxy of that pair (the servers advertise
no route or client address, so nothing goes around the proxies). Freezing a node's proxies cuts
it off from the other two while it keeps running and keeps its clients: what a partition is, and
what killing a node (tests/ledger/test_nats_cluster.py) is not. The isolated leader must
acknowledge nothing; the majority must elect a leader and carry on; after the heal the old leader
catches up, and nothing acknowledged on either side is lost, stored twice or out of order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from itertools import permutations
from pathlib import Path

import pytest

from ledger import BackendUnavailableError, Ledger, StepRecorded, open_ledger
from tests.conftest import REQUIRE_SERVICES
from tests.ledger.proxy import Proxy
from tests.ledger.test_nats_cluster import append_until_acknowledged, eventually, leader_of
from tests.nats_servers import NatsServer, binary_problem, cluster_url, free_port, wait_for_meta_leader

pytestmark = [pytest.mark.nats, pytest.mark.slow]

DEADLINE = 3.0
"""The ledgers' deadline (``?timeout=``) in this test."""


class PartitionableCluster:
    """Three nodes whose routes all pass through per-pair proxies, and the means to cut one off."""

    def __init__(self, root: Path) -> None:
        ports = [free_port() for _ in range(3)]
        names = [f"n{i + 1}" for i in range(3)]
        # (i, j): what node i dials to reach node j.
        self.proxies = {(i, j): Proxy("127.0.0.1", ports[j]) for i, j in permutations(range(3), 2)}
        self.nodes: list[NatsServer] = []
        for i in range(3):
            (root / names[i]).mkdir(parents=True)
            routes = [self.proxies[i, j].port for j in range(3) if j != i]
            # Port 1 listens nowhere: a route learned by gossip fails instead of going around.
            node = NatsServer(
                root / names[i], name=names[i], cluster_port=ports[i], routes=routes, advertise="127.0.0.1:1"
            )
            self.nodes.append(node)
        try:
            for node in self.nodes:
                node.start(wait=False)
            for node in self.nodes:
                node.wait_ready(30)
            wait_for_meta_leader(self.nodes, 30)
        except BaseException:
            self.stop()
            raise

    def node(self, name: str) -> NatsServer:
        return next(n for n in self.nodes if n.name == name)

    def isolate(self, name: str) -> None:
        """Cut the named node off from both others (it keeps running and serving its clients)."""
        k = self.nodes.index(self.node(name))
        for (i, j), proxy in self.proxies.items():
            if k in (i, j):
                proxy.freeze()

    def heal(self) -> None:
        for proxy in self.proxies.values():
            proxy.thaw()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        for proxy in self.proxies.values():
            proxy.kill()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[PartitionableCluster]:
    problem = binary_problem()
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(problem, pytrace=False)
        pytest.skip(problem)
    cluster = PartitionableCluster(tmp_path / "cluster")
    yield cluster
    cluster.stop()


def steps(tag: str, n: int) -> list[StepRecorded]:
    return [
        StepRecorded(workflow_id=f"{tag}-{i % 2}", agent="t", success=True, mode=f"{i:03d}") for i in range(n)
    ]


def caught_up(ledger: Ledger, offset: int, within: float) -> None:
    deadline = time.monotonic() + within
    while eventually(ledger.latest_offset, within) < offset:
        assert time.monotonic() < deadline, f"never caught up with offset {offset}"
        time.sleep(0.2)


def test_a_partitioned_leader_acknowledges_nothing_and_the_majority_carries_on(
    cluster: PartitionableCluster,
) -> None:
    nodes = cluster.nodes
    open_ledger(cluster_url(nodes, "part", replicas=3, timeout=15)).close()
    with eventually(
        lambda: open_ledger(cluster_url(nodes, "part", replicas=3, timeout=DEADLINE)), 30
    ) as any_node:
        before = steps("before", 6)
        any_node.append(before)
        leader = cluster.node(leader_of(any_node))
    rest = [n for n in nodes if n is not leader]
    minority = eventually(lambda: open_ledger(f"{leader.url}/part?replicas=3&timeout={DEADLINE}"), 30)
    majority = eventually(lambda: open_ledger(cluster_url(rest, "part", replicas=3, timeout=DEADLINE)), 30)
    try:
        cluster.isolate(leader.name)

        # The cut-off leader still runs and still has its client, but cannot reach a quorum.
        cut_off = steps("cut-off", 3)
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError):
            minority.append(cut_off)
        elapsed = time.monotonic() - started
        assert elapsed < DEADLINE + 2, f"the isolated leader's refusal took {elapsed:.1f} s"

        # The majority elects a new stream leader and goes on acknowledging appends.
        during = steps("during", 4)
        took = append_until_acknowledged(majority, during[0], 60)
        majority.append(during[1:])
        after = steps("after", 5)
        more = majority.append(after)
        assert leader_of(majority) != leader.name
        print(f"the majority acknowledged again {took:.1f} s after the partition")

        cluster.heal()
        # The old leader rejoins as a follower and catches up with what the majority wrote.
        caught_up(minority, more.offsets[-1], 60)
        # The refused batch, sent again with the same ids: stored exactly once now.
        append_until_acknowledged(minority, cut_off[0], 60)
        minority.append(cut_off[1:])

        rows = eventually(lambda: list(majority.read()), 30)
        ids = [r.event.event_id for r in rows]
        acked = [e.event_id for e in (*before, *during, *after, *cut_off)]
        assert len(ids) == len(set(ids)), "an event was stored twice"
        assert set(acked) <= set(ids), "an acknowledged event was lost"
        assert [r.offset for r in rows] == list(range(1, len(rows) + 1))
        for stream in {r.stream for r in rows}:
            mine = [r for r in rows if r.stream == stream]
            assert [r.version for r in mine] == list(range(1, len(mine) + 1))
        # Both sides read the same ledger, and its chain verifies.
        caught_up(minority, rows[-1].offset, 30)
        assert [r.event.event_id for r in eventually(lambda: list(minority.read()), 30)] == ids
        assert eventually(majority.verify, 30).ok
        assert eventually(minority.verify, 30).ok
    finally:
        cluster.heal()
        minority.close()
        majority.close()
