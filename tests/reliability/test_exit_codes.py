"""Exit codes: 2 not found / bad argument / bad input, 1 ran and found a problem, 3 unreachable."""

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


def _closed_port() -> int:
    import socket

    with socket.socket() as s:  # bound, never listening: a connect is refused at once
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("scheme", ["postgresql", "redis"])
def test_an_unreachable_server_exits_3_so_a_script_can_tell_it_from_a_finding(
    scheme: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reliability.commands import EXIT_UNAVAILABLE

    pytest.importorskip(scheme.replace("postgresql", "psycopg"))
    url = f"{scheme}://127.0.0.1:{_closed_port()}/{'test' if scheme == 'postgresql' else '0'}?timeout=2"

    assert cli.main(["--db", url, "stats"]) == EXIT_UNAVAILABLE == 3
    assert capsys.readouterr().err.startswith("error: ")


def test_a_sqlite_file_in_a_missing_directory_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "no" / "such" / "dir" / "l.db")

    (tmp_path / "in.jsonl").write_text('{"type": "PlanRevised", "reason": "r"}\n')
    assert cli.main(["--db", url, "append", str(tmp_path / "in.jsonl")]) == EXIT_USAGE
    assert "directory" in capsys.readouterr().err and not (tmp_path / "no").exists()
