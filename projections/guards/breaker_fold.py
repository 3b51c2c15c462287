"""The circuit breaker's state machine as a deterministic fold of its events.

A breaker's stream (``breaker:<name>``) holds its calls (``BreakerCallRecorded``: success,
failure, rejected), the probes it let through while half-open (``BreakerProbeStarted``), its
transitions (``CircuitTransitioned``) and the thresholds it decided with (``BreakerConfigured``).
Transitions are explicit events, so the state is whatever the last transition says; the fold
keeps what the next decision needs — the recent failures while closed, the probes out and the
successful ones while half-open — and the counters.

The rules (``docs/semantics.md``, Circuit breakers): ``failure_threshold`` failures within
``window_seconds`` open the breaker; ``timeout_seconds`` after opening it is half-open;
``success_threshold`` successes in half-open close it; any failure in half-open reopens it.
The functions below decide those transitions from a state, a call and a time; they are pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import BreakerCallRecorded, BreakerConfigured, BreakerProbeStarted, CircuitTransitioned
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection
from projections.guards.breaker_config import CircuitBreakerConfig, CircuitState


@fields_of(BreakerCallRecorded)
class CallFields(msgspec.Struct, frozen=True):
    """What the breaker fold reads of a ``BreakerCallRecorded``."""

    breaker: str
    outcome: str
    event_id: UUID


@fields_of(BreakerProbeStarted)
class ProbeFields(msgspec.Struct, frozen=True):
    """What the breaker fold reads of a ``BreakerProbeStarted``."""

    breaker: str


@fields_of(BreakerConfigured)
class ConfiguredFields(msgspec.Struct, frozen=True):
    """What the breaker fold reads of a ``BreakerConfigured``."""

    breaker: str
    failure_threshold: int
    success_threshold: int
    timeout_seconds: float
    window_seconds: float
    half_open_max_calls: int


@fields_of(CircuitTransitioned)
class TransitionFields(msgspec.Struct, frozen=True):
    """What the breaker fold reads of a ``CircuitTransitioned``."""

    breaker: str
    to_state: str


BreakerEventFields = CallFields | ProbeFields | ConfiguredFields | TransitionFields
BREAKER_STRUCTS: dict[str, type[msgspec.Struct]] = {
    "BreakerCallRecorded": CallFields,
    "BreakerProbeStarted": ProbeFields,
    "BreakerConfigured": ConfiguredFields,
    "CircuitTransitioned": TransitionFields,
}
"""The struct each of a breaker's event types is decoded into."""


