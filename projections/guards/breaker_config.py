"""What a circuit breaker is described by: its states, thresholds, status, and the error of a refused call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from ledger import LedgerError

if TYPE_CHECKING:
    from projections.guards.breaker_fold import ConfiguredFields

US = 1_000_000


class CircuitState(StrEnum):
    """Where a breaker is: closed (calls flow), open (calls rejected), half-open (probing)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CircuitBreakerConfig:
    """A breaker's thresholds (the guide's values by default). Frozen: never shared mutably.

    Attributes:
        failure_threshold: failures within ``window_seconds`` that open the breaker.
        success_threshold: successful probes in half-open that close it.
        timeout_seconds: how long it stays open before it is half-open.
        window_seconds: the sliding window failures are counted in.
        half_open_max_calls: probes allowed through at once while half-open.
    """

    failure_threshold: int = 5
    success_threshold: int = 2
    timeout_seconds: float = 60.0
    window_seconds: float = 300.0
    half_open_max_calls: int = 1

    def __post_init__(self) -> None:
        for name in ("failure_threshold", "success_threshold", "half_open_max_calls"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("timeout_seconds", "window_seconds"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    @classmethod
    def from_event(cls, e: ConfiguredFields) -> CircuitBreakerConfig:
        """The config a ``BreakerConfigured`` event records."""
        return cls(
            failure_threshold=e.failure_threshold,
            success_threshold=e.success_threshold,
            timeout_seconds=e.timeout_seconds,
            window_seconds=e.window_seconds,
            half_open_max_calls=e.half_open_max_calls,
        )

    @property
    def timeout_us(self) -> int:
        """``timeout_seconds`` in microseconds."""
        return round(self.timeout_seconds * US)

    @property
    def window_us(self) -> int:
        """``window_seconds`` in microseconds."""
        return round(self.window_seconds * US)


class CircuitOpenError(LedgerError):
    """A call was refused because its breaker is open (or has no free half-open probe)."""

    def __init__(self, name: str, state: CircuitState) -> None:
        self.name = name
        self.state = state
        super().__init__(f"circuit '{name}' is {state.value}: call rejected")


@dataclass(frozen=True)
class BreakerStatus:
    """A breaker's state and counters now."""

    name: str
    state: CircuitState
    since: datetime | None
    half_open_at: datetime | None
    failures_in_window: int
    successes: int
    failures: int
    rejected: int
    transitions: int
