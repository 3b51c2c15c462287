"""``rledger forget SUBJECT --reason …``: text and JSON answers, and what it leaves in the ledger."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

import cli
from ledger import open_ledger
from tests.conftest import sqlite_url
from tests.ledger.keys.conftest import master_key, subject_events  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("master_key")


def _ledger(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "c.db")
    with open_ledger(url) as ledger:
        ledger.append(subject_events())
    return url


def test_forget_prints_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _ledger(tmp_path)
    assert cli.main(["--db", url, "forget", "alice", "--reason", "request 4", "--by", "dpo"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("forgot sub:") and "1 key(s) destroyed" in out and "offset 5" in out
    assert "alice" not in out
    with open_ledger(url) as ledger:
        assert next(ledger.read()).erased == ("goal", "input")


def test_forget_as_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = _ledger(tmp_path)
    assert cli.main(["--db", url, "forget", "bob", "--reason", "request 5", "--format", "json"]) == 0
    answer = orjson.loads(capsys.readouterr().out)
    assert (
        answer["keys_destroyed"] == 1 and answer["offset"] == 5 and answer["subject_ref"].startswith("sub:")
    )
    assert cli.main(["--db", url, "forget", "bob", "--reason", "again", "--format", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out)["keys_destroyed"] == 0


def test_forget_needs_a_reason(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--db", _ledger(tmp_path), "forget", "alice"])
    assert exited.value.code == 2 and "--reason" in capsys.readouterr().err


def test_forget_without_the_master_key_fails_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _ledger(tmp_path)
    monkeypatch.delenv("RLEDGER_MASTER_KEY")
    assert cli.main(["--db", url, "forget", "alice", "--reason", "r"]) != 0
    assert "holds subject keys" in capsys.readouterr().err


def test_events_after_forget_feed_append(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``rledger events --format json`` after a forget is input ``rledger append`` takes as it is."""
    url = _ledger(tmp_path)
    assert cli.main(["--db", url, "forget", "alice", "--reason", "r"]) == 0
    capsys.readouterr()
    assert cli.main(["--db", url, "events", "--format", "json"]) == 0
    lines = capsys.readouterr().out
    assert '"erased"' in lines
    dump = tmp_path / "events.jsonl"
    dump.write_text(lines)
    copy = sqlite_url(tmp_path / "copy.db")
    assert cli.main(["--db", copy, "append", str(dump)]) == 0
    with open_ledger(url) as source, open_ledger(copy) as target:
        read = [r.event for r in source.read()]
        assert [r.event for r in target.read()] == read
