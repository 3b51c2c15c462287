"""The checked-in framework histories replay simulated with no difference (no model, no tool runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from replay import History, Replayer, build_trail
from tests.reliability.integrations import nested_graph, react_graph, sdk_agents
from tests.reliability.integrations.aio import sync

HISTORIES = Path(__file__).resolve().parents[2] / "histories"


def orchestrator(name: str) -> Any:
    # Models with no answers left: the tape must serve every call.
    if name == "langgraph_nested":
        return nested_graph.make_agent([])
    return react_graph.make_agent([]) if name.startswith("langgraph") else sdk_agents.make_run([])


FRAMEWORK_HISTORIES = ["langgraph_nested", "langgraph_refund", "openai_agents_handoff"]
MODEL_CALLS = {"langgraph_nested": 1, "langgraph_refund": 3, "openai_agents_handoff": 3}


def test_every_checked_in_framework_history_is_covered() -> None:
    others = {p.stem for p in HISTORIES.glob("*.jsonl") if not p.stem.startswith("ticket_")}
    assert sorted(others) == FRAMEWORK_HISTORIES


@pytest.mark.parametrize("name", FRAMEWORK_HISTORIES)
@sync
async def test_a_checked_in_run_replays_simulated_with_no_difference(name: str) -> None:
    history = History.read(HISTORIES / f"{name}.jsonl")
    trail = build_trail(history)
    assert len(history.model_tape) == MODEL_CALLS[name] and trail.success

    result = await Replayer(trail).simulated_replay(orchestrator(name))

    assert result.success and result.is_exact_match(), result.differences
    assert result.outcome == trail.outcome


@sync
async def test_the_nested_history_holds_subgraph_steps_and_a_command() -> None:
    trail = build_trail(History.read(HISTORIES / "langgraph_nested.jsonl"))

    assert [s.agent for s in trail.steps] == nested_graph.STEPS
    (call,) = trail.tool_calls
    assert call.result["__ledger_value__"] == "langgraph.command" and call.result["goto"] == "review"
    assert trail.outcome == "reviewed"
