"""The breaker registry knows every breaker in the ledger, in any process; breakers under frozen clocks.

A registry discovers breakers from their events (``BreakerConfigured``, calls, transitions), not
only the ones created through it, and judges each by the thresholds it recorded. With a frozen
clock a breaker's window holds every failure stamped now, and its open timeout never passes
until the clock moves.
"""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time

from ledger import Ledger, open_ledger
from projections import CircuitBreaker, CircuitBreakerConfig, CircuitBreakerRegistry, CircuitState
from tests.conftest import ManualClock, run_in_process, sqlite_url
from tests.projections.guards import mp_workers

OPEN, HALF_OPEN, CLOSED = CircuitState.OPEN, CircuitState.HALF_OPEN, CircuitState.CLOSED
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120.0
T = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def test_a_new_registry_shows_the_breakers_another_one_recorded(ledger: Ledger, clock: ManualClock) -> None:
    first = CircuitBreakerRegistry(ledger=ledger, clock=clock)
    for _ in range(5):
        first.get_breaker("external_api").record_failure()
    first.get_breaker("database").record_success()
    for _ in range(2):
        first.get_breaker(
            "cache", CircuitBreakerConfig(failure_threshold=2, timeout_seconds=10)
        ).record_failure()

    second = CircuitBreakerRegistry(ledger=ledger, clock=clock)
    assert second.get_status() == {"cache": OPEN, "database": CLOSED, "external_api": OPEN}
    assert second.get_open_breakers() == ["cache", "external_api"]

    written = ledger.latest_offset()
    clock.advance(seconds=10)  # cache is judged by its recorded 10 s timeout, not the default 60
    assert second.get_status()["cache"] is HALF_OPEN
    assert second.get_open_breakers() == ["external_api"]
    assert ledger.latest_offset() == written  # reading a breaker it did not create writes nothing


def test_a_breaker_fetched_by_name_decides_with_the_thresholds_it_recorded(
    ledger: Ledger, clock: ManualClock
) -> None:
    CircuitBreakerRegistry(ledger=ledger, clock=clock).get_breaker(
        "cache", CircuitBreakerConfig(failure_threshold=2)
    ).record_failure()

    later = CircuitBreakerRegistry(ledger=ledger, clock=clock).get_breaker("cache")

    assert later.config == CircuitBreakerConfig(failure_threshold=2)
    assert later.record_failure() is OPEN


def test_breakers_created_here_without_events_are_in_the_status_too(ledger: Ledger) -> None:
    registry = CircuitBreakerRegistry(ledger=ledger)
    registry.get_breaker("external_api")
    assert registry.get_status() == {"external_api": CLOSED}
    assert registry.get_open_breakers() == []


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "shared.db")
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.mark.slow
def test_a_registry_in_another_process_shows_the_breakers_this_one_opened(shared_url: str) -> None:
    run_in_process(mp_workers.fail_calls, shared_url, T.isoformat(), 5)

    with open_ledger(shared_url) as ledger:
        registry = CircuitBreakerRegistry(ledger=ledger, clock=lambda: T)
        assert registry.get_status() == {"external_api": OPEN}
        assert registry.get_open_breakers() == ["external_api"]

    results = SPAWN.Queue()
    run_in_process(mp_workers.registry_status, shared_url, T.isoformat(), results)
    assert results.get(timeout=TIMEOUT) == ({"external_api": "open"}, ["external_api"])


# -- frozen clocks ------------------------------------------------------------------------------


def test_with_a_fixed_clock_failures_at_one_instant_open_it_and_it_stays_open() -> None:
    breaker = CircuitBreaker("api", CircuitBreakerConfig(failure_threshold=3), clock=lambda: T)
    for _ in range(2):
        breaker.record_failure()
    assert breaker.state is CLOSED
    assert breaker.status().failures_in_window == 2  # the window ending now holds failures at now

    assert breaker.record_failure() is OPEN
    assert breaker.state is OPEN  # the clock stands still: the timeout never passes
    assert breaker.can_execute() is False
    assert breaker.status().half_open_at == datetime(2025, 1, 1, 12, 1, tzinfo=UTC)
    breaker.close()


def test_under_freezegun_the_timeout_passes_when_the_frozen_clock_moves() -> None:
    with freeze_time("2025-06-01 08:00:00") as frozen:
        registry = CircuitBreakerRegistry()
        api = registry.get_breaker("api", CircuitBreakerConfig(failure_threshold=2, timeout_seconds=30))
        api.record_failure()
        api.record_failure()
        assert registry.get_open_breakers() == ["api"]

        frozen.tick(29)
        assert api.state is OPEN
        frozen.tick(1)  # exactly the timeout: half-open
        assert registry.get_status() == {"api": HALF_OPEN}
        assert api.can_execute() is True
        api.record_success()
        assert api.record_success() is CLOSED
        registry.close()
