"""Named circuit breakers on one ledger and clock: one breaker per name, one config per breaker.

The registry knows every breaker in the ledger, not only those created through it: it folds the
breakers' events (:class:`BreakerProjection`), so a registry in a second process reports the
breakers the first one recorded, each judged by the thresholds it recorded.
"""

from __future__ import annotations

from ledger import Clock, Ledger, to_epoch_us, utc_now
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.guards.breaker_config import CircuitBreakerConfig, CircuitState
from projections.guards.breaker_fold import BreakerFold, BreakerProjection, half_open_due
from projections.guards.breakers import CircuitBreaker


class CircuitBreakerRegistry(Bound):
    """Named breakers on one ledger and clock (the guide's "Circuit Breaker Registry").

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger the breakers share (default: an in-memory one).
        clock: the breakers' clock.
        default_config: the config of breakers created without one that recorded none.
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
        self._recorded = BreakerProjection(self.default_config)

    def _in_ledger(self) -> dict[str, BreakerFold]:
        """Every breaker the ledger holds events of, folded up to now, by name."""
        with self._lock:
            fold_new(self.ledger, self._recorded)
            return dict(self._recorded.breakers)

    def get_breaker(
        self, name: str, config: CircuitBreakerConfig | None = None, *, tool: str | None = None
    ) -> CircuitBreaker:
        """Return the breaker called ``name``, creating it the first time.

        Created without ``config``, it decides with the thresholds a breaker of that name recorded
        in the ledger (in any process), else with ``default_config``. Asking again with a
        different config is an error: one name, one set of thresholds.
        """
        with self._lock:
            breaker = self._breakers.get(name)
            if breaker is None:
                if config is None:
                    fold = self._in_ledger().get(name)
                    config = fold.recorded if fold is not None else None
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
        """Return the current state (timeouts applied) of every breaker, by name.

        Every breaker: those created here (whose ``state`` may record an overdue move to
        half-open, as reading a breaker does) and every other one the ledger holds events of,
        judged by its recorded thresholds without writing anything (an open one past its timeout
        shows as half-open; its next decision records the move).
        """
        made = self.breakers
        status = {name: b.state for name, b in made.items()}
        now_us = to_epoch_us(self.now())
        for name, fold in self._in_ledger().items():
            if name not in made:
                core = fold.core
                due = core.state is CircuitState.OPEN and half_open_due(core, fold.config, now_us) is not None
                status[name] = CircuitState.HALF_OPEN if due else core.state
        return dict(sorted(status.items()))

    def get_open_breakers(self) -> list[str]:
        """Return the names of the breakers open now (after applying timeouts)."""
        return [name for name, state in self.get_status().items() if state is CircuitState.OPEN]