@dataclass(frozen=True)
class Core:
    """The part of a breaker's state its transitions depend on.

    Attributes:
        state: the current state.
        since_us: when it entered that state (``None``: closed since the beginning).
        recent_failures: times of the latest failures while closed (at most the threshold).
        probe_successes: successful calls since it became half-open.
        probes: start times of the probes let through in this half-open period whose outcome
            has not come back (an outcome returns the oldest one's permit).
    """

    state: CircuitState = CircuitState.CLOSED
    since_us: int | None = None
    recent_failures: tuple[int, ...] = ()
    probe_successes: int = 0
    probes: tuple[int, ...] = ()

    def entered(self, state: CircuitState, at_us: int) -> Core:
        """Return the state after a transition to ``state`` at ``at_us`` (counts start afresh)."""
        return Core(state, at_us)

    def called(self, outcome: str, at_us: int, config: CircuitBreakerConfig) -> Core:
        """Return the state after a call's outcome, before any transition it causes."""
        if outcome == "failure" and self.state is CircuitState.CLOSED:
            kept = (*self.recent_failures, at_us)[-config.failure_threshold :]
            return replace(self, recent_failures=kept)
        if self.state is CircuitState.HALF_OPEN and outcome in ("success", "failure"):
            # The outcome returns the oldest live probe's permit: lapsed ones are gone already
            # (dropping a lapsed one instead would keep a returned permit out).
            return replace(
                self,
                probe_successes=self.probe_successes + (outcome == "success"),
                probes=self._live_probes(at_us, config)[1:],
            )
        return self

    def probe_started(self, at_us: int, config: CircuitBreakerConfig) -> Core:
        """Return the state after a probe was let through at ``at_us``."""
        return replace(self, probes=(*self._live_probes(at_us, config), at_us))

    def _live_probes(self, at_us: int, config: CircuitBreakerConfig) -> tuple[int, ...]:
        return tuple(t for t in self.probes if at_us - t < config.timeout_us)

    def probes_out(self, at_us: int, config: CircuitBreakerConfig) -> int:
        """Probes still out at ``at_us``; one whose outcome never came back lapses after the
        timeout (its caller may have crashed)."""
        return len(self._live_probes(at_us, config))

    def failures_in_window(self, at_us: int, config: CircuitBreakerConfig) -> int:
        """Failures at or after ``at_us - window`` (the sliding window ending at ``at_us``)."""
        start = at_us - config.window_us
        return sum(1 for t in self.recent_failures if start <= t <= at_us)

    def half_open_at(self, config: CircuitBreakerConfig) -> int | None:
        """When an open breaker becomes half-open (``None`` unless open)."""
        if self.state is not CircuitState.OPEN or self.since_us is None:
            return None
        return self.since_us + config.timeout_us


@dataclass(frozen=True)
class Transition:
    """A decided transition, to be appended as a ``CircuitTransitioned`` event."""

    from_state: CircuitState
    to_state: CircuitState
    at_us: int
    reason: str


def half_open_due(core: Core, config: CircuitBreakerConfig, now_us: int) -> int | None:
    """When an open breaker became due to half-open, if its timeout has passed by ``now_us``.

    The one statement of the rule: a breaker, a monitor and ``rledger breakers`` all judge an
    open breaker by it. ``None``: not open, or open but not yet for ``timeout_seconds``.
    """
    due = core.half_open_at(config)
    return None if due is None or now_us < due else due


def due_transition(core: Core, config: CircuitBreakerConfig, now_us: int) -> Transition | None:
    """The open → half-open move once the timeout has passed (stamped when it became due)."""
    due = half_open_due(core, config, now_us)
    if due is None:
        return None
    return Transition(CircuitState.OPEN, CircuitState.HALF_OPEN, due, f"open for {config.timeout_seconds:g}s")


def outcome_transition(
    core: Core, config: CircuitBreakerConfig, outcome: str, at_us: int
) -> Transition | None:
    """The transition a call's outcome causes; ``core`` already includes the call."""
    if core.state is CircuitState.CLOSED and outcome == "failure":
        failures = core.failures_in_window(at_us, config)
        if failures >= config.failure_threshold:
            return Transition(
                CircuitState.CLOSED,
                CircuitState.OPEN,
                at_us,
                f"{failures} failures within {config.window_seconds:g}s",
            )
    if core.state is CircuitState.HALF_OPEN:
        if outcome == "failure":
            return Transition(CircuitState.HALF_OPEN, CircuitState.OPEN, at_us, "a probe failed")
        if outcome == "success" and core.probe_successes >= config.success_threshold:
            return Transition(
                CircuitState.HALF_OPEN,
                CircuitState.CLOSED,
                at_us,
                f"{core.probe_successes} successful probes",
            )
    return None


