"""Circuit breakers: sliding windows, timeouts on read, bounded probes, shared state through the ledger."""

from __future__ import annotations

import dataclasses
import multiprocessing
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from ledger import (
    BreakerCallRecorded,
    BreakerConfigured,
    CircuitTransitioned,
    Ledger,
    ToolCalled,
    open_ledger,
)
from ledger.timeutil import to_epoch_us
from projections import (
    BreakerProjection,
    CircuitBreaker,
    CircuitBreakerConfig,
    CircuitBreakerRegistry,
    CircuitOpenError,
    CircuitState,
)
from projections.fold import fold_range
from tests.conftest import ManualClock, run_in_process, sqlite_url
from tests.projections.guards import mp_workers

OPEN, HALF_OPEN, CLOSED = CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120.0


@pytest.fixture
def breaker(ledger: Ledger, clock: ManualClock) -> CircuitBreaker:
    return CircuitBreaker("external_api", ledger=ledger, clock=clock)


def transitions(ledger: Ledger) -> list[tuple[str, str, datetime]]:
    out: list[tuple[str, str, datetime]] = []
    for r in ledger.read(types="CircuitTransitioned"):
        assert isinstance(r.event, CircuitTransitioned)
        out.append((r.event.from_state, r.event.to_state, r.event.occurred_at))
    return out


def calls(ledger: Ledger) -> list[str]:
    out: list[str] = []
    for r in ledger.read(types="BreakerCallRecorded"):
        assert isinstance(r.event, BreakerCallRecorded)
        out.append(r.event.outcome)
    return out


def fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        breaker.record_failure()


def test_the_failure_threshold_within_the_window_opens_the_breaker(
    breaker: CircuitBreaker, ledger: Ledger, clock: ManualClock
) -> None:
    fail(breaker, 4)
    assert breaker.state is CLOSED and breaker.can_execute()

    clock.advance(seconds=299)
    breaker.record_failure()

    assert breaker.state is OPEN
    assert transitions(ledger) == [("closed", "open", clock.now)]


def test_failures_outside_the_window_do_not_count(breaker: CircuitBreaker, clock: ManualClock) -> None:
    fail(breaker, 4)
    clock.advance(seconds=301)
    fail(breaker, 4)

    assert breaker.state is CLOSED
    breaker.record_failure()  # five within the last 300 s: the four recent ones and this
    assert breaker.state is OPEN


