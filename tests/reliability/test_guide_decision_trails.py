"""The guide's "Decision Trails" blocks, run as written on a workflow recorded through a run context.

The guide's ``state_manager`` and ``checkpoint_manager`` are the ledger, its ``tool_registry`` the
example tools (``replay.examples``); ``workflow-123`` is marked ``checkpoint-456`` after answering.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger import Ledger
from tests.reliability.guide import block, run, ticket_workflow

SECTION = "Decision Trails"


def recorded(ledger: Ledger, type_: str) -> list[Any]:
    return [r.event for r in ledger.read(types=type_) if r.event.workflow_id == "workflow-123"]


def test_basic_usage_and_evidence_levels(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    ns = ticket_workflow(ledger)
    run(block(SECTION, "Basic Usage"), ns)
    run(block(SECTION, "Evidence Levels"), ns)

    evidence = recorded(ledger, "EvidenceCollected")
    verified = [e for e in evidence if e.confidence == "verified"]
    # The checkpoint precedes the workflow's completion: the trail stops short of it (success unknown).
    assert capsys.readouterr().out.splitlines() == [
        "Goal: answer the ticket",
        "Success: None",
        f"Steps: {len(recorded(ledger, 'StepRecorded'))}",
        f"Tool calls: {len(recorded(ledger, 'ToolCalled'))}",
        "verified: knowledge_base from search",
        "verified: customer_record from crm",
        "claimed: reply from writer",
        f"Verified facts: {len(verified)}",
        f"Agent claims: {len(evidence) - len(verified)}",
    ]
    assert (len(recorded(ledger, "StepRecorded")), len(verified), len(evidence)) == (2, 2, 3)
    assert ns["trail"].checkpoint is not None
