"""``rledger`` starts without loading what a command does not use (issue #16, ``bench/cli.py``).

Import-set checks, not timings: each runs a fresh interpreter and asserts which heavy modules
(numpy, pydantic, the projections, the replayer, the ledger's write path) a command loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from projections.metrics import table as report_table
from projections.signals import BUILTIN_SERIES
from reliability.commands.options import table
from reliability.commands.trends import BUILTIN_NAMES

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "pydantic", "projections", "replay", "msgspec", "ledger.codec", "ledger.commit")


def loaded_by(code: str, env: dict[str, str] | None = None) -> dict[str, bool]:
    """Run ``code`` in a fresh interpreter; return which of :data:`HEAVY` it had imported."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, bool] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


def run_cli(*argv: str) -> str:
    """The code that runs ``rledger argv`` in-process, output discarded, exit status ignored."""
    return (
        "import contextlib, io, cli\n"
        "sink = io.TextIOWrapper(io.BytesIO())\n"
        f"with contextlib.redirect_stdout(sink), contextlib.suppress(SystemExit): cli.main({list(argv)!r})"
    )


def test_import_cli_loads_nothing_heavy() -> None:
    assert not any(loaded_by("import cli").values())


def test_help_loads_nothing_heavy() -> None:
    # The full parser registers every command's options: no command module may import its
    # package at the top.
    assert not any(loaded_by(run_cli("--help")).values())
    assert not any(loaded_by("import cli; cli.build_parser()").values())


def test_schema_prints_the_stored_file_without_pydantic() -> None:
    assert not any(loaded_by(run_cli("schema")).values())


def test_stats_reads_without_the_write_path_or_numpy(tmp_path: Path) -> None:
    from ledger import generate_workload, open_ledger

    url = f"sqlite:///{tmp_path / 'stats.db'}"
    with open_ledger(url) as ledger:
        ledger.append(list(generate_workload(300, seed=1)))
    loaded = loaded_by(run_cli("--db", url, "stats"))
    assert not any(loaded.values()), loaded
    # ... and it still counts what is there.
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, cli; sys.exit(cli.main())",
            "--db",
            url,
            "stats",
            "--format",
            "json",
        ],
        cwd=REPO,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events"] == 300


def test_a_command_that_needs_the_projections_still_loads_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    loaded = loaded_by(run_cli("--db", url, "demo", "--events", "200", "--quiet"))
    assert loaded["numpy"] and loaded["projections"] and loaded["pydantic"]


@pytest.mark.parametrize(
    ("rows", "headers"),
    [
        ([], ("type", "events")),
        ([("StepRecorded", 3), ("ToolCalled", None)], ("type", "events")),
        ([("a", "bb", ""), ("ccc", 1, 2.5)], ("x", "a much longer header", "z")),
    ],
)
def test_the_commands_table_is_the_reports_table(
    rows: list[tuple[object, ...]], headers: tuple[str, ...]
) -> None:
    assert table(rows, headers) == report_table(rows, headers)


def test_the_trends_help_names_every_builtin_series() -> None:
    assert BUILTIN_NAMES == BUILTIN_SERIES
