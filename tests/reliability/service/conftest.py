"""A real ``rledger serve`` in a subprocess on a free loopback port, with a token of each scope.

:class:`Server` starts the command as a user would (``python -m cli … serve``), waits for
``/healthz``, and is stopped (or killed) by the test; its clients are real ``httpx`` clients
over loopback.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from reliability.service import create_token

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """One ``rledger serve`` process and the tokens it accepts."""

    db: str
    tokens: Path
    port: int = field(default_factory=free_port)
    options: tuple[str, ...] = ()
    token: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    auth: bool = True
    """False: no ``--tokens`` (an open server, as ``rledger serve`` allows on loopback)."""

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> Server:
        """Start the process and wait until ``/healthz`` answers."""
        command = [sys.executable, "-m", "cli", "--db", self.db, "serve", "--port", str(self.port)]
        if self.auth:
            command += ["--tokens", str(self.tokens)]
        command += ["--log-level", "warning", *self.options]
        log = self.tokens.with_name(f"serve-{self.port}.log")
        with open(log, "ab") as stderr:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(command, cwd=ROOT, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"rledger serve exited with {self.process.returncode}: {log.read_text()}"
                )
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise AssertionError(f"rledger serve did not answer on {self.base} within {timeout} s")

    def client(self, scope: str | None = "admin", **kwargs: object) -> httpx.Client:
        """A client sending the token of ``scope`` (``None``: no token)."""
        headers = {"Authorization": f"Bearer {self.token[scope]}"} if scope else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> int | None:
        """Stop with SIGTERM (pending appends are committed) and return the exit status."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: the process dies at once, mid-request."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


StartServer = Callable[..., Server]


@pytest.fixture
def tokens_file(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A token file with one token per scope, and the tokens."""
    path = tmp_path / "tokens.json"
    made = {scope: create_token(path, scope, scope)[1] for scope in ("ingest", "read", "admin")}
    return path, made


@pytest.fixture
def serve(tokens_file: tuple[Path, dict[str, str]]) -> Iterator[StartServer]:
    """Start servers on a ledger URL (``serve(url, *options)``); all are stopped afterwards."""
    started: list[Server] = []
    path, made = tokens_file

    def start(db: str, *options: str) -> Server:
        server = Server(db=db, tokens=path, options=options, token=made)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