@dataclass
class BreakerFold:
    """One breaker's folded stream: its core state, counters, and where the fold is."""

    config: CircuitBreakerConfig = field(default_factory=CircuitBreakerConfig)
    core: Core = field(default_factory=Core)
    successes: int = 0
    failures: int = 0
    rejected: int = 0
    transitions: int = 0
    version: int = 0
    call_ids: set[UUID] | None = None  # kept only when outcomes are mirrored from tool calls
    recorded: CircuitBreakerConfig | None = None  # the latest BreakerConfigured, if any
    adopt_recorded: bool = False  # judge by the recorded config (readers) or keep ``config`` (a breaker)

    def apply_call(self, t_us: int, outcome: str, event_id: UUID) -> None:
        """Fold a ``BreakerCallRecorded``."""
        if outcome == "success":
            self.successes += 1
        elif outcome == "failure":
            self.failures += 1
        else:
            self.rejected += 1
        self.core = self.core.called(outcome, t_us, self.config)
        if self.call_ids is not None:
            self.call_ids.add(event_id)

    def apply_probe(self, t_us: int) -> None:
        """Fold a ``BreakerProbeStarted``."""
        self.core = self.core.probe_started(t_us, self.config)

    def apply_transition(self, t_us: int, to_state: str) -> None:
        """Fold a ``CircuitTransitioned``."""
        self.transitions += 1
        self.core = self.core.entered(CircuitState(to_state), t_us)

    def apply(self, t_us: int, e: BreakerEventFields) -> None:
        """Fold one of the breaker's events (decoded into its struct, :data:`BREAKER_STRUCTS`)."""
        if isinstance(e, CallFields):
            self.apply_call(t_us, e.outcome, e.event_id)
        elif isinstance(e, ProbeFields):
            self.apply_probe(t_us)
        elif isinstance(e, ConfiguredFields):
            self.recorded = CircuitBreakerConfig.from_event(e)
            if self.adopt_recorded:
                self.config = self.recorded
        else:
            self.apply_transition(t_us, e.to_state)

    def to_json(self) -> list[Any]:
        """Return the fold as JSON (without the config, which is not in the events)."""
        c = self.core
        return [
            c.state.value,
            c.since_us,
            list(c.recent_failures),
            c.probe_successes,
            list(c.probes),
            self.successes,
            self.failures,
            self.rejected,
            self.transitions,
            self.version,
            None if self.recorded is None else dataclasses.asdict(self.recorded),
        ]

    @classmethod
    def from_json(cls, data: list[Any], config: CircuitBreakerConfig) -> BreakerFold:
        """Restore a fold saved by :meth:`to_json`."""
        state, since, recent, successes, probes, ok, failed, rejected, transitions, version, recorded = data
        core = Core(CircuitState(state), since, tuple(recent), successes, tuple(probes))
        fold = cls(config, core, ok, failed, rejected, transitions, version)
        if recorded is not None:
            fold.recorded = CircuitBreakerConfig(**recorded)
        return fold


class BreakerProjection(Projection):
    """Every breaker in the ledger, folded by name (what ``rledger breakers`` shows).

    Each breaker is judged by the thresholds it recorded (``BreakerConfigured``); ``config``
    (the defaults unless given) serves breakers that recorded none.
    """

    name = "breakers"
    version = 3  # 2: probes out are part of the state; 3: recorded configs
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = BREAKER_STRUCTS

    def __init__(self, config: CircuitBreakerConfig | None = None) -> None:
        super().__init__()
        self.config = config or CircuitBreakerConfig()
        self.breakers: dict[str, BreakerFold] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {
            "BreakerCallRecorded": self._event,
            "BreakerConfigured": self._event,
            "BreakerProbeStarted": self._event,
            "CircuitTransitioned": self._event,
        }

    def _event(self, t: int, e: BreakerEventFields) -> None:
        fold = self.breakers.get(e.breaker)
        if fold is None:
            fold = self.breakers[e.breaker] = BreakerFold(self.config, adopt_recorded=True)
        fold.version += 1
        fold.apply(t, e)

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        return {"breakers": {n: f.to_json() for n, f in sorted(self.breakers.items())}}, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.breakers = {}
        for n, d in meta["breakers"].items():
            fold = BreakerFold.from_json(d, self.config)
            fold.adopt_recorded = True
            fold.config = fold.recorded or self.config
            self.breakers[n] = fold
