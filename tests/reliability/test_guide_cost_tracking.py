"""The guide's "Cost Tracking" block, run as written, and what it prints."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from projections import CostTracker
from tests.reliability.guide import block, run


def test_basic_cost_tracking(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(block("Cost Tracking", "Basic Cost Tracking"), ns)

    costs = [r.event for r in ns["tracker"].ledger.read(types="CostIncurred")]
    total = sum((c.amount for c in costs), Decimal(0))
    tokens = sum(c.prompt_tokens + c.completion_tokens for c in costs)
    assert {c.workflow_id for c in costs} == {"workflow-001"}  # one workflow with costs
    by_agent = {c.agent: c.amount for c in costs}
    assert capsys.readouterr().out.splitlines() == [
        f"Total cost: ${total:.2f}",
        f"Cost per workflow: ${total:.2f}",
        f"Average tokens per workflow: {tokens:.0f}",
        f"image_generator: ${by_agent['image_generator']:.2f}",
        f"researcher: ${by_agent['researcher']:.2f}",
    ]
    assert tokens == 1500 and total == Decimal("0.50") + by_agent["researcher"]


def test_per_workflow_figures_without_workflows_print_n_a() -> None:
    # The guide's print lines, when no cost belongs to a workflow: no made-up $0.00 or 0 tokens.
    tracker = CostTracker()
    tracker.record_llm_cost(agent="researcher", prompt_tokens=1000, completion_tokens=500, model="gpt-4")
    report = tracker.get_report()

    assert f"Cost per workflow: ${report.cost_per_workflow:.2f}" == "Cost per workflow: $n/a"
    assert f"{report.tokens_per_workflow:.0f} {report.cost_per_successful_workflow:.2f}" == "n/a n/a"
    assert report.cost_per_workflow == None  # noqa: E711 - unmeasured equals None
    assert report.model_dump(mode="json")["cost_per_workflow"] is None
    assert report.model_dump(mode="json")["tokens_per_workflow"] is None
