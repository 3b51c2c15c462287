"""Code run in spawned processes by the multi-process breaker test (importable by ``spawn``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class Queue(Protocol):
    def put(self, obj: Any) -> None: ...


def fail_calls(url: str, at: str, failures: int) -> None:
    """Record ``failures`` failed calls of breaker ``external_api`` at the fixed time ``at``."""
    from projections import CircuitBreaker, SQLMetricStorage

    now = datetime.fromisoformat(at)
    storage = SQLMetricStorage(url, clock=lambda: now)
    try:
        breaker = CircuitBreaker("external_api", storage=storage, clock=lambda: now)
        for _ in range(failures):
            breaker.record_failure()
    finally:
        storage.close()


def probe_twice(url: str, at: str, results: Queue) -> None:
    """At ``at``: read the state, then probe and succeed twice; put what was seen."""
    from projections import CircuitBreaker, SQLMetricStorage

    now = datetime.fromisoformat(at)
    storage = SQLMetricStorage(url, clock=lambda: now)
    try:
        breaker = CircuitBreaker("external_api", storage=storage, clock=lambda: now)
        seen: list[Any] = [breaker.state.value]
        for _ in range(2):
            seen.append(breaker.can_execute())
            seen.append(breaker.record_success().value)
        results.put(seen)
    finally:
        storage.close()


def try_probe(url: str, at: str, start: Any, results: Queue) -> None:
    """At ``at``, once ``start`` (a barrier) lets go: ask breaker ``external_api`` for one call."""
    from projections import CircuitBreaker, SQLMetricStorage

    now = datetime.fromisoformat(at)
    storage = SQLMetricStorage(url, clock=lambda: now)
    try:
        breaker = CircuitBreaker("external_api", storage=storage, clock=lambda: now)
        breaker.state  # noqa: B018 - fold the stream before the race starts
        start.wait(30)
        results.put(breaker.can_execute())
    finally:
        storage.close()


def registry_status(url: str, at: str, results: Queue) -> None:
    """Put what a fresh registry on ``url`` reports at ``at``: (state by name, open names)."""
    from projections import CircuitBreakerRegistry, SQLMetricStorage

    now = datetime.fromisoformat(at)
    storage = SQLMetricStorage(url, clock=lambda: now)
    try:
        registry = CircuitBreakerRegistry(storage=storage, clock=lambda: now)
        status = {name: state.value for name, state in registry.get_status().items()}
        results.put((status, registry.get_open_breakers()))
    finally:
        storage.close()
