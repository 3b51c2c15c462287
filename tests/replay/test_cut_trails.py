"""A strict or simulated replay of a trail cut at a checkpoint compares only the prefix (issue #12).

The recording is the pipeline ``search, lookup, rank, draft``; cut after its second tool call (an
offset), the trail's tape holds ``search, lookup``. A replay of the unchanged orchestrator goes
on past the cut: those calls are what the original did after it, not "extra" calls, and the
trail has no outcome to compare. A changed call inside the prefix is still a divergence.
"""

from __future__ import annotations

import asyncio

from ledger import Ledger, ReadQuery
from projections import SLOTracker
from replay import DecisionTrail, Replayer
from replay.history import History
from replay.trail import build_trail
from tests.conftest import ManualClock
from tests.replay.support import TOPIC, Pipeline, pipeline_tools, record_run


def cut_after_second_call(ledger: Ledger, clock: ManualClock) -> DecisionTrail:
    asyncio.run(record_run(ledger, clock, "wf-pipeline", Pipeline(), TOPIC, pipeline_tools()))
    calls = [r for r in ledger.read_rows(ReadQuery(types=("ToolCalled",)))]
    history = History.load(ledger, "wf-pipeline", calls[1].offset)
    return build_trail(history, ledger=ledger)


def test_strict_replay_of_a_cut_trail_compares_the_prefix(ledger: Ledger, clock: ManualClock) -> None:
    trail = cut_after_second_call(ledger, clock)
    assert [c.tool for c in trail.history.tape] == ["search", "lookup"]

    result = asyncio.run(Replayer(trail, clock=clock).strict_replay(Pipeline(), pipeline_tools()))

    assert result.differences == ()
    assert result.success


def test_simulated_replay_of_a_cut_trail_compares_the_prefix(ledger: Ledger, clock: ManualClock) -> None:
    trail = cut_after_second_call(ledger, clock)

    result = asyncio.run(Replayer(trail, clock=clock).simulated_replay(Pipeline()))

    assert result.differences == ()
    assert result.success
    slo = SLOTracker(ledger=ledger, clock=clock)
    assert slo.report().rsr == 1.0


def test_a_changed_call_inside_the_prefix_still_diverges(ledger: Ledger, clock: ManualClock) -> None:
    trail = cut_after_second_call(ledger, clock)
    changed = Pipeline(calls=("search", "rank", "lookup", "draft"))

    strict = asyncio.run(Replayer(trail, clock=clock).strict_replay(changed, pipeline_tools()))
    simulated = asyncio.run(Replayer(trail, clock=clock).simulated_replay(changed))

    assert [(d.field, d.location) for d in strict.differences] == [("tool", "call 1")]
    assert not strict.success
    assert [(d.field, d.location) for d in simulated.differences] == [("tool", "call 1")]
    assert not simulated.success
