"""``rledger report --include-replays`` (issue #12): replay runs stay out of production numbers by
default, and the report says how many it left out; with the flag they count.

The ledger holds a ``TicketAgent`` workflow recorded through the run context, a hand-recorded
workflow that failed a step and needed a human, and two strict replays of the ticket.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

import cli
from ledger import open_ledger
from projections import CostTracker, MetricTargets, ReliabilityMetrics
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from replay.examples import TOOLS, TicketAgent
from tests.conftest import ManualClock, sqlite_url

INPUTS = {"customer_id": "c-1", "question": "Can I get a refund?", "temperature": 0.0}
REPLAYS = 2


@pytest.fixture
def url(tmp_path: Path, clock: ManualClock) -> str:
    target = sqlite_url(tmp_path / "replays.db")
    with open_ledger(target, clock=clock) as ledger:
        ctx = RunContext(ledger, "ticket-1", tools=TOOLS, clock=clock, goal="answer", inputs=INPUTS)
        asyncio.run(run_workflow(TicketAgent(), ctx, INPUTS))
        metrics = ReliabilityMetrics(ledger=ledger, clock=clock)
        asyncio.run(metrics.record_step("triage", False, workflow_id="wf-manual"))
        asyncio.run(metrics.record_workflow("wf-manual", 1, 0, required_human=True, success=False))
    return target


def replay_ticket(url: str, clock: ManualClock) -> None:
    with open_ledger(url, clock=clock) as ledger:
        for _ in range(REPLAYS):
            trail = DecisionTrailBuilder(ledger).build("ticket-1")
            result = asyncio.run(Replayer(trail, clock=clock).strict_replay(TicketAgent(), TOOLS))
            assert result.success


def report_json(url: str, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, Any]:
    assert cli.main(["--db", url, "report", "--format", "json", *flags]) == 0
    document: dict[str, Any] = json.loads(capsys.readouterr().out)
    return document


def report_text(url: str, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    assert cli.main(["--db", url, "report", *flags]) == 0
    return capsys.readouterr().out


def test_replays_are_excluded_and_counted_unless_asked_for(
    url: str, clock: ManualClock, capsys: pytest.CaptureFixture[str]
) -> None:
    before = report_json(url, capsys)["metrics"]
    replay_ticket(url, clock)
    with open_ledger(url) as ledger:  # the API's numbers, which the command must print
        production = ReliabilityMetrics(ledger=ledger).report()
        everything = ReliabilityMetrics(ledger=ledger, targets=MetricTargets(include_replays=True)).report()
        costs_all = CostTracker(ledger=ledger).report(include_replays=True)

    document = report_json(url, capsys)
    metrics, costs = document["metrics"], document["costs"]
    assert (metrics["hir"], metrics["svr"]) == (before["hir"], before["svr"]) == (0.5, 2 / 3)
    assert metrics["replay_workflows_excluded"] == REPLAYS
    assert metrics["replay_events_excluded"] == production.replay_events_excluded > REPLAYS
    assert costs["replay_workflows_excluded"] == REPLAYS and costs["replay_events_excluded"] == REPLAYS
    assert document["include_replays"] is False
    text = report_text(url, capsys)
    assert f"replays excluded: {REPLAYS} workflows, {production.replay_events_excluded} events" in text

    included = report_json(url, capsys, "--include-replays")
    metrics, costs = included["metrics"], included["costs"]
    assert metrics["hir"] == pytest.approx(1 / (2 + REPLAYS)) and metrics["hir"] == everything.hir
    assert metrics["svr"] == pytest.approx((2 + 2 * REPLAYS) / (3 + 2 * REPLAYS))
    assert metrics["total_workflows"] == 2 + REPLAYS
    assert metrics["replay_workflows_excluded"] == metrics["replay_events_excluded"] == 0
    assert costs["replay_workflows_excluded"] == costs["replay_events_excluded"] == 0
    assert costs["total_cost"] == str(costs_all.total_cost) != document["costs"]["total_cost"]
    assert included["include_replays"] is True
    text = report_text(url, capsys, "--include-replays")
    assert "replays excluded" not in text and "replay runs included" in text


def test_the_readme_command_table_lists_every_report_option() -> None:
    import argparse
    import re

    from reliability.commands import report

    parser = argparse.ArgumentParser()
    report.add_parser(parser.add_subparsers())
    subparser = parser._subparsers._group_actions[0].choices["report"]  # type: ignore[union-attr]
    options = {
        s for a in subparser._actions for s in a.option_strings if s.startswith("--") and s != "--help"
    }
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    (row,) = [line for line in readme.splitlines() if line.startswith("| `rledger report ")]

    usage, what = re.split(r"(?<!\\)\|", row)[1:3]  # cells (``\|`` is a pipe inside one)

    assert set(re.findall(r"--[a-z-]+", usage)) == options
    assert "--include-replays" in what  # and says what it does
