"""Tokens: ``rledger token`` keeps only salted hashes, the server picks up changes, open binds are refused."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reliability.commands.serve import config_from
from reliability.service import TokenStore
from tests.reliability.service.conftest import ROOT, Server, free_port

GOOD = {"type": "PlanRevised", "reason": "r"}


def rledger(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_created_token_is_printed_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    made = rledger("token", "create", "--tokens", str(path), "--scope", "ingest", "--name", "ci")

    assert made.returncode == 0
    token = made.stdout.splitlines()[-1]
    assert token.startswith("rlt_") and len(token) > 40
    stored = path.read_text()
    assert token not in stored and token.split("_", 2)[2] not in stored
    assert '"scope": "ingest"' in stored and '"salt"' in stored
    assert path.stat().st_mode & 0o077 == 0  # only the owner may read it
    listed = rledger("token", "list", "--tokens", str(path))
    assert listed.stdout.startswith("ci\tingest\t") and token not in listed.stdout
    assert (
        rledger("token", "create", "--tokens", str(path), "--scope", "read", "--name", "ci").returncode == 2
    )
    assert rledger("token", "revoke", "--tokens", str(path), "nobody").returncode == 2


def test_the_server_takes_new_tokens_and_drops_revoked_ones_without_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    first = rledger("token", "create", "--tokens", str(path), "--scope", "admin", "--name", "one").stdout
    server = Server(
        db=f"sqlite:///{tmp_path}/l.db", tokens=path, token={"one": first.splitlines()[-1]}
    ).start()
    try:
        with server.client("one") as api:
            assert api.post("/v1/events", json=[GOOD]).status_code == 200
            second = rledger("token", "create", "--tokens", str(path), "--scope", "ingest", "--name", "two")
            server.token["two"] = second.stdout.splitlines()[-1]
            with server.client("two") as newcomer:
                assert newcomer.post("/v1/events", json=[GOOD]).status_code == 200
                assert rledger("token", "revoke", "--tokens", str(path), "two").returncode == 0
                time.sleep(TokenStore.STAT_INTERVAL * 2)  # the server looks at the file at most this often
                assert newcomer.post("/v1/events", json=[GOOD]).status_code == 401
            assert api.get("/readyz").json()["head_offset"] == 2
            path.write_text("{broken")  # fail closed: a broken file takes no token
            time.sleep(TokenStore.STAT_INTERVAL * 2)
            answer = api.get("/v1/events")
            assert answer.status_code == 401 and "not a token file" in answer.json()["error"]
    finally:
        server.stop()


def test_a_non_loopback_bind_without_tokens_is_refused(tmp_path: Path) -> None:
    done = rledger(
        "--db", f"sqlite:///{tmp_path}/l.db", "serve", "--host", "0.0.0.0", "--port", str(free_port())
    )

    assert done.returncode == 2
    assert "refusing to serve on 0.0.0.0 without --tokens" in done.stderr


def options(**given: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "db": "memory://",
        "host": "127.0.0.1",
        "port": 8000,
        "tokens": None,
        "insecure": False,
        "max_body_mb": 20.0,
        "max_events": 10_000,
        "request_timeout": 60.0,
        "metrics_agents": 50,
    }
    return argparse.Namespace(**{**base, **given})


def test_insecure_or_tokens_allow_a_non_loopback_bind_and_loopback_needs_neither(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    rledger("token", "create", "--tokens", str(path), "--scope", "read")

    assert config_from(options(host="0.0.0.0", insecure=True)).tokens is None
    assert config_from(options(host="0.0.0.0", tokens=path)).tokens == path
    assert config_from(options(host="::1")).max_body_bytes == 20 * 2**20
    with pytest.raises(ValueError, match="refusing"):
        config_from(options(host="10.1.2.3"))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        config_from(options(tokens=tmp_path / "missing.json"))
