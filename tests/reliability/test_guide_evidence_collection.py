"""The guide's "Evidence Collection" blocks, run as written.

The guide leaves the collected values undefined (``search_results``, ``query_result``…): the test
supplies plain values; ``trail_builder`` reads ``workflow-123``, recorded through a run context.
"""

from __future__ import annotations

import pytest

from ledger import Ledger
from replay import DecisionTrailBuilder
from tests.reliability.guide import block, run, ticket_workflow

SECTION = "Evidence Collection"


def test_manual_collection(capsys: pytest.CaptureFixture[str]) -> None:
    ns = {
        "search_results": {"hits": 3},
        "query_result": [{"id": 1, "name": "Ada"}],
        "api_response": {"temp_c": 21},
        "user_input": "refund order 42",
        "plan_output": "1. look up the order 2. refund it",
    }
    run(block(SECTION, "Manual Collection"), ns)

    recorded = [r.event for r in ns["collector"].ledger.read(types="EvidenceCollected")]
    assert len(recorded) == 5  # one event per item collected
    verified = [e for e in recorded if e.confidence == "verified"]
    assert capsys.readouterr().out.splitlines() == [f"Verified facts: {len(verified)}"]
    assert len(verified) == 4  # tool, database, API and user input; the agent's plan is a claim


def test_evidence_in_decision_trails(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    ns = ticket_workflow(ledger)
    ns["trail_builder"] = DecisionTrailBuilder(state_manager=ledger)
    run(block(SECTION, "Evidence in Decision Trails"), ns)

    assert len(ns["claimed"]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"Fact from {e.source}: {e.content}"
        for r in ledger.read(types="EvidenceCollected")
        if (e := r.event).confidence == "verified"
    ]
    assert [e.source for e in ns["verified"]] == ["search", "crm"]
