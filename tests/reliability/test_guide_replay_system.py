"""The guide's "Replay System" blocks, run as written, sharing one replayer as a reader would.

``decision_trail`` (and ``trail``) is ``workflow-123``'s full trail, recorded through a run context;
the orchestrator is the example ticket agent, the tool registry its tools.
"""

from __future__ import annotations

import pytest

from ledger import Ledger
from replay import DecisionTrailBuilder
from tests.reliability.guide import block, run, ticket_workflow

SECTION = "Replay System"


def test_strict_simulated_and_counterfactual_replay(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = ticket_workflow(ledger)
    ns["decision_trail"] = ns["trail"] = DecisionTrailBuilder(state_manager=ledger).build("workflow-123")

    run(block(SECTION, "Strict Replay"), ns)
    assert capsys.readouterr().out.splitlines() == ["✓ Workflow reproduced exactly"]
    assert ns["result"].success and ns["result"].differences == ()

    run(block(SECTION, "Simulated Replay"), ns)
    assert capsys.readouterr().out == "" and ns["result"].success

    run(block(SECTION, "Counterfactual Replay"), ns)
    original = ns["trail"].outcome
    completed = [r.event for r in ledger.read(types="WorkflowCompleted")]
    assert original == completed[0].outcome  # the trail's outcome is what the workflow recorded
    reply = "Customer Ada (gold) asks: Can I get a refund? Facts: Refunds are"
    assert capsys.readouterr().out.splitlines() == [
        f"Original outcome: {original}",
        f"Alternative outcome: {{'reply': '{reply} — happy to help further!', 'articles': 1}}",
    ]
    # Three replays, each a workflow of its own that names the original.
    replays = [e for e in completed if e.workflow_id != "workflow-123"]
    assert len(replays) == 3
