"""The ``rledger`` entry point: dispatch, cheap start-up, the README's command table, ``append``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cli
from ledger import open_ledger
from reliability.commands import MODULES
from tests.conftest import sqlite_url

ROOT = Path(__file__).resolve().parents[2]


def subcommands(parser: object) -> list[str]:
    """The command names a parser dispatches on, in order."""
    return [
        name
        for action in getattr(parser, "_actions", [])
        if action.__class__.__name__ == "_SubParsersAction"
        for name in action.choices
    ]


def test_every_command_is_registered_by_the_module_the_registry_names() -> None:
    assert subcommands(cli.build_parser()) == list(MODULES)
    for command, module in MODULES.items():
        siblings = [c for c, m in MODULES.items() if m == module]
        assert subcommands(cli.build_parser(command)) == siblings


def test_a_command_starts_without_loading_the_others_dependencies() -> None:
    code = (
        "import sys, cli\n"
        "assert cli.main(['schema']) == 0\n"
        "loaded = {m.split('.')[0] for m in sys.modules}\n"
        "heavy = sorted(loaded & {'numpy', 'projections', 'replay', 'tqdm'})\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert json.loads(done.stdout)["title"]
    assert done.stderr == "[]"


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    out = capsys.readouterr().out

    assert exit_.value.code == 0
    assert all(re.search(rf"^\s+{command}\s", out, flags=re.M) for command in MODULES)


def test_an_unknown_command_is_a_usage_error_listing_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--db", "memory://", "nope"])
    err = capsys.readouterr().err

    assert exit_.value.code == 2
    assert "invalid choice: 'nope'" in err and "'demo'" in err and "'append'" in err


def test_the_readme_command_table_lists_exactly_the_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"`rledger ([a-z]+)", section)

    assert sorted(set(documented)) == sorted(MODULES)


# -- append ---------------------------------------------------------------------------------------

LINES = [
    '{"type": "PlanRevised", "reason": "one"}',
    "",
    '{"type": "NoSuchEvent"}',
    '{"type": "StepRecorded", "agent": "a", "success": "maybe"}',
    '{"type": "PlanRevised", "reason": "five"}',
    "not json",
]


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(LINES) + "\n")
    return path


@pytest.mark.parametrize("batch", ["1", "2", "1000"])
def test_append_rejects_the_whole_input_with_file_line_numbers(
    tmp_path: Path, jsonl: Path, batch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "a.db")

    assert cli.main(["--db", url, "append", str(jsonl), "--batch-size", batch]) == 2
    err = capsys.readouterr().err.splitlines()

    assert err[0] == (
        "error: rejected the input: 3 problem(s) in 6 line(s); nothing written "
        "(--skip-invalid writes the valid lines)"
    )
    assert [line.split(":")[0].split(",")[0].strip() for line in err[1:]] == ["line 3", "line 4", "line 6"]
    with open_ledger(url) as ledger:
        assert ledger.latest_offset() == 0


@pytest.mark.parametrize("batch", ["1", "4", "1000"])
def test_append_skip_invalid_writes_the_valid_lines_and_reports_the_rest(
    tmp_path: Path, jsonl: Path, batch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "a.db")

    assert cli.main(["--db", url, "append", str(jsonl), "--skip-invalid", "--batch-size", batch]) == 1
    out, err = capsys.readouterr()

    assert out == "appended 2 event(s), 0 already stored; last offset 2\n"
    assert err.splitlines()[0] == "skipped 3 invalid line(s):"
    assert [line.split(",")[0].split(":")[0].strip() for line in err.splitlines()[1:]] == [
        "line 3",
        "line 4",
        "line 6",
    ]
    with open_ledger(url) as ledger:
        assert [r.event.reason for r in ledger.read()] == ["one", "five"]  # type: ignore[union-attr]


def test_append_reads_stdin_and_writes_an_event_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "a.db")
    line = b'{"type": "PlanRevised", "reason": "r", "event_id": "00000000-0000-0000-0000-000000000001"}\n'
    for expected in ("appended 1 event(s), 0 already stored", "appended 0 event(s), 1 already stored"):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(line)))
        assert cli.main(["--db", url, "append"]) == 0
        assert capsys.readouterr().out == f"{expected}; last offset 1\n"


def test_append_of_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", sqlite_url(tmp_path / "a.db"), "append", str(tmp_path / "nope.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("batch", ["1", "1000"])
def test_append_of_a_changed_event_names_its_line_not_its_index_in_a_batch(
    tmp_path: Path, batch: str, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "a.db")
    event = '{{"type": "PlanRevised", "reason": "{}", "event_id": "00000000-0000-0000-0000-000000000001"}}'
    first, changed = tmp_path / "first.jsonl", tmp_path / "changed.jsonl"
    first.write_text(event.format("r") + "\n")
    changed.write_text('{"type": "PlanRevised", "reason": "other"}\n' + event.format("changed") + "\n")
    assert cli.main(["--db", url, "append", str(first)]) == 0
    capsys.readouterr()

    assert cli.main(["--db", url, "append", str(changed), "--batch-size", batch]) == 1
    err = capsys.readouterr().err

    assert err.startswith("error: line 2: event_id 00000000-0000-0000-0000-000000000001 is already stored")
    assert "event 1" not in err and "event 0" not in err


def test_append_of_empty_input_says_there_was_nothing_to_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n")))

    assert cli.main(["--db", sqlite_url(tmp_path / "a.db"), "append"]) == 0
    assert capsys.readouterr().out == "nothing to append (no events in the input)\n"


@pytest.mark.parametrize("command", list(MODULES))
def test_the_global_db_option_is_accepted_after_every_command_too(command: str) -> None:
    before = cli.build_parser().parse_args(["--db", "memory://", command, *ARGS.get(command, [])])
    after = cli.build_parser().parse_args([command, *ARGS.get(command, []), "--db", "memory://"])

    assert before.db == after.db == "memory://"
    assert vars(before) == vars(after)


def test_the_db_option_after_the_command_runs_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "after.db")
    line = tmp_path / "one.jsonl"
    line.write_text('{"type": "PlanRevised", "reason": "r"}\n')

    assert cli.main(["append", str(line), "--db", url]) == 0
    assert cli.main(["stats", "--db", url]) == 0
    with open_ledger(url) as ledger:
        assert ledger.latest_offset() == 1


ARGS = {
    "append": ["-"],
    "anchor": ["--out", "-"],
    "trail": ["wf"],
    "export": ["wf"],
    "replay": ["wf", "--orchestrator", "m:a"],
    "import": ["export.jsonl"],
    "trends": ["svr"],
    "prune": ["--older-than", "3"],
    "forget": ["someone", "--reason", "a request"],
    "token": ["create", "--tokens", "t.json", "--scope", "read"],
}
"""What each command needs besides ``--db`` to parse."""
