"""Budgets back-tested: a limit crossed by one cost, the tracker's breaches reproduced, enforcement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger import CostIncurred, Ledger, WorkflowCompleted, open_ledger
from projections import CostBudget, CostTracker
from replay import BacktestConfig, BacktestError, BudgetSetting, Sweep, run_backtest
from replay.backtest import parse_budget
from tests.conftest import ManualClock

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _cost(amount: str, minutes: float, wf: str, **fields: str) -> CostIncurred:
    return CostIncurred(
        amount=Decimal(amount),
        currency="USD",
        status="priced",
        workflow_id=wf,
        occurred_at=T0 + timedelta(minutes=minutes),
        **fields,
    )


def _budget(ledger: Ledger, budget: CostBudget | None = None, name: str = "daily") -> dict:
    result = run_backtest(ledger, BacktestConfig(budgets=(BudgetSetting(name, budget),)))
    return result.to_json()["budgets"][0]


def test_a_budget_crossed_by_one_cost_is_exceeded_at_that_cost() -> None:
    # 4 + 3 + 2.5 = 9.5 <= 10; the 4th cost (1.0, at minute 30) takes spend to 10.5 > 10.
    with open_ledger("memory://") as ledger:
        ledger.append(
            [
                _cost("4", 0, "wf-a"),
                _cost("3", 10, "wf-b"),
                _cost("2.5", 20, "wf-a"),
                _cost("1.0", 30, "wf-c"),
                _cost("0.5", 40, "wf-a"),
                _cost("0.2", 50, "wf-d"),
                WorkflowCompleted(workflow_id="wf-a", success=True, occurred_at=T0 + timedelta(hours=1)),
                WorkflowCompleted(workflow_id="wf-c", success=False, occurred_at=T0 + timedelta(hours=1)),
            ]
        )
        b = _budget(ledger, CostBudget("daily", Decimal(10), 24))
    assert b["breaches"] == [
        {"at": (T0 + timedelta(minutes=30)).isoformat(), "scope": "total", "limit": "10", "spend": "10.5"}
    ]
    assert b["first_exceeded"] == (T0 + timedelta(minutes=30)).isoformat()
    # Enforced: the 1.0 is refused (wf-c stopped), then the 0.5 (9.5 + 0.5 = 10, not over: let
    # through), then the 0.2 (10.2 > 10: refused, wf-d stopped).
    assert (b["refused_costs"], b["refused_spend"]) == (2, "1.2")
    assert (b["workflows_stopped"], b["stopped_succeeded"], b["stopped_failed"]) == (2, 0, 1)
    assert b["recorded_breaches"] == [] and b["same_as_recorded"] is False


def test_the_rolling_window_lets_old_spend_go_and_limits_by_agent_and_category() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append(
            [
                _cost("6", 0, "wf-1", agent="coder", category="llm"),
                _cost("6", 90, "wf-2", agent="coder", category="llm"),  # the first left the 1 h window
                _cost("1", 100, "wf-3", agent="planner", category="tool"),
            ]
        )
        hourly = _budget(ledger, CostBudget("h", Decimal(10), 1), "h")
        assert hourly["breaches"] == []
        daily = _budget(
            ledger,
            CostBudget("d", Decimal(100), 24, category_limits={"llm": 11}, agent_limits={"planner": "0.5"}),
            "d",
        )
    assert [(x["scope"], x["spend"]) for x in daily["breaches"]] == [
        ("category:llm", "12"),
        ("agent:planner", "1"),
    ]


def test_the_recorded_budgets_reproduce_the_trackers_breaches() -> None:
    clock = ManualClock(T0)
    with open_ledger("memory://", clock=clock) as ledger:
        tracker = CostTracker(ledger=ledger, clock=clock)
        tracker.set_budget(CostBudget("daily", Decimal(5), 2, agent_limits={"coder": Decimal(2)}))
        amounts = ["1.5", "0.7", "2.1", "0.4", "1.9", "0.3", "2.2", "1.1", "0.9", "3.0", "0.2", "1.4"]
        for i, amount in enumerate(amounts):
            clock.advance(minutes=20)
            if i == 6:  # the budget changes mid-way: the back-test follows it
                tracker.set_budget(CostBudget("daily", Decimal(4), 1, agent_limits={"coder": Decimal(2)}))
            agent = "coder" if i % 3 == 0 else "planner"
            tracker.record_tool_cost(agent, "search", amount, workflow_id=f"wf-{i % 4}")
        recorded = [
            ((r.event.occurred_at.isoformat()), r.event.scope, str(r.event.limit), str(r.event.spend))
            for r in ledger.read(types="BudgetBreached")
        ]
        b = _budget(ledger)
    assert len(recorded) >= 3  # the history does cross limits, more than once
    assert [(x["at"], x["scope"], x["limit"], x["spend"]) for x in b["recorded_breaches"]] == recorded
    assert b["same_as_recorded"] is True
    assert [(x["at"], x["scope"], x["limit"], x["spend"]) for x in b["breaches"]] == recorded


def test_a_sweep_of_the_limit_gives_fewer_breaches_for_higher_limits() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append([_cost(str(1 + i % 3), 5 * i, f"wf-{i}") for i in range(60)])
        swept = run_backtest(
            ledger,
            BacktestConfig(
                budgets=(BudgetSetting("d", CostBudget("d", Decimal(10), 1)),),
                sweep=Sweep("limit", (10, 20, 40)),
            ),
        )
    rows = swept.to_json()["sweep"]["rows"]
    breaches = [r["budgets.d.breaches"] for r in rows]
    refused = [Decimal(r["budgets.d.refused_spend"]) for r in rows]
    assert breaches[0] >= 1 and breaches[1] >= 1 and breaches[2] == 0
    assert refused[0] > refused[1] > refused[2] == 0


def test_bad_budget_input_is_named() -> None:
    with open_ledger("memory://") as ledger:
        ledger.append([_cost("1", 0, "wf")])
        with pytest.raises(BacktestError, match="budget 'weekly': no budget of that name was set"):
            _budget(ledger, None, "weekly")
        with pytest.raises(BacktestError, match="must be a finite amount"):
            parse_budget("daily=-1/24")
        with pytest.raises(BacktestError, match="expected category:NAME=LIMIT"):
            parse_budget("daily=5/24,team:x=1")
