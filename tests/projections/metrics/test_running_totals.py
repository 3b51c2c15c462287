"""The all-time reports' running totals equal a full re-scan of the rows, to the last digit.

The all-time reliability report keeps its workflow metrics (PC, HIR, WCT) as running totals
that re-derive only the workflows that changed; a window covering every event takes the re-scan
path. Random folds (late interventions and replans after a completion, second completions,
replays, completions without an id, starts after completions) with reports in between must give
the same report either way, every field.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections import MetricTargets, ReliabilityProjection

T0 = 1_767_225_600_000_000
EVERYTHING = {"since_us": 0, "until_us": 1 << 62}

workflow = st.sampled_from([None, "w1", "w2", "w3", "r1"])
event = st.one_of(
    st.tuples(st.just("WorkflowStarted"), workflow, st.booleans()),
    st.tuples(
        st.just("WorkflowCompleted"),
        workflow,
        st.one_of(st.none(), st.integers(0, 4)),  # total_retries
        st.booleans(),  # required_human
        st.one_of(st.none(), st.floats(0, 10_000, allow_nan=False)),  # duration_ms
    ),
    st.tuples(st.just("PlanRevised"), workflow),
    st.tuples(st.just("HumanIntervened"), workflow),
    st.tuples(st.just("StepRecorded"), workflow, st.booleans(), st.booleans()),
    st.just(("report",)),
)


def apply(p: ReliabilityProjection, offset: int, t: int, spec: tuple[Any, ...]) -> None:
    kind, wf = spec[0], spec[1]
    if kind == "WorkflowStarted":
        # A replay's start comes before its other events (the fold's documented contract), so
        # r1 is a replay only when its start is its first event.
        first = "r1" not in p.workflows.codes
        body: dict[str, Any] = {"replay_of": "w1" if spec[2] and wf == "r1" and first else None}
    elif kind == "WorkflowCompleted":
        body = {"total_retries": spec[2], "required_human": spec[3], "duration_ms": spec[4]}
    elif kind == "StepRecorded":
        body = {"agent": "a", "success": spec[2], "required_human": spec[3]}
    else:
        body = {}
    p.handlers[kind](t, p.decoded(kind, {"type": kind, "workflow_id": wf, **body}))
    p.advance_to(offset)


@settings(max_examples=200, deadline=None)
@given(events=st.lists(event, max_size=40), replays=st.booleans())
def test_all_time_report_is_the_rescan(events: list[tuple[Any, ...]], replays: bool) -> None:
    targets = MetricTargets(include_replays=replays)
    p = ReliabilityProjection()
    for offset, spec in enumerate(events, start=1):
        if spec[0] == "report":
            p.report(targets)  # the running totals catch up here, then carry on
            continue
        apply(p, offset, T0 + offset * 1_000_000, spec)
    incremental = p.report(targets).model_dump()
    rescan = p.report(targets, **EVERYTHING).model_dump()
    fresh = ReliabilityProjection()  # and a projection that never reported before
    for offset, spec in enumerate(events, start=1):
        if spec[0] != "report":
            apply(fresh, offset, T0 + offset * 1_000_000, spec)
    assert incremental == rescan == fresh.report(targets).model_dump()
