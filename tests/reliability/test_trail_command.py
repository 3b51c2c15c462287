"""``rledger trail`` of a workflow that does not exist is "not found", not a failed explanation."""

from __future__ import annotations

from pathlib import Path

import pytest

import cli
from ledger import StepRecorded, open_ledger
from reliability.commands import EXIT_USAGE
from tests.conftest import sqlite_url


@pytest.mark.parametrize("extra", [[], ["--checkpoint", "cp-nope"]])
def test_trail_of_an_unknown_workflow_or_checkpoint_is_not_found_exit_2_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    url = sqlite_url(tmp_path / "l.db")
    with open_ledger(url) as ledger:
        ledger.append(StepRecorded(workflow_id="wf-1", agent="a", success=True))

    workflow = "wf-1" if extra else "nope"
    status = cli.main(["--db", url, "trail", workflow, *extra])

    captured = capsys.readouterr()
    assert status == EXIT_USAGE
    assert captured.out == ""
    assert "not found" in captured.err and (("cp-nope" if extra else "'nope'") in captured.err)
    with open_ledger(url) as ledger:
        assert list(ledger.read(types="ExplanationRecorded")) == []
