"""The guide's "Best Practices" blocks and its "Complete Example", run as written.

Names the guide leaves undefined are the test's: the agent's step values, the services the
breakers guard (plain functions that count their calls), ``ENV`` (``"dev"``: the SQL branch is
the Storage Backends section's), and the reliability names the blocks use without importing.
"""

from __future__ import annotations

from typing import Any

import pytest

import reliability
from tests.reliability.guide import block, run

SECTION = "Best Practices"


def test_best_practices(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []

    async def call_expensive_llm() -> None:
        calls.append("llm")

    ns: dict[str, Any] = {
        name: getattr(reliability, name)
        for name in ("ReliabilityMetrics", "CircuitBreakerRegistry", "CostTracker", "CostBudget")
    }
    ns |= {
        "metrics": reliability.ReliabilityMetrics(),
        "agent_name": "planner",
        "success": True,
        "actual_mode": "execute",
        "expected_mode": "execute",
        "workflow_id": "wf-1",
        "step_count": 1,
        "retry_count": 0,
        "call_api": lambda: calls.append("api"),
        "use_cached_data": lambda: calls.append("cache"),
        "call_expensive_llm": call_expensive_llm,
        "ENV": "dev",
    }
    run(block(SECTION, "1. Track All Workflows"), ns)
    report = ns["metrics"].report()
    assert (report.total_steps, report.svr, report.pc) == (1, 1.0, 0.0)

    run(block(SECTION, "2. Use Circuit Breakers for External Services"), ns)
    run(block(SECTION, "3. Set Cost Budgets"), ns)
    assert calls == ["api", "llm"]  # closed breaker, budget not spent
    run(block(SECTION, "4. Monitor Continuously"), ns)
    run(block(SECTION, "5. Use Persistent Storage in Production"), ns)
    assert isinstance(ns["metrics"], reliability.ReliabilityMetrics)
    assert capsys.readouterr().out == ""


def test_complete_example(capsys: pytest.CaptureFixture[str]) -> None:
    done: list[str] = []

    async def execute_workflow() -> str:
        done.append("workflow")
        return "ok"

    run(block("Complete Example"), {"execute_workflow": execute_workflow, "__name__": "guide"})
    # One successful step: healthy (the rest unmeasured stays out of the verdict), no alert.
    assert done == ["workflow"] and capsys.readouterr().out == ""
