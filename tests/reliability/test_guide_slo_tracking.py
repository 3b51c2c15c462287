"""The guide's "SLO Tracking" blocks, run as written.

``trail_builder`` reads ``workflow-123`` (recorded through a run context); the RSR block's
``replayer`` replays the trail the MTTE block built, cut at ``checkpoint-456``, so the strict replay
compares that prefix.
"""

from __future__ import annotations

import pytest

from ledger import Ledger
from projections import SLOTracker
from replay import DecisionTrailBuilder, Replayer
from tests.reliability.guide import block, run, ticket_workflow

SECTION = "SLO Tracking"


def test_mtte_and_rsr(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    ns = ticket_workflow(ledger)
    ns["trail_builder"] = DecisionTrailBuilder(state_manager=ledger)
    run(block(SECTION, "MTTE (Mean Time to Explain)"), ns)

    mtte, compliant = capsys.readouterr().out.splitlines()
    recorded = [r.event for r in ns["slo_tracker"].ledger.read(types="ExplanationRecorded")]
    assert [e.duration_ms for e in recorded] == [ns["duration_ms"]]
    assert mtte == f"MTTE P95: {ns['duration_ms'] / 1000:.1f}s (target: 5min)"
    assert compliant == "Compliant: True"
    assert ns["explanation"].startswith("# Decision trail: workflow-123")

    ns["replayer"] = Replayer(ns["trail"])
    assert ns["replayer"].cut  # the trail stops at the checkpoint, before completion
    run(block(SECTION, "RSR (Replay Success Rate)"), ns)

    attempts = [r.event for r in ns["slo_tracker"].ledger.read(types="ReplayAttempted")]
    rsr = sum(a.success for a in attempts) / len(attempts)
    assert capsys.readouterr().out.splitlines() == [
        f"RSR: {rsr:.1%} (target: 99%)",
        "Compliant: True",
    ]
    assert (len(attempts), rsr) == (1, 1.0)
    # The builder and the replayer also measured themselves in the workflow's ledger, once each.
    report = SLOTracker(ledger=ledger).report()
    assert (report.explanations, report.replay_attempts, report.rsr) == (1, 1, 1.0)


def test_unmeasured_slos_print_n_a() -> None:
    # The guide's RSR line with no replays recorded: no made-up 0 % or 100 %.
    slo_report = SLOTracker().report()
    assert f"RSR: {slo_report.rsr:.1%} (target: 99%)" == "RSR: n/a (target: 99%)"
    assert f"{slo_report.mtte_p95_ms:.1f}" == "n/a"
