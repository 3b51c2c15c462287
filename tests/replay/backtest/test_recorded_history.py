"""The back-test of the recorded configuration reproduces what was recorded, on the demo's traffic and
the golden histories; and ``rledger backtest`` as a user runs it (a second process, exit codes, JSON)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from ledger import CostIncurred, Ledger, generate_workload, open_ledger
from projections import CircuitBreaker, CircuitBreakerConfig, CostBudget, CostTracker
from replay import BacktestConfig, BreakerSetting, BudgetSetting, History, run_backtest
from tests.conftest import ManualClock

HISTORIES = Path(__file__).resolve().parent.parent.parent / "histories"
BREAKER = CircuitBreakerConfig(failure_threshold=2, window_seconds=6 * 3600, timeout_seconds=600)


def _demo(url: str, events: int = 3000) -> None:
    """The demo's traffic, its costs recorded through a tracker with a budget (so breaches are
    recorded as they happen), then a live breaker mirroring one of its tools."""
    workload = list(generate_workload(events, seed=7, span=timedelta(days=2)))
    clock = ManualClock(workload[0].occurred_at)
    with open_ledger(url, clock=clock) as ledger:
        tracker = CostTracker(ledger=ledger, clock=clock)
        tracker.set_budget(CostBudget("hourly", Decimal("0.4"), 1, agent_limits={"executor": Decimal("0.1")}))
        batch: list = []
        for event in workload:
            if isinstance(event, CostIncurred) and event.status == "priced":
                ledger.append(batch)
                batch = []
                clock.now = event.occurred_at
                tracker.record_tool_cost(
                    event.agent or "?", "llm", event.amount, event.workflow_id, occurred_at=event.occurred_at
                )
            else:
                batch.append(event)
        ledger.append(batch)
        CircuitBreaker("sql-guard", BREAKER, ledger=ledger, clock=clock, tool="sql_query").status()


def _transitions(ledger: Ledger) -> list[tuple[str, str, str]]:
    return [
        (r.event.occurred_at.isoformat(), r.event.from_state, r.event.to_state)
        for r in ledger.read(types="CircuitTransitioned")
    ]


@pytest.mark.slow
def test_the_recorded_configuration_reproduces_the_demo_exactly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    _demo(url)
    with open_ledger(url, create=False) as ledger:
        before = ledger.latest_offset()
        recorded = _transitions(ledger)
        breaches = [
            (str(r.event.occurred_at.isoformat()), r.event.scope) for r in ledger.read(types="BudgetBreached")
        ]
        overrides = {"failure_threshold": 2, "window_seconds": 6 * 3600, "timeout_seconds": 600}
        config = BacktestConfig(
            breakers=(BreakerSetting("sql-guard"), BreakerSetting("sql_query", overrides)),
            budgets=(BudgetSetting("hourly"),),
        )
        result = run_backtest(ledger, config).to_json()
        assert ledger.latest_offset() == before  # wrote nothing
    guard, tool = result["breakers"]
    budget = result["budgets"][0]
    assert recorded and len(breaches) >= 2  # the demo does open the breaker and cross the budget
    assert guard["same_as_recorded"] and tool["transitions"] == guard["transitions"]
    assert [(t["at"], t["from"], t["to"]) for t in guard["transitions"]] == recorded
    assert budget["same_as_recorded"] and [(b["at"], b["scope"]) for b in budget["breaches"]] == breaches


@pytest.mark.parametrize("name", ["ticket_refund", "ticket_unknown_customer", "ticket_no_hits"])
def test_the_golden_histories_reproduce_a_breaker_guarding_their_tools(name: str) -> None:
    with open_ledger("memory://") as ledger:
        ledger.append([r.event for r in History.read(HISTORIES / f"{name}.jsonl")])
        config = CircuitBreakerConfig(failure_threshold=1, timeout_seconds=3600)
        last = max(r.event.occurred_at for r in ledger.read())
        for tool in ("search", "lookup_customer", "draft_reply"):
            CircuitBreaker(f"g-{tool}", config, ledger=ledger, tool=tool, clock=lambda: last).status()
        names = [n for n in ("search", "lookup_customer", "draft_reply") if _has_calls(ledger, n)]
        result = run_backtest(ledger, BacktestConfig(breakers=tuple(BreakerSetting(f"g-{n}") for n in names)))
        recorded = _transitions(ledger)
    outcomes = result.outcomes.breakers
    assert all(b.same_as_recorded for b in outcomes)
    made = sorted((t[0], t[1], t[2]) for b in outcomes for t in b.transitions)
    assert [(_iso(t), a, b) for t, a, b in made] == sorted(recorded)
    # The unknown customer's failed lookup opens its guard; the other histories have no failure.
    assert bool(recorded) == (name == "ticket_unknown_customer")


def _has_calls(ledger: Ledger, tool: str) -> bool:
    return any(r.event.tool == tool for r in ledger.read(types="ToolCalled"))


def _iso(t_us: int) -> str:
    from ledger import from_epoch_us

    return from_epoch_us(t_us).isoformat()


def _rledger(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys, cli; sys.exit(cli.main(sys.argv[1:]))"
    root = Path(__file__).parents[3]
    command = [sys.executable, "-c", code, *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60, cwd=root)


@pytest.mark.slow
def test_rledger_backtest_in_a_second_process(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    _demo(url, events=1500)
    args = ["--db", url, "backtest", "--breaker", "sql_query", "window_seconds=21600", "--budget", "hourly"]
    text = _rledger(*args)
    as_json = _rledger(*args, "--format", "json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    data = json.loads(as_json.stdout)
    b, budget = data["breakers"][0], data["budgets"][0]
    # The text carries the JSON's numbers.
    assert f"calls {b['calls']}; opened {b['opened']} time(s)" in text.stdout
    assert f"refused {b['refused']}: failures avoided {b['failures_avoided']}" in text.stdout
    assert f"exceeded {len(budget['breaches'])} time(s)" in text.stdout
    assert f"{data['events_scanned']} events scanned" in text.stdout

    with open_ledger(url, create=False) as ledger:
        before = ledger.latest_offset()
    recorded = _rledger(*args, "--record", "--format", "json")
    assert recorded.returncode == 0
    with open_ledger(url, create=False) as ledger:
        assert ledger.latest_offset() == before + 1
        (event,) = [r.event for r in ledger.read(types="BacktestRecorded")]
    assert event.summary["breakers.sql_query.opened"] == b["opened"]
    assert event.events_scanned == data["events_scanned"]

    bad = {
        ("--breaker", "nope"): "breaker 'nope'",
        ("--breaker", "sql_query", "colour=3"): "parameter 'colour'",
        ("--budget", "weekly"): "budget 'weekly'",
        ("--anomaly", "latency", "max=3"): "metric",
        ("--breaker", "sql_query", "--sweep", "failure_threshold=9..2"): "range '9..2'",
        ("--breaker", "sql_query", "--sweep", "colour=1..3"): "parameter 'colour'",
        ("--breaker", "sql_query", "--since", "2001-01-01", "--until", "2001-01-02"): "holds no events",
    }
    for extra, message in bad.items():
        done = _rledger("--db", url, "backtest", *extra)
        assert done.returncode == 2 and message in done.stderr, (extra, done.stderr)
        assert done.stdout == ""