def test_successes_do_not_reset_the_failure_window(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        breaker.record_success()
        breaker.record_failure()

    assert breaker.state is OPEN


def test_the_breaker_half_opens_after_the_timeout_when_read(
    breaker: CircuitBreaker, ledger: Ledger, clock: ManualClock
) -> None:
    fail(breaker, 5)
    opened = clock.now
    clock.advance(seconds=59)
    assert breaker.state is OPEN

    clock.advance(seconds=600)  # read long after: the move is stamped when it became due

    assert breaker.state is HALF_OPEN
    assert transitions(ledger) == [
        ("closed", "open", opened),
        ("open", "half_open", opened + timedelta(seconds=60)),
    ]


def test_success_threshold_successes_in_half_open_close_it(
    breaker: CircuitBreaker, ledger: Ledger, clock: ManualClock
) -> None:
    fail(breaker, 5)
    clock.advance(seconds=60)

    assert breaker.can_execute()
    assert breaker.record_success() is HALF_OPEN
    assert breaker.can_execute()
    assert breaker.record_success() is CLOSED
    assert [(a, b) for a, b, _ in transitions(ledger)] == [
        ("closed", "open"),
        ("open", "half_open"),
        ("half_open", "closed"),
    ]
    # Closed afresh: the failures from before do not count towards the next opening.
    fail(breaker, 4)
    assert breaker.state is CLOSED


def test_any_failure_in_half_open_reopens_it_and_restarts_the_timeout(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    fail(breaker, 5)
    clock.advance(seconds=60)
    assert breaker.can_execute()
    breaker.record_success()
    assert breaker.can_execute()

    assert breaker.record_failure() is OPEN
    clock.advance(seconds=59)
    assert breaker.state is OPEN
    clock.advance(seconds=1)
    assert breaker.state is HALF_OPEN


def test_rejected_calls_are_counted(breaker: CircuitBreaker, ledger: Ledger) -> None:
    fail(breaker, 5)

    assert [breaker.can_execute() for _ in range(3)] == [False, False, False]
    assert calls(ledger) == ["failure"] * 5 + ["rejected"] * 3
    status = breaker.status()
    assert (status.state, status.rejected, status.failures, status.transitions) == (OPEN, 3, 5, 1)


@pytest.mark.parametrize("max_calls", [1, 3])
def test_many_threads_on_a_half_open_breaker_let_through_exactly_the_allowed_probes(
    ledger: Ledger, clock: ManualClock, max_calls: int
) -> None:
    breaker = CircuitBreaker(
        "api", CircuitBreakerConfig(half_open_max_calls=max_calls), ledger=ledger, clock=clock
    )
    fail(breaker, 5)
    clock.advance(seconds=60)
    threads = 24
    barrier = threading.Barrier(threads)
    answers: list[bool] = []

    def attempt() -> None:
        barrier.wait(timeout=30)
        answers.append(breaker.can_execute())

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)

    assert sorted(answers) == [False] * (threads - max_calls) + [True] * max_calls
    assert calls(ledger).count("rejected") == threads - max_calls


def test_breakers_of_one_name_share_the_probe_permits(ledger: Ledger, clock: ManualClock) -> None:
    # The bound is per breaker, not per object or process: probes are ledger events.
    config = CircuitBreakerConfig(half_open_max_calls=1)
    first = CircuitBreaker("api", config, ledger=ledger, clock=clock)
    second = CircuitBreaker("api", config, ledger=ledger, clock=clock)
    fail(first, 5)
    clock.advance(seconds=60)

    assert first.can_execute() is True
    assert second.can_execute() is False  # the one probe is out, taken by the other object
    second.record_success()  # an outcome comes back, wherever it is recorded
    assert first.can_execute() is True
    assert [r.event.type for r in ledger.read(types="BreakerProbeStarted")] == ["BreakerProbeStarted"] * 2


def test_a_probe_permit_comes_back_with_its_outcome(breaker: CircuitBreaker, clock: ManualClock) -> None:
    fail(breaker, 5)
    clock.advance(seconds=60)

    assert breaker.can_execute() is True
    assert breaker.can_execute() is False  # the one probe is out
    breaker.record_success()
    assert breaker.can_execute() is True


def test_a_probe_whose_outcome_never_comes_back_lapses_after_the_timeout(
    breaker: CircuitBreaker, clock: ManualClock
) -> None:
    fail(breaker, 5)
    clock.advance(seconds=60)
    assert breaker.can_execute() is True  # ... and the caller crashes

    clock.advance(seconds=59)
    assert breaker.can_execute() is False
    clock.advance(seconds=1)
    assert breaker.can_execute() is True


def test_an_outcome_returns_the_live_probes_permit_not_a_lapsed_ones(
    ledger: Ledger, clock: ManualClock
) -> None:
    config = CircuitBreakerConfig(half_open_max_calls=1, success_threshold=2)
    breaker = CircuitBreaker("api", config, ledger=ledger, clock=clock)
    fail(breaker, 5)
    clock.advance(seconds=60)
    assert breaker.can_execute() is True  # probe 1: its caller crashes
    clock.advance(seconds=61)  # ... and its permit lapses
    assert breaker.can_execute() is True  # probe 2
    assert breaker.record_success() is HALF_OPEN  # probe 2's outcome: one of two successes

    assert breaker.can_execute() is True  # no probe is out now


def test_state_is_rebuilt_from_the_ledger_by_a_new_breaker(
    breaker: CircuitBreaker, ledger: Ledger, clock: ManualClock
) -> None:
    fail(breaker, 5)
    breaker.can_execute()

    reborn = CircuitBreaker("external_api", ledger=ledger, clock=clock)

    status = reborn.status()
    assert (status.state, status.failures, status.rejected, status.since) == (OPEN, 5, 1, clock.now)
    assert CircuitBreaker("other", ledger=ledger, clock=clock).state is CLOSED


def test_a_decision_made_on_a_stale_state_is_retried_on_the_fresh_one(
    tmp_path: Path, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    with open_ledger(url, clock=clock) as mine, open_ledger(url, clock=clock) as theirs:
        here = CircuitBreaker("api", ledger=mine, clock=clock)
        there = CircuitBreaker("api", ledger=theirs, clock=clock)
        fail(here, 3)
        original = theirs.append
        raced: list[bool] = []

        def append_after_a_rival(*args: object, **kwargs: object) -> object:
            # Between `there` folding the stream and appending, `here` records the 4th failure.
            if not raced:
                raced.append(True)
                here.record_failure()
            return original(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(theirs, "append", append_after_a_rival)

        assert there.record_failure() is OPEN  # the 5th failure, decided again after the race

        assert calls(mine) == ["failure"] * 5
        assert [(a, b) for a, b, _ in transitions(mine)] == [("closed", "open")]
        assert here.state is OPEN


def test_every_transition_and_call_is_in_the_breakers_stream(breaker: CircuitBreaker, ledger: Ledger) -> None:
    fail(breaker, 5)
    breaker.can_execute()

    streams = {r.stream for r in ledger.read()}
    versions = [r.version for r in ledger.read()]
    assert streams == {"breaker:external_api"}
    # Its thresholds first (once), then 5 failures, the transition and the rejected call.
    assert [r.event.type for r in ledger.read()][:2] == ["BreakerConfigured", "BreakerCallRecorded"]
    assert versions == list(range(1, 9))


def test_a_breaker_can_take_its_outcomes_from_tool_calls(ledger: Ledger, clock: ManualClock) -> None:
    def called(success: bool) -> ToolCalled:
        return ToolCalled(tool="search", success=success, occurred_at=clock.now, workflow_id="wf")

    ledger.append([called(True), *[called(False) for _ in range(5)], ToolCalled(tool="other", success=False)])
    one = CircuitBreaker("search", ledger=ledger, clock=clock, tool="search")
    two = CircuitBreaker("search", ledger=ledger, clock=clock, tool="search")

    assert one.state is OPEN
    assert two.state is OPEN
    # Both mirrored the same tool calls; each was written once.
    assert calls(ledger) == ["success"] + ["failure"] * 5
    assert len(transitions(ledger)) == 1
    ledger.append(called(True))
    clock.advance(seconds=60)
    ledger.append([called(True), called(True)])
    assert one.state is CLOSED


def test_a_tool_calls_outcome_frees_the_probe_it_used(ledger: Ledger, clock: ManualClock) -> None:
    breaker = CircuitBreaker("search", ledger=ledger, clock=clock, tool="search")
    ledger.append([ToolCalled(tool="search", success=False, occurred_at=clock.now) for _ in range(5)])
    clock.advance(seconds=60)

    assert breaker.can_execute() is True
    assert breaker.can_execute() is False
    ledger.append(ToolCalled(tool="search", success=True, occurred_at=clock.now))
    assert breaker.can_execute() is True
    ledger.append(ToolCalled(tool="search", success=True, occurred_at=clock.now))
    assert breaker.state is CLOSED


def test_call_runs_through_the_breaker_and_records_the_outcome(
    breaker: CircuitBreaker, ledger: Ledger
) -> None:
    def boom() -> None:
        raise ConnectionError("down")

    assert breaker.call(lambda x: x * 2, 21) == 42
    for _ in range(5):
        with pytest.raises(ConnectionError):
            breaker.call(boom)
    with pytest.raises(CircuitOpenError, match="'external_api' is open"):
        breaker.call(lambda: None)
    assert calls(ledger) == ["success"] + ["failure"] * 5 + ["rejected"]


def test_reset_closes_the_breaker_by_hand(breaker: CircuitBreaker, ledger: Ledger) -> None:
    fail(breaker, 5)

    breaker.reset()

    assert breaker.state is CLOSED
    assert transitions(ledger)[-1][:2] == ("open", "closed")


@pytest.mark.parametrize(
    "bad",
    [
        {"failure_threshold": 0},
        {"success_threshold": 0},
        {"half_open_max_calls": 0},
        {"timeout_seconds": 0},
        {"window_seconds": -1},
    ],
)
def test_a_config_that_cannot_work_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(bad))):
        CircuitBreakerConfig(**bad)  # type: ignore[arg-type]


def test_the_registry_creates_each_breaker_once_and_never_shares_a_mutable_config(
    ledger: Ledger, clock: ManualClock
) -> None:
    registry = CircuitBreakerRegistry(ledger=ledger, clock=clock)

    api = registry.get_breaker("external_api")
    assert registry.get_breaker("external_api") is api
    strict = registry.get_breaker("database", CircuitBreakerConfig(failure_threshold=1))
    assert (api.config.failure_threshold, strict.config.failure_threshold) == (5, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        api.config.failure_threshold = 1  # type: ignore[misc]
    with pytest.raises(ValueError, match="another config"):
        registry.get_breaker("database", CircuitBreakerConfig(failure_threshold=2))
    assert registry.get_breaker("database", CircuitBreakerConfig(failure_threshold=1)) is strict


def test_registry_status_and_open_breakers_apply_timeouts(ledger: Ledger, clock: ManualClock) -> None:
    registry = CircuitBreakerRegistry(ledger=ledger, clock=clock)
    fail(registry.get_breaker("external_api"), 5)
    registry.get_breaker("database").record_success()
    fail(registry.get_breaker("redis_cache", CircuitBreakerConfig(timeout_seconds=10)), 5)

    assert registry.get_status() == {"database": CLOSED, "external_api": OPEN, "redis_cache": OPEN}
    clock.advance(seconds=10)
    assert registry.get_open_breakers() == ["external_api"]
    assert registry.get_status()["redis_cache"] is HALF_OPEN


def test_breakers_on_two_handles_of_one_durable_ledger_share_state(
    durable_url: str, clock: ManualClock
) -> None:
    with open_ledger(durable_url, clock=clock) as one, open_ledger(durable_url, clock=clock) as two:
        first = CircuitBreaker("api", ledger=one, clock=clock)
        second = CircuitBreaker("api", ledger=two, clock=clock)

        for i in range(5):
            (first if i % 2 else second).record_failure()

        assert (first.state, second.state) == (OPEN, OPEN)
        clock.advance(seconds=60)
        assert second.can_execute() is True
        second.record_success()
        assert first.state is HALF_OPEN
        first.can_execute()
        first.record_success()
        assert second.state is CLOSED


@pytest.mark.slow
def test_processes_racing_for_a_half_open_breaker_let_through_only_the_allowed_probe(
    tmp_path: Path, clock: ManualClock
) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    with open_ledger(url, clock=clock) as ledger:
        here = CircuitBreaker("external_api", ledger=ledger, clock=clock)
        fail(here, 5)
        clock.advance(seconds=60)
        assert here.state is HALF_OPEN

        processes = 4
        start = SPAWN.Barrier(processes)
        results = SPAWN.Queue()
        workers = [
            SPAWN.Process(target=mp_workers.try_probe, args=(url, clock.now.isoformat(), start, results))
            for _ in range(processes)
        ]
        for w in workers:
            w.start()
        answers = [results.get(timeout=TIMEOUT) for _ in range(processes)]
        for w in workers:
            w.join(TIMEOUT)
        results.close()
        results.join_thread()

        assert all(w.exitcode == 0 for w in workers)
        assert sorted(answers) == [False, False, False, True]
        assert len(list(ledger.read(types="BreakerProbeStarted"))) == 1
        assert calls(ledger).count("rejected") == 3


@pytest.mark.slow
def test_a_breaker_opened_in_one_process_is_open_in_another(tmp_path: Path, clock: ManualClock) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    with open_ledger(url, clock=clock) as ledger:
        here = CircuitBreaker("external_api", ledger=ledger, clock=clock)
        assert here.state is CLOSED

        run_in_process(mp_workers.fail_calls, url, clock.now.isoformat(), 5)

        assert here.state is OPEN
        assert here.can_execute() is False
        clock.advance(seconds=60)
        assert here.state is HALF_OPEN  # recorded here; the other process sees it

        results = SPAWN.Queue()
        run_in_process(mp_workers.probe_twice, url, clock.now.isoformat(), results)
        seen = results.get(timeout=TIMEOUT)
        results.close()
        results.join_thread()

        assert seen == ["half_open", True, "half_open", True, "closed"]
        assert here.state is CLOSED
        assert [(a, b) for a, b, _ in transitions(ledger)] == [
            ("closed", "open"),
            ("open", "half_open"),
            ("half_open", "closed"),
        ]


def test_a_breaker_records_the_thresholds_it_decides_with_once_and_again_when_they_change(
    ledger: Ledger, clock: ManualClock
) -> None:
    strict = CircuitBreakerConfig(failure_threshold=2, timeout_seconds=30, window_seconds=10)
    first = CircuitBreaker("api", strict, ledger=ledger, clock=clock)
    first.record_failure()
    first.record_success()
    CircuitBreaker("api", strict, ledger=ledger, clock=clock).record_success()  # same thresholds
    lenient = CircuitBreakerConfig(failure_threshold=9)
    CircuitBreaker("api", lenient, ledger=ledger, clock=clock).record_failure()  # other thresholds

    recorded = [r.event for r in ledger.read(types="BreakerConfigured")]
    assert all(isinstance(e, BreakerConfigured) for e in recorded)
    assert [(e.failure_threshold, e.timeout_seconds, e.window_seconds) for e in recorded] == [  # type: ignore[union-attr]
        (2, 30.0, 10.0),
        (9, 60.0, 300.0),
    ]


def test_the_breakers_projection_judges_each_breaker_by_its_recorded_thresholds(
    ledger: Ledger, clock: ManualClock
) -> None:
    # Two failures a minute apart: inside a 300 s window, outside a 30 s one.
    narrow = CircuitBreaker("narrow", CircuitBreakerConfig(window_seconds=30), ledger=ledger, clock=clock)
    wide = CircuitBreaker("wide", ledger=ledger, clock=clock)
    for breaker in (narrow, wide):
        breaker.record_failure()
    clock.advance(seconds=60)
    for breaker in (narrow, wide):
        breaker.record_failure()
    now = to_epoch_us(clock.now)

    projection = BreakerProjection()
    fold_range(ledger, [projection])
    restored = BreakerProjection.from_bytes(projection.to_bytes())
    assert restored is not None

    for p in (projection, restored):
        folds = p.breakers
        assert folds["narrow"].config.window_seconds == 30
        assert folds["narrow"].core.failures_in_window(now, folds["narrow"].config) == 1
        assert folds["wide"].core.failures_in_window(now, folds["wide"].config) == 2
    assert restored.digest() == projection.digest()
