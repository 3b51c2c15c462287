"""``rledger report`` as of an old offset judges budgets there too; a window with no data is not healthy."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import cli
from ledger import open_ledger
from projections import CostTracker
from tests.conftest import ManualClock, sqlite_url


def report_json(url: str, capsys: pytest.CaptureFixture[str], *flags: str, code: int = 0) -> dict[str, Any]:
    assert cli.main(["--db", url, "report", "--format", "json", *flags]) == code
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def test_report_as_of_an_offset_judges_the_budget_by_the_spend_at_that_offset(
    tmp_path: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "costs.db")
    with open_ledger(url, clock=clock) as ledger:
        tracker = CostTracker(ledger=ledger, clock=clock)
        tracker.record_tool_cost("bot", "search", "3.00", occurred_at=clock() - timedelta(hours=1))
        then = ledger.latest_offset()
        tracker.record_tool_cost("bot", "search", "8.00", occurred_at=clock())

    costs = report_json(url, capsys, "--as-of", str(then), "--budget", "daily=10/24")["costs"]
    [budget] = costs["budgets"]
    assert costs["total_cost"] == budget["spend"] == "3.00"
    assert budget["within_budget"] is True
    # All time (the command's clock is the real one, years after these events).
    [then_all] = report_json(url, capsys, "--as-of", str(then), "--budget", "all=10")["costs"]["budgets"]
    [live] = report_json(url, capsys, "--budget", "all=10")["costs"]["budgets"]
    assert (then_all["spend"], live["spend"], live["within_budget"]) == ("3.00", "11.00", False)


# -- no data is no verdict ----------------------------------------------------------------------


def test_a_report_with_no_data_is_no_verdict_and_strict_fails_saying_nothing_was_measured(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = sqlite_url(tmp_path / "empty.db")
    with open_ledger(url):
        pass

    health = report_json(url, capsys)["health"]
    assert health["healthy"] is None
    assert health["insufficient_data"] == ["svr", "cr", "pc", "hir", "ma"]
    assert health["violations"] == []
    assert cli.main(["--db", url, "report"]) == 0
    out = capsys.readouterr().out
    assert "Health: NO DATA" in out and "HEALTHY" not in out

    assert cli.main(["--db", url, "report", "--strict"]) == 1
    captured = capsys.readouterr()
    assert "nothing was measured" in captured.err
    assert cli.main(["--db", url, "report", "--strict", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["health"]["healthy"] is None
