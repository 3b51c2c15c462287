"""A buffered run context: one batch at the end (or every N events), flushed on errors, nothing lost.

What the framework integrations' recording relies on to be cheap: the events of a run are kept in
memory and appended in batches, in the order they were recorded, with sync nodes and tools
recording from worker threads at the same time.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from ledger import Ledger, LedgerError, open_ledger
from replay import RunContext, run_workflow
from tests.conftest import ManualClock


def events_of(ledger: Ledger, workflow_id: str) -> list[Any]:
    return [r.event for r in ledger.read(workflow_id=workflow_id)]


def test_a_failing_run_flushes_its_buffer_with_the_failure(ledger: Ledger, clock: ManualClock) -> None:
    with (
        pytest.raises(RuntimeError, match="node exploded"),
        RunContext(ledger, "wf-boom", clock=clock, buffered=True) as ctx,
    ):
        ctx.record_step(True, agent="agent")
        raise RuntimeError("node exploded")

    events = events_of(ledger, "wf-boom")
    assert [e.type for e in events] == ["WorkflowStarted", "StepRecorded", "WorkflowCompleted"]
    assert events[-1].success is False and events[-1].outcome == {"error": "RuntimeError: node exploded"}


def test_flush_every_appends_each_full_buffer_while_the_run_goes_on(
    ledger: Ledger, clock: ManualClock
) -> None:
    with RunContext(ledger, "wf-n", clock=clock, buffered=True, flush_every=3) as ctx:
        ctx.record_step(True, agent="a")
        assert ledger.latest_offset() == 0  # two events buffered: nothing written yet
        ctx.record_step(True, agent="b")
        assert [e.type for e in events_of(ledger, "wf-n")] == [
            "WorkflowStarted",
            "StepRecorded",
            "StepRecorded",
        ]
        ctx.record_step(True, agent="c")
        assert ledger.latest_offset() == 3  # what a crash now would lose: this one step

    assert [getattr(e, "agent", None) for e in events_of(ledger, "wf-n")] == [None, "a", "b", "c", None]


def test_a_bad_flush_every_is_refused_with_the_reason(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="only with buffered=True"):
        RunContext(ledger, "wf-x", flush_every=10)
    with pytest.raises(ValueError, match="positive batch size"):
        RunContext(ledger, "wf-x", buffered=True, flush_every=0)


def test_events_recorded_from_many_threads_are_each_appended_once_in_recorded_order() -> None:
    with open_ledger("memory://") as ledger:
        ctx = RunContext(ledger, "wf-threads", buffered=True, flush_every=7)

        def node(name: str) -> None:
            for i in range(200):
                ctx.record_step(True, agent=f"{name}-{i}")

        async def run(_: RunContext, __: Any) -> str:
            # Sync nodes as LangGraph runs them in an async graph: in the loop's worker threads.
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(None, node, n) for n in ("x", "y", "z")))
            return "done"

        asyncio.run(run_workflow(run, ctx, None))

        stored = [e for e in events_of(ledger, "wf-threads") if e.type == "StepRecorded"]
        assert [e.event_id for e in stored] == [
            e.event_id for e in ctx.recorded if e.type == "StepRecorded"
        ]  # the ledger's order is the order they were recorded in
        for name in ("x", "y", "z"):
            assert [e.agent for e in stored if e.agent.startswith(name)] == [
                f"{name}-{i}" for i in range(200)
            ]
        assert len({e.event_id for e in stored}) == 600


def test_a_failed_flush_keeps_the_buffer_for_the_next_one(clock: ManualClock) -> None:
    with open_ledger("memory://") as ledger:
        ctx = RunContext(ledger, "wf-retry", clock=clock, buffered=True).start()
        ctx.record_step(True, agent="a")
        real = ledger.append
        calls = {"n": 0}

        def flaky(events: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 1:
                raise LedgerError("the store is unreachable")
            return real(events, **kwargs)

        ledger.append = flaky  # type: ignore[method-assign]
        with pytest.raises(LedgerError, match="unreachable"):
            ctx.flush()
        assert ledger.latest_offset() == 0
        ctx.flush()

        assert [e.type for e in events_of(ledger, "wf-retry")] == ["WorkflowStarted", "StepRecorded"]


def test_threads_recording_while_the_run_flushes_lose_nothing() -> None:
    with open_ledger("memory://") as ledger:
        ctx = RunContext(ledger, "wf-race", buffered=True).start()
        stop = threading.Event()

        def flusher() -> None:
            while not stop.is_set():
                ctx.flush()

        thread = threading.Thread(target=flusher)
        thread.start()
        for i in range(2000):
            ctx.record_step(True, agent=f"s{i}")
        stop.set()
        thread.join()
        ctx.flush()

        agents = [e.agent for e in events_of(ledger, "wf-race") if e.type == "StepRecorded"]
        assert agents == [f"s{i}" for i in range(2000)]
