"""The store contract, run on every backend: what appending and reading promise.

Each test is given an empty ledger URL for memory, SQLite and PostgreSQL in turn (see
``tests/conftest.py``); tests about surviving a restart run on the durable backends only.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from ledger import (
    AppendResult,
    BatchRejectedError,
    BudgetReservationReleased,
    BudgetReserved,
    CostIncurred,
    DuplicateEventError,
    Ledger,
    LedgerClosedError,
    LedgerEvent,
    PlanRevised,
    Recorded,
    StepRecorded,
    ToolCalled,
    VersionConflictError,
    WorkflowCompleted,
    WorkflowStarted,
    open_ledger,
)
from ledger import chain as chain_module
from ledger.backends.base import ReadQuery
from ledger.batch import EventInput
from tests.conftest import MakeLedger, ManualClock

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def step(workflow_id: str | None = "w1", agent: str = "a", **fields: object) -> StepRecorded:
    return StepRecorded(workflow_id=workflow_id, agent=agent, success=True, **fields)


def offsets(records: Iterable[Recorded]) -> list[int]:
    return [r.offset for r in records]


def ids(records: Iterable[Recorded]) -> list[UUID]:
    return [r.event.event_id for r in records]


def assert_per_stream_versions_are_gapless(ledger: Ledger) -> dict[str, list[Recorded]]:
    by_stream: dict[str, list[Recorded]] = defaultdict(list)
    for record in ledger.read(page_size=97):
        by_stream[record.stream].append(record)
    for stream, records in by_stream.items():
        assert [r.version for r in records] == list(range(1, len(records) + 1)), stream
        assert ledger.stream_version(stream) == len(records)
    return by_stream


# -- offsets and streams ------------------------------------------------------------------------


def test_offsets_start_at_one_and_are_gapless_in_commit_order(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    batches = [[step()], [step(), step(), step()], [step(), step()]]

    results = [ledger.append(batch) for batch in batches]

    assert [r.offsets for r in results] == [(1,), (2, 3, 4), (5, 6)]
    assert [r.written for r in results] == [1, 3, 2]
    assert [r.duplicates for r in results] == [0, 0, 0]
    assert results[1].last_offset == 4
    assert ledger.latest_offset() == 6
    records = list(ledger.read())
    assert offsets(records) == [1, 2, 3, 4, 5, 6]
    assert ids(records) == [e.event_id for batch in batches for e in batch]


def test_an_empty_ledger_reads_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()

    assert ledger.latest_offset() == 0
    assert list(ledger.read()) == []
    assert ledger.stream_version("wf:w1") == 0


def test_an_empty_batch_writes_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append(step())

    result = ledger.append([])

    assert result == AppendResult((), 0, 0)
    assert result.last_offset is None
    assert ledger.latest_offset() == 1


def test_append_takes_models_mappings_and_json(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    model = PlanRevised(workflow_id="w1", reason="model")
    mapping = {"type": "PlanRevised", "workflow_id": "w1", "reason": "mapping"}
    text = '{"type": "PlanRevised", "workflow_id": "w1", "reason": "text"}'
    raw = b'{"type": "PlanRevised", "workflow_id": "w1", "reason": "bytes"}'

    ledger.append(model)
    ledger.append(mapping)
    ledger.append([text, raw])

    records = list(ledger.read())
    assert [r.event.reason for r in records] == ["model", "mapping", "text", "bytes"]  # type: ignore[union-attr]
    assert records[0].event == model


def test_an_event_reads_back_equal_to_what_was_appended(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    events: list[LedgerEvent] = [
        WorkflowStarted(workflow_id="w1", agent="planner", goal="g", input={"q": [1, 2.5, None]}),
        ToolCalled(workflow_id="w1", tool="search", arguments={"q": "x"}, duration_ms=12.5),
        CostIncurred(workflow_id="w1", model="m", prompt_tokens=3, amount=Decimal("0.0125")),
        WorkflowCompleted(workflow_id="w1", agents_involved=("planner",), duration_ms=99.0),
    ]

    ledger.append(events)

    assert [r.event for r in ledger.read()] == events


def test_stream_is_the_workflow_else_the_agent_else_the_ledger(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    in_workflow = PlanRevised(workflow_id="w9", agent="a")
    by_agent = PlanRevised(agent="a")
    neither = PlanRevised()

    ledger.append([in_workflow, by_agent, neither])

    assert [r.stream for r in ledger.read()] == ["wf:w9", "agent:a", "ledger"]
    assert [e.stream for e in (in_workflow, by_agent, neither)] == [
        "wf:w9",
        "agent:a",
        "ledger",
    ]


def test_stream_versions_count_from_one_in_each_stream(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([step("w1"), step("w2"), step("w1")])
    ledger.append([PlanRevised(agent="solo"), step("w2"), PlanRevised(), step("w1")])

    records = list(ledger.read())

    assert [(r.stream, r.version) for r in records] == [
        ("wf:w1", 1),
        ("wf:w2", 1),
        ("wf:w1", 2),
        ("agent:solo", 1),
        ("wf:w2", 2),
        ("ledger", 1),
        ("wf:w1", 3),
    ]
    assert ledger.stream_version("wf:w1") == 3
    assert ledger.stream_version("wf:w2") == 2
    assert ledger.stream_version("wf:nobody") == 0
    assert [r.version for r in ledger.stream("w1")] == [1, 2, 3]


def test_budget_events_share_one_stream_per_budget(make_ledger: MakeLedger) -> None:
    # Reservations against one budget are checked with optimistic concurrency on that stream.
    ledger = make_ledger()
    reserve = BudgetReserved(budget="team-a", workflow_id="w1", reservation_id=uuid4(), amount=Decimal("1.5"))
    release = BudgetReservationReleased(
        budget="team-a", workflow_id="w2", reservation_id=reserve.reservation_id
    )
    ledger.append(reserve, expected_version=0)

    with pytest.raises(VersionConflictError):
        ledger.append(release, expected_version=0)
    ledger.append(release, expected_version=1)

    assert [(r.stream, r.version) for r in ledger.read()] == [("budget:team-a", 1), ("budget:team-a", 2)]
    assert reserve.stream == "budget:team-a"
    assert ledger.stream("w1") == []


# -- atomicity ----------------------------------------------------------------------------------


def test_a_batch_with_one_invalid_event_writes_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append(step())
    before = list(ledger.read())
    batch: list[EventInput] = [step(), {"type": "StepRecorded", "agent": "a"}, step()]

    with pytest.raises(BatchRejectedError):
        ledger.append(batch)

    assert ledger.latest_offset() == 1
    assert list(ledger.read()) == before
    assert ledger.append(step()).offsets == (2,)
    assert ledger.stream_version("wf:w1") == 2


def test_a_batch_failing_its_version_check_writes_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([step("w1"), step("w1")])
    before = list(ledger.read())

    with pytest.raises(VersionConflictError):
        ledger.append([step("w1"), step("w1")], expected_version=1)

    assert ledger.latest_offset() == 2
    assert list(ledger.read()) == before
    assert ledger.stream_version("wf:w1") == 2


def test_a_batch_with_a_conflicting_duplicate_writes_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    stored = step("w1", mode="explore")
    ledger.append(stored)
    before = list(ledger.read())
    impostor = stored.model_copy(update={"mode": "act"})

    with pytest.raises(DuplicateEventError):
        ledger.append([step("w2"), impostor, step("w1")])

    assert ledger.latest_offset() == 1
    assert list(ledger.read()) == before
    assert ledger.stream_version("wf:w2") == 0
    assert ledger.verify().ok


# -- idempotency --------------------------------------------------------------------------------


def test_appending_a_stored_event_again_returns_its_original_offset(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    event = step()
    ledger.append([step(), event, step()])

    again = ledger.append(event)

    assert again == AppendResult((2,), written=0, duplicates=1)
    assert ledger.latest_offset() == 3
    assert ids(ledger.read()).count(event.event_id) == 1


def test_a_retry_that_restamps_the_time_is_still_the_same_event(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    event = step(occurred_at=T0)
    ledger.append(event)

    again = ledger.append(event.model_copy(update={"occurred_at": T0 + timedelta(seconds=5)}))

    assert again == AppendResult((1,), written=0, duplicates=1)
    assert [r.event.occurred_at for r in ledger.read()] == [T0]


def test_a_mixed_batch_writes_only_its_new_events(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    first, second = step(), step()
    ledger.append([first, second])
    fresh = step()

    result = ledger.append([second, fresh, first])

    assert result == AppendResult((2, 3, 1), written=1, duplicates=2)
    assert result.last_offset == 3
    assert ids(ledger.read()) == [first.event_id, second.event_id, fresh.event_id]


def test_same_id_with_another_payload_raises_naming_the_id_and_offset(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    ledger.append(step())
    stored = step(error=None)
    ledger.append(stored)
    changed = stored.model_copy(update={"error": "boom"})

    with pytest.raises(DuplicateEventError) as caught:
        ledger.append([step(), changed])

    assert caught.value.event_id == stored.event_id
    assert caught.value.offset == 2
    assert caught.value.index == 1
    assert str(stored.event_id) in str(caught.value)
    assert "offset 2" in str(caught.value)
    assert ledger.latest_offset() == 2


def test_same_id_twice_in_one_batch_is_written_once(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    event = step()

    result = ledger.append([event, step(), event])

    assert result == AppendResult((1, 2, 1), written=2, duplicates=1)
    assert ledger.latest_offset() == 2


def test_same_id_twice_in_one_batch_with_other_payloads_is_rejected(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    event = step(mode="explore")

    with pytest.raises(DuplicateEventError) as caught:
        ledger.append([event, step(), event.model_copy(update={"mode": "act"})])

    assert caught.value.event_id == event.event_id
    assert caught.value.index == 2
    assert ledger.latest_offset() == 0


def test_a_retried_batch_with_expected_version_succeeds_idempotently(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    ledger.append(step("w1"))
    batch = [step("w1"), step("w1")]
    first = ledger.append(batch, expected_version=1)

    retry = ledger.append(batch, expected_version=1)

    assert first == AppendResult((2, 3), written=2, duplicates=0)
    assert retry == AppendResult((2, 3), written=0, duplicates=2)
    assert ledger.stream_version("wf:w1") == 3


# -- optimistic concurrency ---------------------------------------------------------------------


def test_expected_version_zero_means_a_new_stream(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()

    assert ledger.append(step("w1"), expected_version=0).offsets == (1,)
    with pytest.raises(VersionConflictError) as caught:
        ledger.append(step("w1"), expected_version=0)

    assert (caught.value.stream, caught.value.expected_version, caught.value.actual_version) == (
        "wf:w1",
        0,
        1,
    )


def test_expected_version_must_match_the_streams_current_version(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    ledger.append([step("w1"), step("w1")])

    ledger.append(step("w1"), expected_version=2)
    with pytest.raises(VersionConflictError) as caught:
        ledger.append(step("w1"), expected_version=2)

    error = caught.value
    assert (error.stream, error.expected_version, error.actual_version) == ("wf:w1", 2, 3)
    assert "wf:w1" in str(error)
    assert ledger.latest_offset() == 3


def test_expected_version_mapping_checks_every_stream(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append([step("w1"), step("w2"), step("w2")])
    batch = [step("w1"), step("w2")]

    with pytest.raises(VersionConflictError) as caught:
        ledger.append(batch, expected_version={"wf:w1": 1, "wf:w2": 1})
    assert (caught.value.stream, caught.value.actual_version) == ("wf:w2", 2)
    assert ledger.latest_offset() == 3

    result = ledger.append(batch, expected_version={"wf:w1": 1, "wf:w2": 2})
    assert result.offsets == (4, 5)


def test_expected_version_mapping_checks_streams_outside_the_batch(
    make_ledger: MakeLedger,
) -> None:
    # A writer may condition its write on a stream it read but does not append to.
    ledger = make_ledger()
    ledger.append([step("other"), step("other"), step("other")])

    with pytest.raises(VersionConflictError) as caught:
        ledger.append(step("w1"), expected_version={"wf:w1": 0, "wf:other": 0})

    assert (caught.value.stream, caught.value.actual_version) == ("wf:other", 3)
    assert ledger.latest_offset() == 3


def test_an_int_expected_version_needs_a_single_stream_batch(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()

    with pytest.raises(ValueError, match="mapping"):
        ledger.append([step("w1"), step("w2")], expected_version=0)

    assert ledger.latest_offset() == 0


# -- reads --------------------------------------------------------------------------------------


def seed(ledger: Ledger) -> list[LedgerEvent]:
    """Ten events over two workflows, three agents, several types, one a minute from T0."""
    events: list[LedgerEvent] = [
        WorkflowStarted(workflow_id="w1", agent="planner", goal="one"),
        WorkflowStarted(workflow_id="w2", agent="planner", goal="two"),
        ToolCalled(workflow_id="w1", agent="researcher", tool="search"),
        StepRecorded(workflow_id="w1", agent="researcher", success=True),
        ToolCalled(workflow_id="w2", agent="researcher", tool="fetch"),
        StepRecorded(workflow_id="w2", agent="writer", success=False),
        PlanRevised(agent="planner"),
        StepRecorded(workflow_id="w1", agent="writer", success=True),
        PlanRevised(),
        WorkflowCompleted(workflow_id="w1", agent="planner"),
    ]
    events = [e.model_copy(update={"occurred_at": T0 + timedelta(minutes=i)}) for i, e in enumerate(events)]
    ledger.append(events[:4])
    ledger.append(events[4:])
    return events


@pytest.fixture
def seeded(make_ledger: MakeLedger) -> Ledger:
    ledger = make_ledger()
    seed(ledger)
    return ledger


def test_read_after_an_offset_and_up_to_a_limit(seeded: Ledger) -> None:
    assert offsets(seeded.read(after=7)) == [8, 9, 10]
    assert offsets(seeded.read(after=10)) == []
    assert offsets(seeded.read(limit=3)) == [1, 2, 3]
    assert offsets(seeded.read(after=4, limit=2)) == [5, 6]
    assert offsets(seeded.read(limit=0)) == []


def test_read_up_to_an_offset_inclusive(seeded: Ledger) -> None:
    assert offsets(seeded.read(through=3)) == [1, 2, 3]
    assert offsets(seeded.read(after=3, through=5)) == [4, 5]
    assert offsets(seeded.read(through=0)) == []


def test_read_one_workflow_or_stream(seeded: Ledger) -> None:
    assert offsets(seeded.read(workflow_id="w1")) == [1, 3, 4, 8, 10]
    assert offsets(seeded.read(workflow_id="w2")) == [2, 5, 6]
    assert offsets(seeded.read(workflow_id="w1", after=3)) == [4, 8, 10]
    assert offsets(seeded.read(stream="agent:planner")) == [7]
    assert offsets(seeded.read(stream="ledger")) == [9]
    assert offsets(seeded.stream("w2")) == [2, 5, 6]
    assert offsets(seeded.read(workflow_id="nope")) == []


def test_read_by_agent(seeded: Ledger) -> None:
    assert offsets(seeded.read(agent="planner")) == [1, 2, 7, 10]
    assert offsets(seeded.read(agent="writer")) == [6, 8]
    assert offsets(seeded.read(agent="researcher", workflow_id="w2")) == [5]


def test_read_by_type(seeded: Ledger) -> None:
    assert offsets(seeded.read(types="StepRecorded")) == [4, 6, 8]
    assert offsets(seeded.read(types=["ToolCalled", "PlanRevised"])) == [3, 5, 7, 9]
    assert offsets(seeded.read(types=["ToolCalled"], workflow_id="w1")) == [3]
    assert offsets(seeded.read(types=["NoSuchType"])) == []


def test_read_a_half_open_time_window(seeded: Ledger) -> None:
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)

    assert offsets(seeded.read(since=since, until=until)) == [3, 4, 5]
    assert offsets(seeded.read(since=since)) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert offsets(seeded.read(until=until)) == [1, 2, 3, 4, 5]
    assert offsets(seeded.read(since=until, until=until)) == []


def test_naive_times_in_a_read_are_utc(seeded: Ledger) -> None:
    naive_since = (T0 + timedelta(minutes=2)).replace(tzinfo=None)
    naive_until = (T0 + timedelta(minutes=5)).replace(tzinfo=None)

    assert offsets(seeded.read(since=naive_since, until=naive_until)) == [3, 4, 5]


def test_an_aware_time_in_another_zone_means_the_same_instant(seeded: Ledger) -> None:
    plus_two = timezone(timedelta(hours=2))
    since = (T0 + timedelta(minutes=2)).astimezone(plus_two)

    assert offsets(seeded.read(since=since, until=since + timedelta(minutes=3))) == [3, 4, 5]


def test_filters_combine(seeded: Ledger) -> None:
    records = seeded.read(
        workflow_id="w1",
        agent="researcher",
        types=["ToolCalled", "StepRecorded"],
        since=T0 + timedelta(minutes=3),
        until=T0 + timedelta(minutes=30),
    )

    assert offsets(records) == [4]


@pytest.mark.parametrize("page_size", [1, 2, 3, 7])
def test_paging_across_page_boundaries_returns_the_same_events(seeded: Ledger, page_size: int) -> None:
    queries: list[dict[str, object]] = [
        {},
        {"after": 2},
        {"limit": 5},
        {"after": 1, "limit": 4, "through": 9},
        {"workflow_id": "w1"},
        {"agent": "planner"},
        {"types": ["StepRecorded", "ToolCalled"]},
        {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=8)},
    ]
    for query in queries:
        whole = offsets(seeded.read(**query))  # type: ignore[arg-type]
        paged = offsets(seeded.read(page_size=page_size, **query))  # type: ignore[arg-type]
        assert paged == whole, query
    assert offsets(seeded.read(page_size=page_size)) == list(range(1, 11))


def test_events_before_1970_and_far_in_the_future_filter_to_the_microsecond(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    moments = [
        datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(1900, 6, 15, 12, 0, 0, 1, tzinfo=UTC),
        datetime(3000, 1, 1, 0, 0, 0, 999_999, tzinfo=UTC),
    ]
    ledger.append([PlanRevised(occurred_at=m) for m in moments])
    one_us = timedelta(microseconds=1)

    for offset, moment in enumerate(moments, start=1):
        assert offset in offsets(ledger.read(since=moment, until=moment + one_us)), moment
        assert offset not in offsets(ledger.read(since=moment + one_us)), moment
        assert offset not in offsets(ledger.read(until=moment)), moment


def test_a_naive_occurred_at_is_stored_as_utc(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append({"type": "PlanRevised", "occurred_at": "2025-03-01T09:00:00"})

    (record,) = ledger.read(since=T0, until=T0 + timedelta(seconds=1))

    assert record.event.occurred_at == T0
    assert record.event.occurred_at.utcoffset() == timedelta(0)


def test_read_back_times_are_utc_whatever_the_session_time_zone(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libpq applies PGTZ to the session; a server configured for local time does the same.
    monkeypatch.setenv("PGTZ", "America/New_York")
    with open_ledger(ledger_url) as ledger:
        ledger.append(PlanRevised(occurred_at=T0))

        (record,) = ledger.read()
        (row,) = ledger.read_rows(ReadQuery())
        stats = ledger.stats()

    assert record.recorded_at.utcoffset() == timedelta(0)
    assert row.occurred_at == T0
    assert row.occurred_at.utcoffset() == timedelta(0)
    assert record.to_json_dict()["recorded_at"].endswith("+00:00")
    assert stats["first_recorded_at"].endswith("+00:00")


# -- commit times and offset_at -----------------------------------------------------------------


def test_commit_times_come_from_the_injected_clock(make_ledger: MakeLedger, clock: ManualClock) -> None:
    ledger = make_ledger(clock=clock)
    start = clock.now
    ledger.append([step(), step()])
    later = clock.advance(minutes=1, microseconds=7)
    ledger.append(step())

    assert [r.recorded_at for r in ledger.read()] == [start, start, later]


def test_commit_times_never_go_backwards_when_the_clock_does(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    start = clock.now
    ledger.append(step())
    clock.advance(hours=-1)
    ledger.append(step())

    assert [r.recorded_at for r in ledger.read()] == [start, start]


def test_offset_at_maps_a_time_to_the_last_offset_committed_before_it(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    ledger = make_ledger(clock=clock)
    first = clock.now
    ledger.append([step(), step()])
    second = clock.advance(minutes=1)
    ledger.append(step())
    third = clock.advance(minutes=1)
    ledger.append(step())
    one_us = timedelta(microseconds=1)

    assert ledger.offset_at(first - timedelta(days=1)) == 0
    assert ledger.offset_at(first) == 0
    assert ledger.offset_at(first + one_us) == 2
    assert ledger.offset_at(second) == 2
    assert ledger.offset_at(second + timedelta(seconds=30)) == 3
    assert ledger.offset_at(third) == 3
    assert ledger.offset_at(third + one_us) == 4
    assert ledger.offset_at(third + timedelta(days=365)) == 4
    assert ledger.offset_at((second + one_us).replace(tzinfo=None)) == 3


def test_offset_at_and_prune_agree_with_the_commit_times_over_many_commits(
    make_ledger: MakeLedger, clock: ManualClock
) -> None:
    # Backends may search the commit times instead of indexing them (they never decrease
    # with the offset); compare with a brute-force answer over every kind of gap.
    ledger = make_ledger(clock=clock)
    rng = random.Random(7)
    for _ in range(60):
        ledger.append([step() for _ in range(rng.randint(1, 4))])
        clock.advance(seconds=rng.choice([0, 0, 1, 5, 60]))
        if rng.random() < 0.1:
            clock.advance(minutes=-3)  # the clock goes back; commit times do not
    times = [(r.offset, r.recorded_at) for r in ledger.read()]
    probes = [*sorted({t for _, t in times}), times[0][1] - timedelta(seconds=1)]
    probes += [*(t + timedelta(microseconds=1) for _, t in times), times[-1][1] + timedelta(days=1)]

    def expected(when: datetime) -> int:
        return max((o for o, t in times if t < when), default=0)

    for when in probes:
        assert ledger.offset_at(when) == expected(when), when

    # A forced prune removes exactly the rows committed before the horizon.
    horizon = times[len(times) // 2][1]
    result = ledger.prune(horizon, force=True)
    assert result.through == result.wanted_through == expected(horizon)
    assert next(r.offset for r in ledger.read()) == expected(horizon) + 1
    for when in probes:
        if when >= horizon:
            assert ledger.offset_at(when) == expected(when), when


def test_offset_at_on_an_empty_ledger_is_zero(make_ledger: MakeLedger) -> None:
    assert make_ledger().offset_at(T0) == 0


# -- stats and verify ---------------------------------------------------------------------------


def test_stats_count_events_streams_and_types(make_ledger: MakeLedger, clock: ManualClock) -> None:
    ledger = make_ledger(clock=clock)
    first = clock.now
    ledger.append([step("w1"), step("w2"), PlanRevised()])
    last = clock.advance(seconds=90)
    ledger.append([step("w1"), ToolCalled(agent="a", tool="t")])

    stats = ledger.stats()

    assert stats["url"] == ledger.url
    assert stats["events"] == 5
    assert stats["latest_offset"] == 5
    assert stats["streams"] == 4
    assert stats["by_type"] == {"PlanRevised": 1, "StepRecorded": 3, "ToolCalled": 1}
    assert datetime.fromisoformat(stats["first_recorded_at"]) == first
    assert datetime.fromisoformat(stats["last_recorded_at"]) == last


def test_stats_of_an_empty_ledger(make_ledger: MakeLedger) -> None:
    stats = make_ledger().stats()

    assert (stats["events"], stats["latest_offset"], stats["streams"]) == (0, 0, 0)
    assert stats["by_type"] == {}
    assert stats["first_recorded_at"] is None


def test_verify_passes_on_an_untouched_ledger(seeded: Ledger) -> None:
    report = seeded.verify()

    assert report.ok
    assert report.problems == []
    assert report.first_bad_offset is None
    assert (report.events_checked, report.last_offset, report.head_offset) == (10, 10, 10)


def test_verify_passes_on_an_empty_ledger(make_ledger: MakeLedger) -> None:
    report = make_ledger().verify()

    assert report.ok
    assert (report.events_checked, report.last_offset, report.head_offset) == (0, 0, 0)


def test_verify_checks_the_checkpoints_it_crossed(
    make_ledger: MakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chain_module, "CHECKPOINT_EVERY", 4)
    ledger = make_ledger()
    ledger.append([step() for _ in range(3)])
    ledger.append([step() for _ in range(6)])
    ledger.append(step())

    report = ledger.verify()

    assert report.ok, report.problems
    assert report.checkpoints_checked == 2
    assert [c.offset for c in ledger.backend.checkpoints()] == [4, 8]


# -- lifecycle ----------------------------------------------------------------------------------


def test_a_closed_ledger_refuses_every_operation(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)
    ledger.append(step())
    ledger.close()
    ledger.close()  # closing twice is harmless

    for operation in (
        lambda: ledger.append(step()),
        lambda: list(ledger.read()),
        ledger.latest_offset,
        ledger.verify,
        ledger.stats,
        lambda: ledger.offset_at(T0),
        lambda: ledger.stream_version("wf:w1"),
    ):
        with pytest.raises(LedgerClosedError):
            operation()
    with pytest.raises(LedgerClosedError):
        asyncio.run(ledger.append_async(step()))


def test_data_survives_closing_and_reopening(durable_url: str, clock: ManualClock) -> None:
    stored = step("w1")
    with open_ledger(durable_url, clock=clock) as ledger:
        ledger.append([step("w1"), stored, step("w2")])
        before = list(ledger.read())

    clock.advance(minutes=5)
    with open_ledger(durable_url, clock=clock) as ledger:
        assert list(ledger.read()) == before
        assert ledger.latest_offset() == 3
        assert ledger.append(stored) == AppendResult((2,), written=0, duplicates=1)
        assert ledger.append([step("w1"), step("w3")]).offsets == (4, 5)
        assert ledger.stream_version("wf:w1") == 3
        assert ledger.offset_at(clock.now) == 3
        report = ledger.verify()

    assert report.ok, report.problems
    assert report.events_checked == 5


# -- stream versions across writers --------------------------------------------------------------


def test_stream_versions_stay_right_when_two_ledgers_take_turns(durable_url: str) -> None:
    # Each ledger remembers versions from its own last commit; a commit by anyone else in
    # between must make it look them up again.
    with open_ledger(durable_url) as a, open_ledger(durable_url) as b:
        a.append([step("shared"), step("only-a")])
        b.append(step("shared"))
        b.append(step("shared"))
        a.append([step("shared"), step("only-a")])
        b.append(step("only-a"))
        a.append(step("only-a"), expected_version=3)
        with pytest.raises(VersionConflictError):
            b.append(step("shared"), expected_version=3)
        b.append(step("shared"), expected_version=4)

        rows = list(a.read())
    versions: dict[str, list[int]] = defaultdict(list)
    for r in rows:
        versions[r.stream].append(r.version)
    assert versions == {"wf:shared": [1, 2, 3, 4, 5], "wf:only-a": [1, 2, 3, 4]}


def test_a_failed_batch_leaves_no_stale_versions_behind(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    ledger.append(step("w"))
    stored = step("other")
    ledger.append(stored)
    # This batch assigns versions in its transaction, then fails on the conflicting twin.
    conflicting = stored.model_copy(update={"success": not stored.success})
    with pytest.raises(DuplicateEventError):
        ledger.append([step("w"), step("w"), conflicting])
    assert ledger.append(step("w")).offsets == (3,)
    assert ledger.stream_version("wf:w") == 2
    assert [r.version for r in ledger.read(workflow_id="w")] == [1, 2]


# -- concurrency --------------------------------------------------------------------------------


def assert_complete(
    ledger: Ledger, sent: dict[str, list[UUID]], also: dict[str, list[UUID]] | None = None
) -> None:
    """Every sent event is stored once, offsets are 1..N, each stream keeps its sender's order.

    ``sent`` maps a workflow to the ids sent to it, in order; ``also`` lists other ids sent.
    """
    records = list(ledger.read(page_size=101))
    every = [i for v in sent.values() for i in v] + [i for v in (also or {}).values() for i in v]
    assert offsets(records) == list(range(1, len(every) + 1))
    assert sorted(ids(records)) == sorted(every)
    by_stream = assert_per_stream_versions_are_gapless(ledger)
    for workflow, event_ids in sent.items():
        assert ids(by_stream[f"wf:{workflow}"]) == event_ids, workflow
    report = ledger.verify()
    assert report.ok, report.problems


def test_concurrent_async_appends_lose_nothing_and_keep_stream_order(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    tasks, per_task = 64, 5
    sent: dict[str, list[UUID]] = {f"task-{t}": [] for t in range(tasks)}

    async def writer(workflow: str) -> list[int]:
        got: list[int] = []
        for _ in range(per_task):
            event = step(workflow)
            sent[workflow].append(event.event_id)
            got.extend((await ledger.append_async(event)).offsets)
        return got

    async def main() -> list[list[int]]:
        return list(await asyncio.gather(*(writer(w) for w in sent)))

    results = asyncio.run(main())

    assert sorted(o for r in results for o in r) == list(range(1, tasks * per_task + 1))
    assert all(r == sorted(r) for r in results)
    assert_complete(ledger, sent)


def test_async_batches_mixed_with_a_conflict_fail_only_the_conflicting_caller(
    make_ledger: MakeLedger,
) -> None:
    ledger = make_ledger()
    ledger.append(step("contested"))

    async def main() -> list[AppendResult | BaseException]:
        return list(
            await asyncio.gather(
                ledger.append_async([step("free-1"), step("free-1")]),
                ledger.append_async(step("contested"), expected_version=0),
                ledger.append_async(step("free-2")),
                ledger.append_async(step("contested"), expected_version=1),
                return_exceptions=True,
            )
        )

    results = asyncio.run(main())

    assert isinstance(results[1], VersionConflictError)
    assert [isinstance(r, AppendResult) for r in results] == [True, False, True, True]
    assert ledger.latest_offset() == 5
    assert ledger.stream_version("wf:contested") == 2
    assert ledger.verify().ok


def test_async_appends_reuse_idempotency(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    event = step()

    async def main() -> list[AppendResult]:
        return list(await asyncio.gather(*(ledger.append_async(event) for _ in range(8))))

    results = asyncio.run(main())

    assert {r.offsets for r in results} == {(1,)}
    assert sum(r.written for r in results) == 1
    assert ledger.latest_offset() == 1


def test_closing_flushes_pending_async_appends(ledger_url: str) -> None:
    ledger = open_ledger(ledger_url)

    async def main() -> list[AppendResult]:
        pending = [asyncio.ensure_future(ledger.append_async(step())) for _ in range(20)]
        await asyncio.sleep(0)  # let every task submit its batch before closing
        ledger.close()
        return list(await asyncio.gather(*pending))

    try:
        results = asyncio.run(main())
    finally:
        ledger.close()

    assert sorted(o for r in results for o in r.offsets) == list(range(1, 21))


def test_threads_appending_through_one_ledger_lose_nothing(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    threads, appends = 8, 25
    sent: dict[str, list[UUID]] = {f"thread-{t}": [] for t in range(threads)}
    start = threading.Barrier(threads)

    def writer(workflow: str) -> None:
        start.wait()
        for i in range(appends):
            batch = [step(workflow) for _ in range(1 + i % 3)]
            sent[workflow].extend(e.event_id for e in batch)
            ledger.append(batch)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(writer, sent))

    assert_complete(ledger, sent)


def test_threads_with_their_own_ledgers_on_one_store_lose_nothing(durable_url: str) -> None:
    threads, appends = 4, 20
    own: dict[str, list[UUID]] = {f"thread-{t}": [] for t in range(threads)}
    shared: dict[str, list[UUID]] = {name: [] for name in own}
    start = threading.Barrier(threads)
    open_ledger(durable_url).close()  # create the tables before the race

    def writer(name: str) -> None:
        with open_ledger(durable_url) as ledger:
            start.wait()
            for _ in range(appends):
                mine, common = step(name), step("shared", agent=name)
                own[name].append(mine.event_id)
                shared[name].append(common.event_id)
                ledger.append([mine, common])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(writer, own))

    with open_ledger(durable_url) as ledger:
        assert_complete(ledger, own, also=shared)
        in_shared = ledger.stream("shared")
        for name, event_ids in shared.items():
            assert [r.event.event_id for r in in_shared if r.event.agent == name] == event_ids


def test_a_new_uuid_is_a_new_event(make_ledger: MakeLedger) -> None:
    ledger = make_ledger()
    event = step()

    ledger.append([event, event.model_copy(update={"event_id": uuid4()})])

    assert ledger.latest_offset() == 2
