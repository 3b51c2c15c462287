"""The workflow list's index: outcome, steps, agents and exact cost per workflow, also on a pruned ledger."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from ledger import (
    CostIncurred,
    LedgerEvent,
    StepRecorded,
    WorkflowCompleted,
    WorkflowStarted,
    open_ledger,
)
from reliability.service.workflows import WorkflowIndex
from tests.conftest import ManualClock


def _run(workflow: str, *, success: bool) -> list[LedgerEvent]:
    return [
        WorkflowStarted(workflow_id=workflow, goal="g"),
        StepRecorded(workflow_id=workflow, agent="planner", success=True),
        StepRecorded(workflow_id=workflow, agent="coder", success=False),
        CostIncurred(workflow_id=workflow, agent="coder", model="m", amount=Decimal("0.1")),
        CostIncurred(workflow_id=workflow, agent="coder", model="m", amount=Decimal("0.2")),
        CostIncurred(workflow_id=workflow, model="local", status="unpriced"),
        WorkflowCompleted(workflow_id=workflow, success=success),
    ]


def test_the_index_sums_each_workflow_exactly_and_follows_new_events(tmp_path: Path) -> None:
    with open_ledger(f"sqlite:///{tmp_path}/l.db") as ledger:
        ledger.append(_run("a", success=True))
        index = WorkflowIndex()
        index.catch_up(ledger)
        (a,) = [s.to_json() for s in index.page(0, 10, None)]
        assert a["outcome"] == "succeeded" and a["steps"] == 2 and a["failed_steps"] == 1
        assert a["cost"] == "0.3" and a["unpriced_costs"] == 1 and a["agents"] == ["coder", "planner"]
        assert a["started_at"] is not None and a["first_offset"] == 1
        ledger.append([*_run("b", success=False), WorkflowCompleted(workflow_id="a", success=False)])
        index.catch_up(ledger)
        outcomes = {s.workflow_id: s.outcome for s in index.page(0, 10, None)}
        assert outcomes == {"a": "failed", "b": "failed"}  # a's later completion replaces the first
        assert [s.workflow_id for s in index.page(0, 10, None, "planner")] == ["a", "b"]


def test_a_pruned_ledger_lists_the_workflows_it_still_holds(tmp_path: Path) -> None:
    clock = ManualClock()
    with open_ledger(f"sqlite:///{tmp_path}/l.db", clock=clock) as ledger:
        ledger.append(_run("old", success=True))
        clock.advance(days=10)
        horizon = clock.now
        ledger.append(_run("new", success=True))
        assert ledger.prune(horizon, force=True).events == 7
        index = WorkflowIndex()
        index.catch_up(ledger)
        assert [s.workflow_id for s in index.page(0, 10, None)] == ["new"]
