"""``rledger serve --anchor-every S --anchor-out DIR``: signed heads while serving, checked by verify."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

import cli
from ledger import open_ledger, read_anchors
from tests.conftest import sqlite_url
from tests.reliability.service.conftest import ROOT, StartServer


def _step(n: int) -> dict[str, object]:
    return {
        "type": "StepRecorded",
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"anchored-{n}")),
        "agent": "a",
        "success": True,
    }


def _offsets(heads: Path) -> set[int]:
    return {a.offset for a in read_anchors(heads)} if any(heads.glob("*.json")) else set()


def _wait_for(heads: Path, offset: int) -> None:
    deadline = time.monotonic() + 20
    while offset not in _offsets(heads):
        assert time.monotonic() < deadline, f"no anchor of offset {offset}: {_offsets(heads)}"
        time.sleep(0.05)


def test_the_server_signs_each_new_head_and_the_last_one_at_shutdown(
    tmp_path: Path, serve: StartServer
) -> None:
    db = sqlite_url(tmp_path / "served.db")
    key, heads = tmp_path / "k", tmp_path / "heads"
    heads.mkdir()
    assert cli.main(["anchor", "--new-key", str(key)]) == 0
    server = serve(db, "--anchor-every", "0.2", "--anchor-out", str(heads), "--anchor-key", str(key))
    _wait_for(heads, 0)  # the start-up anchor, before anything is appended
    with server.client("ingest") as client:
        assert client.post("/v1/events", json=[_step(0), _step(1)]).status_code in (200, 201)
        _wait_for(heads, 2)
        time.sleep(0.6)  # three more periods with the head unchanged: no new file
        assert len(list(heads.glob("*.json"))) == 2  # the empty head at start-up, then offset 2
        assert client.post("/v1/events", json=[_step(2)]).status_code in (200, 201)
        _wait_for(heads, 3)
        # Appended just before shutdown: the final anchor covers it whatever the period.
        assert client.post("/v1/events", json=[_step(3)]).status_code in (200, 201)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: the process ends by that signal.
    assert server.stop() in (0, -15)

    anchors = read_anchors(heads)
    assert max(a.offset for a in anchors) == 4
    assert {a.offset for a in anchors} >= {0, 2, 3, 4}
    with open_ledger(db) as ledger:
        assert ledger.verify(anchors=anchors).ok
    verified = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--db",
            db,
            "verify",
            "--anchor",
            str(heads),
            "--trusted-key",
            f"{key}.pub",
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--anchor-every", "1"], "needs both --anchor-every"),
        (["--anchor-out", "DIR"], "needs both --anchor-every"),
        (["--anchor-every", "0", "--anchor-out", "DIR"], "(> 0)"),
        (["--anchor-every", "1", "--anchor-out", "MISSING"], "must be an existing directory"),
        (["--anchor-every", "1", "--anchor-out", "DIR"], "no signing key"),
    ],
)
def test_bad_anchoring_options_stop_the_server_before_it_starts(
    tmp_path: Path, options: list[str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RLEDGER_ANCHOR_KEY", raising=False)
    (tmp_path / "DIR").mkdir()
    argv = [str(tmp_path / o) if o in ("DIR", "MISSING") else o for o in options]
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", sqlite_url(tmp_path / "x.db"), "serve", "--port", "1", *argv],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert says in done.stderr


def test_a_key_others_can_read_stops_the_server_before_it_starts(tmp_path: Path) -> None:
    key = tmp_path / "k"
    assert cli.main(["anchor", "--new-key", str(key)]) == 0
    key.chmod(0o644)
    (tmp_path / "heads").mkdir()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "--db",
            sqlite_url(tmp_path / "x.db"),
            "serve",
            "--anchor-every",
            "1",
            "--anchor-out",
            str(tmp_path / "heads"),
            "--anchor-key",
            str(key),
        ],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1  # as `rledger anchor` with such a key: a problem found, not a usage error
    assert "readable by others" in done.stderr


def test_the_head_at_shutdown_is_signed_even_between_periods(tmp_path: Path, serve: StartServer) -> None:
    db = sqlite_url(tmp_path / "served.db")
    key, heads = tmp_path / "k", tmp_path / "heads"
    heads.mkdir()
    assert cli.main(["anchor", "--new-key", str(key)]) == 0
    server = serve(db, "--anchor-every", "3600", "--anchor-out", str(heads), "--anchor-key", str(key))
    _wait_for(heads, 0)  # the start-up anchor; the next period is an hour away
    with server.client("ingest") as client:
        assert client.post("/v1/events", json=[_step(n) for n in range(5)]).status_code in (200, 201)
    server.stop()

    assert _offsets(heads) == {0, 5}
