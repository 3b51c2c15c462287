"""Named circuit breakers on one ledger and clock: one breaker per name, one config per breaker."""

from __future__ import annotations

from ledger import Clock, Ledger, utc_now
from projections.fold.bound import Bound
from projections.fold.storage import MetricStorage
from projections.guards.breaker_config import CircuitBreakerConfig, CircuitState
from projections.guards.breakers import CircuitBreaker


class CircuitBreakerRegistry(Bound):
    """Named breakers on one ledger and clock (the guide's "Circuit Breaker Registry").

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger the breakers share (default: an in-memory one).
        clock: the breakers' clock.
        default_config: the config of breakers created without one.
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        default_config: CircuitBreakerConfig | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.default_config = default_config or CircuitBreakerConfig()
        self._breakers: dict[str, CircuitBreaker] = {}

    def get_breaker(
        self, name: str, config: CircuitBreakerConfig | None = None, *, tool: str | None = None
    ) -> CircuitBreaker:
        """Return the breaker called ``name``, creating it the first time.

        Asking again with a different config is an error: one name, one set of thresholds.
        """
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                breaker = CircuitBreaker(
                    name, config or self.default_config, ledger=self.ledger, clock=self.clock, tool=tool
                )
                self._breakers[name] = breaker
            elif config is not None and config != breaker.config:
                raise ValueError(f"breaker '{name}' exists with another config: {breaker.config}")
            return breaker

    @property
    def breakers(self) -> dict[str, CircuitBreaker]:
        """The breakers created so far, by name."""
        with self._lock:
            return dict(self._breakers)

    def get_status(self) -> dict[str, CircuitState]:
        """Return each breaker's current state (timeouts applied), by name."""
        return {name: b.state for name, b in sorted(self.breakers.items())}

    def get_open_breakers(self) -> list[str]:
        """Return the names of the breakers open now (after applying timeouts)."""
        return [name for name, state in self.get_status().items() if state is CircuitState.OPEN]
