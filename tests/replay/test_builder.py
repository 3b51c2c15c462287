"""Where the builder's ledger comes from, and one explanation or replay counted once.

The guide builds ``DecisionTrailBuilder(state_manager=…, tool_registry=…, checkpoint_manager=…)``;
the ledger is the state and checkpoint manager, so one of them (a ``Ledger`` or a URL) is the
ledger to read, else ``$RLEDGER_URL``, else a clear error. Following the guide literally (the
builder records MTTE, then ``record_mtte`` by hand; the replayer records RSR, then
``record_rsr``) counts each explanation and replay once.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ledger import Ledger, LedgerError, open_ledger
from projections import SLOTracker
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from replay.examples import TOOLS, TicketAgent
from tests.conftest import ManualClock

INPUTS = {"customer_id": "c-1", "question": "Can I get a refund?"}


def record_ticket(ledger: Ledger, workflow_id: str = "wf-1") -> None:
    ctx = RunContext(ledger, workflow_id, tools=dict(TOOLS._tools), inputs=INPUTS)  # a plain mapping
    asyncio.run(run_workflow(TicketAgent(), ctx, INPUTS))


def test_a_url_given_as_state_manager_or_in_the_environment_is_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    with open_ledger(url) as ledger:
        record_ticket(ledger)

    from_url = DecisionTrailBuilder(state_manager=url)
    assert from_url.build("wf-1").goal is None and len(from_url.build("wf-1").tool_calls) == 3
    from_url.close()
    monkeypatch.setenv("RLEDGER_URL", url)
    from_env = DecisionTrailBuilder(tool_registry=TOOLS)
    assert from_env.ledger.url == from_url.ledger.url
    from_env.close()


def test_with_no_ledger_anywhere_the_error_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RLEDGER_URL", raising=False)

    with pytest.raises(LedgerError, match=r"state_manager=.*RLEDGER_URL"):
        DecisionTrailBuilder(state_manager=None, tool_registry=TOOLS, checkpoint_manager=None)


def test_the_guides_manual_record_mtte_after_an_explanation_counts_it_once(ledger: Ledger) -> None:
    record_ticket(ledger)
    builder = DecisionTrailBuilder(state_manager=ledger, tool_registry=TOOLS, checkpoint_manager=ledger)
    slo = SLOTracker(ledger=ledger)

    async def guide() -> None:
        for _ in range(2):  # explained twice, recorded by hand twice: two measurements
            trail = await builder.build_trail("wf-1", None)
            await builder.explain_decision(trail)
            await slo.record_mtte(thread_id="wf-1", checkpoint_id=None, duration_ms=5, success=True)
        await slo.record_mtte(thread_id="wf-1", duration_ms=7)  # no explanation pending: its own

    asyncio.run(guide())

    durations = [r.event.duration_ms for r in ledger.read(types="ExplanationRecorded")]
    assert len(durations) == 3 and durations[-1] == 7 and 5 not in durations
    assert slo.report().explanations == 3


def test_the_guides_manual_record_rsr_after_a_replay_counts_it_once(ledger: Ledger) -> None:
    record_ticket(ledger)
    trail = DecisionTrailBuilder(ledger, record_mtte=False).build("wf-1")
    replayer = Replayer(trail)
    slo = SLOTracker(ledger=ledger)

    async def guide() -> bool:
        result = await replayer.strict_replay(TicketAgent(), dict(TOOLS._tools))
        ok = result.success
        await slo.record_rsr(thread_id="wf-1", checkpoint_id=None, replay_mode="strict", success=ok)
        await slo.record_rsr(thread_id="wf-1", replay_mode="simulated", success=True)  # no such replay
        return result.success

    assert asyncio.run(guide())
    attempts = [(r.event.replay_mode, r.event.success) for r in ledger.read(types="ReplayAttempted")]
    assert attempts == [("strict", True), ("simulated", True)]
    assert slo.report().replay_attempts == 2


def test_a_trails_tools_are_what_a_strict_replay_runs_by_default(ledger: Ledger, clock: ManualClock) -> None:
    record_ticket(ledger)
    trail = DecisionTrailBuilder(ledger, tool_registry=dict(TOOLS._tools), clock=clock).build("wf-1")

    assert asyncio.run(Replayer(trail).strict_replay(TicketAgent())).is_exact_match()
    with pytest.raises(ValueError, match="pass tool_registry="):
        asyncio.run(Replayer(DecisionTrailBuilder(ledger).build("wf-1")).strict_replay(TicketAgent()))
