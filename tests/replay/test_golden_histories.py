"""The checked-in histories under ``tests/histories/`` still load and replay without divergence.

Each file is a recorded run of the example ticket agent (see ``tests/histories/make_histories.py``).
If a change to the event format, the replayer or the agent breaks replaying what production
recorded yesterday, these fail. Recorded durations differ from a replay's and must not count as
differences. A recorded failure reproduced exactly is a successful replay.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ledger import Ledger
from replay import History, Replayer, ReplayResult
from replay.examples import TOOLS, TicketAgent
from replay.trail import build_trail
from tests.conftest import ManualClock

HISTORIES = Path(__file__).resolve().parent.parent / "histories"

EXPECTED = {
    # file stem: (tools called in order, workflow success, replans)
    "ticket_refund": (["search", "lookup_customer", "draft_reply"], True, 0),
    "ticket_unknown_customer": (["search", "lookup_customer"], False, 0),
    "ticket_no_hits": (["search", "lookup_customer", "draft_reply"], True, 1),
}


def test_every_checked_in_history_is_covered() -> None:
    # The framework runs (langgraph_*, openai_agents_*) are replayed by
    # tests/reliability/integrations/test_recorded_histories.py, which covers them the same way.
    assert sorted(p.stem for p in HISTORIES.glob("ticket_*.jsonl")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_golden_history_loads_as_recorded(name: str) -> None:
    history = History.read(HISTORIES / f"{name}.jsonl")
    tools, success, replans = EXPECTED[name]

    trail = build_trail(history)

    assert history.workflow_id == name
    assert [r.offset for r in history] == list(range(1, len(history) + 1))
    assert [c.tool for c in history.tape] == tools
    assert [c.call_index for c in history.tape] == list(range(len(tools)))
    assert all(c.duration_ms is not None for c in history.tape)
    assert (trail.success, len(trail.plan), trail.goal) == (success, replans, "answer the ticket")
    assert History.from_jsonl(history.to_jsonl()) == history


@pytest.mark.parametrize("mode", ["simulated", "strict"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_golden_history_replays_without_critical_differences(
    name: str, mode: str, memory_ledger: Ledger, clock: ManualClock
) -> None:
    trail = build_trail(History.read(HISTORIES / f"{name}.jsonl"))
    replayer = Replayer(trail, ledger=memory_ledger, clock=clock)

    async def replay() -> ReplayResult:
        if mode == "simulated":
            return await replayer.simulated_replay(TicketAgent())
        return await replayer.strict_replay(TicketAgent(), TOOLS)

    result = asyncio.run(replay())

    critical = [(d.field, d.location, d.original, d.replayed) for d in result.critical_differences]
    assert critical == []
    assert result.success
    assert result.outcome == trail.outcome
    (attempt,) = [r.event for r in memory_ledger.read(types="ReplayAttempted")]
    assert (attempt.workflow_id, attempt.replay_mode, attempt.success) == (name, mode, True)
