"""A circuit breaker's states and thresholds (what its fold and its decisions are judged by)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

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
