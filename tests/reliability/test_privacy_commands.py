"""``--redaction``, ``$RLEDGER_REDACTION``, redaction counts in ``rledger stats``, ``export``, ``import``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cli
from ledger import open_ledger
from tests.conftest import sqlite_url

POLICY = {
    "detectors": ["email", "credit_card"],
    "rules": [{"type": "ToolCalled", "path": "arguments.password", "action": "drop", "name": "password"}],
}
LINES = [
    {
        "type": "ToolCalled",
        "tool": "pay",
        "workflow_id": "w",
        "arguments": {"password": "pw", "to": "a@b.io"},
    },
    {"type": "ToolCalled", "tool": "pay", "workflow_id": "w", "arguments": {"card": "4111111111111111"}},
    {"type": "StepRecorded", "agent": "x", "success": True, "workflow_id": "w"},
]


@pytest.fixture
def policy(tmp_path: Path) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(POLICY))
    return str(path)


def append(tmp_path: Path, *options: str) -> str:
    url = sqlite_url(tmp_path / "l.db")
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in LINES) + "\n")
    assert cli.main(["--db", url, *options, "append", str(source)]) == 0
    return url


def test_stats_text_and_json_show_the_same_counts(
    tmp_path: Path, policy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = append(tmp_path, "--redaction", policy)
    capsys.readouterr()

    assert cli.main(["--db", url, "stats", "--format", "json"]) == 0
    counts = json.loads(capsys.readouterr().out)["redactions"]
    assert cli.main(["--db", url, "stats"]) == 0
    text = capsys.readouterr().out

    assert counts == {
        "events": 2,
        "redactions": 3,
        "by_action": {"drop": 1, "mask": 2},
        "by_rule": {"password": 1},
        "by_detector": {"credit_card": 1, "email": 1},
    }
    assert f"redacted events    {counts['events']}" in text
    assert f"redactions         {counts['redactions']}" in text
    rows = {tuple(line.split()) for line in text.splitlines()}
    for kind, key in (("action", "by_action"), ("rule", "by_rule"), ("detector", "by_detector")):
        for name, n in counts[key].items():
            assert (kind, name, str(n)) in rows


def test_the_environment_names_the_policy(
    tmp_path: Path, policy: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLEDGER_REDACTION", policy)
    url = append(tmp_path)

    with open_ledger(url) as ledger:
        stored = [r.event.model_dump() for r in ledger.read()]
    assert "password" not in stored[0]["arguments"] and stored[0]["arguments"]["to"] == "[redacted:email]"
    assert stored[1]["arguments"]["card"] == "[redacted:credit_card]"


def test_without_a_policy_nothing_is_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = append(tmp_path)
    capsys.readouterr()

    assert cli.main(["--db", url, "stats", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["redactions"]["events"] == 0
    assert cli.main(["--db", url, "stats"]) == 0
    assert "redacted events" not in capsys.readouterr().out


def test_a_bad_policy_is_exit_2_naming_the_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"detectors": ["emial"]}')
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(LINES[0]) + "\n")

    code = cli.main(["--db", sqlite_url(tmp_path / "l.db"), "--redaction", str(bad), "append", str(source)])

    assert code == 2
    assert "detectors[0].name: unknown detector 'emial'" in capsys.readouterr().err


def test_export_a_range_check_it_and_import_it_twice(
    tmp_path: Path, policy: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = append(tmp_path, "--redaction", policy)
    out = tmp_path / "range.jsonl"
    other = sqlite_url(tmp_path / "other.db")

    assert cli.main(["--db", url, "export", "--after", "1", "--out", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["import", "--check", str(out), "--format", "json"]) == 0
    checked = json.loads(capsys.readouterr().out)
    assert cli.main(["--db", other, "import", str(out)]) == 0
    first = capsys.readouterr().out
    assert cli.main(["--db", other, "import", str(out), "--format", "json"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert (checked["ok"], checked["records"], checked["verified"], checked["links"]) == (True, 2, 2, 1)
    assert "imported: 2 written, 0 already stored" in first
    assert (second["written"], second["duplicates"]) == (0, 2)
    assert b"4111111111111111" not in out.read_bytes()


def test_import_refuses_a_tampered_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = append(tmp_path)
    out = tmp_path / "range.jsonl"
    assert cli.main(["--db", url, "export", "--out", str(out), "--type", "ToolCalled"]) == 0
    out.write_text(out.read_text().replace("a@b.io", "c@d.io"))
    other = tmp_path / "other.db"

    assert cli.main(["--db", sqlite_url(other), "import", str(out)]) == 1
    text = capsys.readouterr().out
    assert "line 1 (offset 1): edited" in text and "nothing imported" in text
    assert not other.exists()


def test_a_workflow_export_and_a_range_export_do_not_mix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = append(tmp_path)

    assert cli.main(["--db", url, "export", "w", "--since", "2026-01-01"]) == 2
    assert "--since export a range" in capsys.readouterr().err
    assert cli.main(["--db", url, "export", "--type", "ToolCalled"]) == 2
    assert "needs --out" in capsys.readouterr().err
    assert cli.main(["--db", url, "export", "w"]) == 0  # a workflow's history, as before
    assert len(capsys.readouterr().out.splitlines()) == 3
