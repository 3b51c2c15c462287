"""Exit codes: 2 is "not found / bad argument / unreadable input", 1 is "ran and found a problem"."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from ledger import StepRecorded, open_ledger
from reliability.commands import EXIT_USAGE
from tests.conftest import sqlite_url

REPLAY = ["--mode", "simulated", "--orchestrator", "replay.examples:TicketAgent"]


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A SQLite ledger holding one workflow, ``wf-1``."""
    found = sqlite_url(tmp_path / "l.db")
    with open_ledger(found) as ledger:
        ledger.append(StepRecorded(workflow_id="wf-1", agent="a", success=True))
    return found


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["trail", "nope"], "'nope'"),
        (["export", "nope"], "'nope'"),
        (["export", "wf-1", "--checkpoint", "cp-nope"], "cp-nope"),
        (["replay", "nope", *REPLAY], "'nope'"),
        (["replay", "wf-1", *REPLAY, "--checkpoint", "cp-nope"], "cp-nope"),
    ],
)
def test_a_workflow_or_checkpoint_that_does_not_exist_exits_2_not_1(
    url: str, argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["--db", url, *argv])

    captured = capsys.readouterr()
    assert status == EXIT_USAGE
    assert captured.out == ""
    assert captured.err.startswith("error: not found: ") and named in captured.err


def test_replay_of_a_history_file_that_does_not_exist_says_so_like_append(
    url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = str(tmp_path / "nope.jsonl")

    replayed = cli.main(["--db", url, "replay", "wf-1", *REPLAY, "--history", missing])
    replay_err = capsys.readouterr().err
    appended = cli.main(["--db", url, "append", missing])
    append_err = capsys.readouterr().err

    assert replayed == appended == EXIT_USAGE
    assert replay_err == append_err == f"error: input file '{missing}' does not exist\n"


def test_a_ledger_url_no_backend_serves_is_a_bad_argument(capsys: pytest.CaptureFixture[str]) -> None:
    status = cli.main(["--db", "bogus://x", "stats"])

    assert status == EXIT_USAGE
    assert capsys.readouterr().err.startswith("error: unsupported ledger URL 'bogus://x'")


def test_the_readme_gives_the_exit_codes() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]

    for code, meaning in (("0", "success"), ("1", "found a problem"), ("2", "not found")):
        assert f"| {code} | {meaning}" in section
