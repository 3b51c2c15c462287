"""Histories: a workflow's events, from the ledger or a JSON-lines file, replayable anywhere.

A history written with ``to_jsonl`` / ``write`` and loaded with ``from_jsonl`` / ``read`` is
the same history (events, offsets, streams, versions, commit times). A trail built from a loaded
history replays on any ledger given to the replayer; the ledger it came from is not touched.
Runs on every backend (memory, SQLite, PostgreSQL) for the ledger side of the round trip.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from ledger import LedgerError, open_ledger
from replay import History, Replayer, WorkflowNotFoundError
from replay.examples import TOOLS, TicketAgent
from replay.trail import build_trail
from tests.conftest import MakeLedger, ManualClock
from tests.replay.support import record_run

TICKET = {"customer_id": "c-2", "question": "Where is my shipping?", "temperature": 0.0}


def test_a_history_round_trips_through_json_lines_and_replays_on_a_fresh_ledger(
    make_ledger: MakeLedger, clock: ManualClock, tmp_path: Path
) -> None:
    ledger = make_ledger(clock=clock)
    trail = asyncio.run(record_run(ledger, clock, "wf-ticket", TicketAgent(), TICKET, TOOLS, goal="answer"))
    original = History.load(ledger, "wf-ticket")
    path = tmp_path / "wf-ticket.jsonl"

    original.write(path)
    loaded = History.read(path)

    assert loaded == original
    assert History.from_jsonl(original.to_jsonl().decode()) == original
    assert len(path.read_bytes().splitlines()) == len(original) == len(trail.history)
    assert [r.offset for r in loaded] == [r.offset for r in ledger.read(workflow_id="wf-ticket")]

    from_file = build_trail(loaded)
    assert from_file == trail  # the same trail, whether read from the ledger or the file
    assert from_file.ledger is None
    latest = ledger.latest_offset()
    with open_ledger("memory://", clock=clock) as elsewhere:
        replayer = Replayer(from_file, ledger=elsewhere, clock=clock)

        async def replay_all() -> list[bool]:
            return [
                (await replayer.simulated_replay(TicketAgent())).success,
                (await replayer.strict_replay(TicketAgent(), TOOLS)).success,
            ]

        assert asyncio.run(replay_all()) == [True, True]
        attempts = [r.event for r in elsewhere.read(types="ReplayAttempted")]
        assert [(a.workflow_id, a.replay_mode, a.success) for a in attempts] == [
            ("wf-ticket", "simulated", True),
            ("wf-ticket", "strict", True),
        ]
        replay_runs = {r.event.workflow_id for r in elsewhere.read(types="WorkflowStarted")}
        assert replay_runs == {a.replay_workflow_id for a in attempts}
    assert ledger.latest_offset() == latest  # the source ledger is untouched


def test_a_history_can_stop_at_a_checkpoint_and_still_round_trip(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    asyncio.run(record_run(ledger, clock, "wf-ticket", TicketAgent(), TICKET, TOOLS))
    second_call = History.load(ledger, "wf-ticket").tape[1]

    cut = History.load(ledger, "wf-ticket", str(second_call.event_id))

    assert cut.events[-1].event == second_call
    assert [c.tool for c in cut.tape] == ["search", "lookup_customer"]
    assert History.from_jsonl(cut.to_jsonl()).events == cut.events


def test_a_trail_from_a_file_replays_on_an_in_memory_ledger_by_default(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    asyncio.run(record_run(ledger, clock, "wf-ticket", TicketAgent(), TICKET, TOOLS))
    trail = build_trail(History.from_jsonl(History.load(ledger, "wf-ticket").to_jsonl()))

    replayer = Replayer(trail, clock=clock)
    result = asyncio.run(replayer.simulated_replay(TicketAgent()))

    assert result.success
    assert replayer.ledger is not ledger
    assert [r.event.replay_workflow_id for r in replayer.ledger.read(types="ReplayAttempted")] == [
        result.replay_workflow_id
    ]
    replayer.ledger.close()


def test_loading_an_unknown_workflow_is_an_error(make_ledger: MakeLedger) -> None:
    with pytest.raises(WorkflowNotFoundError, match="wf-never-ran"):
        History.load(make_ledger(), "wf-never-ran")


def line(workflow_id: str, offset: int) -> bytes:
    return orjson.dumps(
        {
            "type": "WorkflowStarted",
            "workflow_id": workflow_id,
            "occurred_at": "2025-01-01T12:00:00+00:00",
            "offset": offset,
            "stream": f"wf:{workflow_id}",
            "version": offset,
            "recorded_at": "2025-01-01T12:00:00+00:00",
        }
    )


def test_a_history_file_holds_exactly_one_workflows_events() -> None:
    assert History.from_jsonl(line("wf-a", 1) + b"\n\n").workflow_id == "wf-a"  # blank lines are skipped
    with pytest.raises(LedgerError, match="one workflow"):
        History.from_jsonl(line("wf-a", 1) + b"\n" + line("wf-b", 2))
    with pytest.raises(LedgerError, match="empty"):
        History.from_jsonl(b"\n")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b'{"type": "WorkflowStarted", "workflow_id": "wf-a"}', id="no-offset"),
        pytest.param(
            b'{"type": "NoSuchEvent", "offset": 2, "stream": "s", "version": 1, '
            b'"recorded_at": "2025-01-01T12:00:00+00:00"}',
            id="unknown-type",
        ),
    ],
)
def test_a_bad_line_is_reported_with_its_number(bad: bytes) -> None:
    with pytest.raises(LedgerError, match="history line 2"):
        History.from_jsonl(line("wf-a", 1) + b"\n" + bad)
