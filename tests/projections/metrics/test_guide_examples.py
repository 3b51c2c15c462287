"""The user guide's examples for metrics, SLOs and costs, run as written, with what they print.

Only the import changes (``from projections import …`` instead of ``from reliability import
…``); top-level ``await`` runs inside a coroutine. The SLO examples need a trail builder and a
replayer, which live elsewhere: minimal stand-ins take their place, so the measured MTTE is
whatever building "a trail" takes here.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import pytest

from projections import CostBudget, CostTracker, ReliabilityMetrics, SLOTracker


def test_reliability_metrics_basic_usage_per_agent_and_performance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def guide() -> None:
        # -- Basic Usage --
        # Initialize
        metrics = ReliabilityMetrics()

        # Record step execution
        await metrics.record_step(
            agent="data_processor",
            success=True,
            required_compensation=False,
            required_human=False,
            mode="execute",
            declared_mode="execute",
        )

        # Record workflow completion
        await metrics.record_workflow(
            workflow_id="workflow-001",
            total_steps=10,
            total_retries=2,
            required_compensation=False,
            required_human=False,
            agents_involved=["processor", "validator"],
        )

        # Get metrics report
        report = await metrics.get_report()

        print(f"SVR: {report.svr:.2%} (target >95%)")
        print(f"CR: {report.cr:.2%} (target <10%)")
        print(f"PC: {report.pc:.1f} (target <2)")
        print(f"HIR: {report.hir:.2%} (target <5%)")
        print(f"MA: {report.ma:.2%} (target >90%)")

        # Check health
        if report.is_healthy():
            print("✓ All metrics healthy")
        else:
            print("✗ Violations:")
            for violation in report.get_violations():
                print(f"  - {violation}")

        print("--- Per-Agent Metrics")
        # Get breakdown by agent
        for agent_name, agent_metrics in report.agent_metrics.items():
            print(f"\n{agent_name}:")
            print(f"  SVR: {agent_metrics.svr:.2%}")
            print(f"  CR: {agent_metrics.cr:.2%}")
            print(f"  MA: {agent_metrics.ma:.2%}")
            print(f"  Total steps: {agent_metrics.total_steps}")

        print("--- Performance Metrics")
        # Record step with tool timing
        await metrics.record_step(
            agent="api_caller",
            success=True,
            tool_duration_ms=250,  # Tool took 250ms
        )

        # Record workflow with duration
        await metrics.record_workflow(
            workflow_id="workflow-002",
            total_steps=15,
            total_retries=0,
            duration_ms=5000,  # Workflow took 5 seconds
        )

        # Get performance metrics
        report = await metrics.get_report()

        if report.tcl:
            print(f"Average Tool Latency: {report.tcl:.0f}ms")

        if report.wct:
            print(f"Average Workflow Time: {report.wct:.0f}ms")

        metrics.ledger.close()

    asyncio.run(guide())

    basic, per_agent, performance = capsys.readouterr().out.split("--- ")
    # One step (successful, in its declared mode) and one workflow with 2 retries: PC 2 is not < 2.
    assert basic == (
        "SVR: 100.00% (target >95%)\n"
        "CR: 0.00% (target <10%)\n"
        "PC: 2.0 (target <2)\n"
        "HIR: 0.00% (target <5%)\n"
        "MA: 100.00% (target >90%)\n"
        "✗ Violations:\n"
        "  - PC too high: 2.00 (target <2)\n"
    )
    assert per_agent == (
        "Per-Agent Metrics\n\ndata_processor:\n  SVR: 100.00%\n  CR: 0.00%\n  MA: 100.00%\n  Total steps: 1\n"
    )
    # One latency sample (250 ms); one workflow with a duration (5000 ms).
    assert performance == (
        "Performance Metrics\nAverage Tool Latency: 250ms\nAverage Workflow Time: 5000ms\n"
    )


@dataclass
class StandInTrailBuilder:
    """Stands in for the decision-trail builder: builds and explains at once."""

    async def build_trail(self, thread_id: str, checkpoint_id: str) -> dict[str, str]:
        return {"thread_id": thread_id, "checkpoint_id": checkpoint_id}

    async def explain_decision(self, trail: dict[str, str]) -> str:
        return f"# Decision trail of {trail['thread_id']}"


@dataclass
class StandInReplayResult:
    success: bool


@dataclass
class StandInReplayer:
    """Stands in for the replayer: every strict replay reproduces the recording."""

    async def strict_replay(self, orchestrator: Any, tool_registry: Any) -> StandInReplayResult:
        return StandInReplayResult(success=True)


def test_slo_tracking_mtte_and_rsr(capsys: pytest.CaptureFixture[str]) -> None:
    trail_builder = StandInTrailBuilder()
    replayer = StandInReplayer()
    orchestrator = tool_registry = None
    thread_id, checkpoint_id = "workflow-123", "checkpoint-456"

    async def guide() -> None:
        # -- MTTE (Mean Time to Explain) --
        slo_tracker = SLOTracker()

        # Record explanation time
        start = time.time()
        trail = await trail_builder.build_trail(thread_id, checkpoint_id)
        explanation = await trail_builder.explain_decision(trail)
        duration_ms = int((time.time() - start) * 1000)
        assert explanation

        await slo_tracker.record_mtte(
            thread_id=thread_id,
            checkpoint_id=checkpoint_id,
            duration_ms=duration_ms,
            success=True,
        )

        # Get SLO report
        slo_report = await slo_tracker.get_report()
        assert slo_report.mtte_p95_ms is not None

        print(f"MTTE P95: {slo_report.mtte_p95_ms / 1000:.1f}s (target: 5min)")
        print(f"Compliant: {slo_report.is_mtte_compliant()}")

        # -- RSR (Replay Success Rate) --
        # Record replay attempt
        result = await replayer.strict_replay(orchestrator, tool_registry)

        await slo_tracker.record_rsr(
            thread_id=thread_id,
            checkpoint_id=checkpoint_id,
            replay_mode="strict",
            success=result.success,
        )

        # Check compliance
        slo_report = await slo_tracker.get_report()

        print(f"RSR: {slo_report.rsr:.1%} (target: 99%)")
        print(f"Compliant: {slo_report.is_rsr_compliant()}")

        assert slo_report.explanations == 1
        assert slo_report.mtte_p95_ms == duration_ms
        slo_tracker.ledger.close()

    asyncio.run(guide())

    assert capsys.readouterr().out == (
        "MTTE P95: 0.0s (target: 5min)\nCompliant: True\nRSR: 100.0% (target: 99%)\nCompliant: True\n"
    )


def test_cost_tracking_basic_usage(capsys: pytest.CaptureFixture[str]) -> None:
    tracker = CostTracker()

    # Set daily budget
    budget = CostBudget(
        name="daily",
        total_limit=100.0,  # type: ignore[arg-type]  # $100/day
        period_hours=24,
    )
    tracker.set_budget(budget)

    # Record LLM costs
    tracker.record_llm_cost(
        agent="researcher",
        prompt_tokens=1000,
        completion_tokens=500,
        model="gpt-4",
        workflow_id="workflow-001",
    )

    # Record tool costs
    tracker.record_tool_cost(
        agent="image_generator", tool_name="dall_e", cost=0.50, workflow_id="workflow-001"
    )

    # Check budget
    if not tracker.is_within_budget():
        print("⚠️ Budget exceeded!")

    # Get cost report
    report = tracker.get_report()
    print(f"Total cost: ${report.total_cost:.2f}")
    print(f"Cost per workflow: ${report.cost_per_workflow:.2f}")
    print(f"Average tokens per workflow: {report.tokens_per_workflow:.0f}")

    # Get breakdown by agent
    for agent, cost in report.cost_by_agent.items():
        print(f"{agent}: ${cost:.2f}")

    tracker.ledger.close()

    # gpt-4 at $0.03 / $0.06 per 1K tokens: 1000 + 500 tokens cost $0.06; the tool $0.50.
    assert capsys.readouterr().out == (
        "Total cost: $0.56\n"
        "Cost per workflow: $0.56\n"
        "Average tokens per workflow: 1500\n"
        "image_generator: $0.50\n"
        "researcher: $0.06\n"
    )


def test_best_practice_budget_check_before_an_expensive_call(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def call_expensive_llm() -> None:
        print("called")

    async def guide() -> None:
        # Monitor spend
        tracker = CostTracker()
        tracker.set_budget(CostBudget("daily", 100.0, 24))  # type: ignore[arg-type]

        # Check before expensive operations
        if tracker.is_within_budget():
            await call_expensive_llm()
        else:
            print("Budget exceeded - throttling")

        tracker.ledger.close()

    asyncio.run(guide())

    assert capsys.readouterr().out == "called\n"
