"""``rledger anchor``, ``verify --anchor`` and ``follow --anchor-every``, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from ledger import StepRecorded, open_ledger, read_anchors
from tests.conftest import ManualClock, sqlite_url

REPO = Path(__file__).resolve().parents[2]


def rledger(*argv: str) -> int:
    try:
        return cli.main(list(argv))
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "l.db")
    with open_ledger(url) as ledger:
        ledger.append([StepRecorded(workflow_id="w", agent="a", success=True) for _ in range(5)])
    return url


def test_a_key_is_made_private_and_its_public_half_is_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "anchor.key"
    assert rledger("anchor", "--new-key", str(key)) == 0
    out = capsys.readouterr().out

    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert (tmp_path / "anchor.key.pub").exists()
    private = key.read_text()
    assert "PRIVATE KEY" in private and private.strip().splitlines()[1] not in out
    assert rledger("anchor", "--new-key", str(key)) == 2
    assert "exists: a key is never overwritten" in capsys.readouterr().err
    assert key.read_text() == private


def test_anchors_to_a_directory_then_verify_catches_a_rewritten_tail(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, heads = tmp_path / "k", tmp_path / "heads"
    heads.mkdir()
    assert rledger("anchor", "--new-key", str(key)) == 0
    assert rledger("--db", db, "anchor", "--out", str(heads), "--key", str(key)) == 0
    assert "anchored head at offset 5" in capsys.readouterr().out
    assert rledger("--db", db, "verify", "--anchor", str(heads), "--trusted-key", f"{key}.pub") == 0
    assert "1 anchored head(s) checked; signatures checked with the trusted key" in capsys.readouterr().out

    # A writer of the database cuts the tail and rewrites the head to match.
    path = db.split("://", 1)[1][1:]
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("DELETE FROM ledger_events WHERE notification_id > 3")
        conn.execute(
            "UPDATE ledger_head SET last_offset = 3, "
            "chain = (SELECT chain FROM ledger_events WHERE notification_id = 3)"
        )
    conn.close()

    assert rledger("--db", db, "verify") == 0  # the chain alone cannot tell
    capsys.readouterr()
    assert rledger("--db", db, "verify", "--anchor", str(heads), "--format", "json") == 1
    report = json.loads(capsys.readouterr().out)
    assert [(p["kind"], p["offset"]) for p in report["problems"]] == [("truncated", 4)]


def test_anchor_to_stdout_and_since_anchor(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k"
    assert rledger("anchor", "--new-key", str(key)) == 0
    capsys.readouterr()
    assert rledger("--db", db, "anchor", "--out", "-", "--key", str(key)) == 0
    line = capsys.readouterr().out
    (tmp_path / "head.json").write_text(line)
    assert json.loads(line)["offset"] == 5
    # Nothing new since the anchor: checked up to the anchored offset, not "up to offset 0".
    assert rledger("--db", db, "verify", "--anchor", str(tmp_path / "head.json"), "--since-anchor") == 0
    assert "0 event(s) checked after offset 5 up to offset 5" in capsys.readouterr().out
    args = (
        "--db",
        db,
        "verify",
        "--anchor",
        str(tmp_path / "head.json"),
        "--since-anchor",
        "--format",
        "json",
    )
    assert rledger(*args) == 0
    empty = json.loads(capsys.readouterr().out)
    assert (empty["first_offset"], empty["last_offset"], empty["events_checked"]) == (5, 5, 0)
    with open_ledger(db) as ledger:
        ledger.append([StepRecorded(agent="a", success=True) for _ in range(3)])

    assert rledger("--db", db, "verify", "--anchor", str(tmp_path / "head.json"), "--since-anchor") == 0
    assert "3 event(s) checked after offset 5 up to offset 8" in capsys.readouterr().out


def test_anchor_without_a_key_or_with_an_exposed_key_is_refused(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("RLEDGER_ANCHOR_KEY", raising=False)
    assert rledger("--db", db, "anchor", "--out", str(tmp_path / "a.json")) == 2
    assert "no signing key" in capsys.readouterr().err

    assert rledger("anchor", "--new-key", str(tmp_path / "k")) == 0
    os.chmod(tmp_path / "k", 0o644)
    monkeypatch.setenv("RLEDGER_ANCHOR_KEY", str(tmp_path / "k"))
    assert rledger("--db", db, "anchor", "--out", str(tmp_path / "a.json")) == 1
    assert "readable by others" in capsys.readouterr().err
    assert not (tmp_path / "a.json").exists()

    assert rledger("--db", db, "verify", "--since-anchor") == 2
    assert rledger("--db", db, "verify", "--anchor", str(tmp_path / "none.json")) == 2


def test_verify_json_says_what_was_pruned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_url(tmp_path / "p.db")
    with open_ledger(url, clock=ManualClock(datetime.now(UTC) - timedelta(days=100))) as ledger:
        ledger.append([StepRecorded(agent="a", success=True) for _ in range(4)])
    with open_ledger(url) as ledger:
        ledger.append(StepRecorded(agent="a", success=True))
        ledger.prune(datetime.now(UTC) - timedelta(days=90), force=True)

    assert rledger("--db", url, "verify", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["pruned_through"], report["pruned_events"], report["events_checked"]) == (
        True,
        4,
        4,
        1,
    )


@pytest.mark.slow
def test_follow_anchors_the_head_periodically(db: str, tmp_path: Path) -> None:
    key, heads = tmp_path / "k", tmp_path / "heads"
    heads.mkdir()
    assert rledger("anchor", "--new-key", str(key)) == 0
    follower = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, cli; sys.exit(cli.main(sys.argv[1:]))",
            "--db",
            db,
            "follow",
            "--seconds",
            "60",
            "--anchor-every",
            "0.2",
            "--anchor-out",
            str(heads),
            "--anchor-key",
            str(key),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )

    def offsets_anchored() -> set[int]:
        return {a.offset for a in read_anchors(heads)} if any(heads.glob("*.json")) else set()

    def wait_for(offset: int) -> None:
        deadline = time.monotonic() + 30
        while offset not in offsets_anchored():
            assert follower.poll() is None, follower.communicate()
            assert time.monotonic() < deadline, f"no anchor of offset {offset}"
            time.sleep(0.05)

    try:
        wait_for(5)
        with open_ledger(db) as ledger:
            ledger.append([StepRecorded(agent="a", success=True) for _ in range(2)])
        wait_for(7)  # the next anchor after the append: periodic, not once
    finally:
        follower.send_signal(signal.SIGINT)  # how a follower is stopped: Ctrl-C
        _out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err

    anchors = read_anchors(heads)
    assert {a.offset for a in anchors} == {5, 7}
    with open_ledger(db) as ledger:
        assert ledger.verify(anchors=anchors).ok


def test_a_key_encrypted_with_a_passphrase_needs_it_to_sign(
    db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k"
    monkeypatch.setenv("RLEDGER_ANCHOR_PASSPHRASE", "correct horse")
    assert rledger("anchor", "--new-key", str(key)) == 0
    assert "ENCRYPTED PRIVATE KEY" in key.read_text()
    assert rledger("--db", db, "anchor", "--out", str(tmp_path / "a.json"), "--key", str(key)) == 0
    assert "correct horse" not in capsys.readouterr().out

    monkeypatch.setenv("RLEDGER_ANCHOR_PASSPHRASE", "wrong")
    assert rledger("--db", db, "anchor", "--out", str(tmp_path / "b.json"), "--key", str(key)) == 1
    assert "wrong passphrase" in capsys.readouterr().err
    monkeypatch.delenv("RLEDGER_ANCHOR_PASSPHRASE")
    assert rledger("--db", db, "anchor", "--out", str(tmp_path / "b.json"), "--key", str(key)) == 1
    assert "no passphrase was given" in capsys.readouterr().err
    assert (
        rledger("--db", db, "verify", "--anchor", str(tmp_path / "a.json"), "--trusted-key", f"{key}.pub")
        == 0
    )
