"""The synthetic workload: the benchmarks' traffic stays as it was; the demo's spans real time."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from ledger.workload import generate, iter_jsonl

START = datetime(2026, 3, 2, tzinfo=UTC)


def test_the_benchmark_workload_is_byte_for_byte_what_it_was() -> None:
    # Pinned before the span option existed: bench results stay comparable across versions.
    digest = hashlib.sha256(b"".join(iter_jsonl(3000, seed=5, active_workflows=20))).hexdigest()
    assert digest == "b20818b3cb6b014ac2ba4e626500eb265d3527c1432d07c5dc170f0dab24a1db"


def test_a_span_spreads_the_events_over_it_busier_by_day() -> None:
    events = list(generate(6000, seed=1, active_workflows=4, start=START, span=timedelta(days=7)))
    first, last = events[0].occurred_at, events[-1].occurred_at

    assert last - first > timedelta(days=6)
    assert last <= START + timedelta(days=7)
    by_hour = Counter(e.occurred_at.hour for e in events)
    assert by_hour[15] > 2 * by_hour[3]  # mid-afternoon UTC against the small hours


def test_a_span_has_a_degrading_agent_and_an_incident() -> None:
    events = list(generate(20_000, seed=0, active_workflows=4, start=START, span=timedelta(days=7)))
    end = START + timedelta(days=7)

    def failure_rate(agent: str | None, low: float, high: float) -> float:
        steps = [
            e
            for e in events
            if e.type == "StepRecorded"
            and (agent is None or e.agent == agent)
            and START + (end - START) * low <= e.occurred_at < START + (end - START) * high
        ]
        return sum(not e.success for e in steps) / len(steps)  # type: ignore[attr-defined]

    assert failure_rate("executor", 0.9, 1.0) > 3 * failure_rate("executor", 0.0, 0.5)
    assert failure_rate(None, 0.70, 0.72) > 4 * failure_rate(None, 0.0, 0.5)


def test_a_span_must_be_positive() -> None:
    with pytest.raises(ValueError, match="span"):
        list(generate(10, span=timedelta(0)))
