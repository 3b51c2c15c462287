"""``rledger report`` and ``monitor`` judge the budgets in the ledger; ``--budget`` overrides one run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import cli
from ledger import BudgetSet, open_ledger
from projections import CostBudget, CostTracker
from tests.conftest import sqlite_url


@pytest.fixture
def url(tmp_path: Path) -> str:
    """A ledger with budget ``daily`` ($1.00 a day) and $1.50 spent an hour ago by the wall clock."""
    target = sqlite_url(tmp_path / "cli.db")
    with open_ledger(target) as ledger:
        tracker = CostTracker(ledger=ledger)
        tracker.set_budget(CostBudget("daily", "1.00", 24))
        tracker.record_tool_cost("bot", "dall_e", "1.50", occurred_at=datetime.now(UTC) - timedelta(hours=1))
    return target


def budget_sets(url: str) -> int:
    with open_ledger(url) as ledger:
        return sum(1 for r in ledger.read() if isinstance(r.event, BudgetSet))


def test_report_judges_the_ledgers_budgets_without_budget_options(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", url, "report", "--format", "json"]) == 0
    [budget] = json.loads(capsys.readouterr().out)["costs"]["budgets"]
    assert (budget["name"], budget["within_budget"]) == ("daily", False)

    assert cli.main(["--db", url, "report"]) == 0
    assert "daily" in capsys.readouterr().out


def test_a_budget_option_overrides_the_ledgers_for_that_run_only(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", url, "report", "--format", "json", "--budget", "daily=10/24"]) == 0
    [budget] = json.loads(capsys.readouterr().out)["costs"]["budgets"]
    assert (budget["name"], budget["within_budget"]) == ("daily", True)
    assert budget_sets(url) == 1  # nothing recorded by the run

    assert cli.main(["--db", url, "report", "--format", "json"]) == 0
    [budget] = json.loads(capsys.readouterr().out)["costs"]["budgets"]
    assert budget["within_budget"] is False


def test_monitor_alerts_on_a_budget_recorded_in_the_ledger(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["--db", url, "monitor", "--once", "--strict"]) == 1
    assert "budget daily exceeded" in capsys.readouterr().out
