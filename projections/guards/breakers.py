"""Circuit breakers bound to the ledger: shared state, bounded probes, every call and transition an event.

Before every decision a breaker folds its stream (``breaker:<name>``) from the ledger, then appends
what it decided — calls, rejections, transitions — with the stream version it decided on
(optimistic concurrency), preceded by the thresholds it decides with (``BreakerConfigured``) when
the stream does not hold those yet. So breakers of one name on one ledger, in any process, share
one state: a breaker opened in one process is open in every other, and a decision made on a stale
state is retried on the fresh one. ``state`` is always current: an open breaker whose timeout has passed
becomes half-open when it is read (the transition is stamped with the time it became due).

Half-open probes are bounded by ``half_open_max_calls`` across every process sharing the ledger:
each probe let through is a ``BreakerProbeStarted`` event appended at the version the decision
was made on, so two processes cannot both take the last permit. A probe permit is returned by
``record_success``/``record_failure``, or lapses after ``timeout_seconds`` if its outcome is never
recorded. A breaker made with ``tool=`` takes its outcomes from the
ledger's ``ToolCalled`` events for that tool (mirrored once, under ids derived from the tool
calls' ids, so processes mirroring the same call write it once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar
from uuid import NAMESPACE_URL, UUID, uuid5

import msgspec

from ledger import (
    BreakerCallRecorded,
    BreakerConfigured,
    BreakerProbeStarted,
    CircuitTransitioned,
    Clock,
    Ledger,
    LedgerError,
    LedgerEvent,
    ReadQuery,
    ToolCalled,
    VersionConflictError,
    from_epoch_us,
    new_event_id,
    to_epoch_us,
    utc_now,
)
from projections.fold.bound import Bound
from projections.fold.event_schema import fields_of
from projections.fold.projection import struct_decoder
from projections.fold.storage import MetricStorage
from projections.guards.breaker_config import (
    BreakerStatus,
    CircuitBreakerConfig,
    CircuitOpenError,
    CircuitState,
)
from projections.guards.breaker_fold import (
    BREAKER_STRUCTS,
    BreakerFold,
    Transition,
    due_transition,
    outcome_transition,
)

T = TypeVar("T")
Outcome = Literal["success", "failure"]
CallOutcome = Literal["success", "failure", "rejected"]
Decision = tuple[list[LedgerEvent], T]

MAX_ATTEMPTS = 100


@fields_of(ToolCalled)
class ToolCallFields(msgspec.Struct, frozen=True):
    """What a breaker mirroring a tool reads of its ``ToolCalled`` events."""

    event_id: str
    tool: str
    success: bool = True


_decode_tool_call = msgspec.json.Decoder(ToolCallFields).decode


class CircuitBreaker(Bound):
    """A circuit breaker whose state lives in the ledger (the guide's "Circuit Breakers").

    Args:
        name: the breaker's name (its stream is ``breaker:<name>``).
        config: thresholds (:class:`CircuitBreakerConfig`; the guide's defaults).
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger holding the breaker's events (default: an in-memory one).
        clock: the time decisions are made at.
        tool: take outcomes from ``ToolCalled`` events of this tool instead of ``record_*``.
    """

    def __init__(
        self,
        name: str,
        config: CircuitBreakerConfig | None = None,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        tool: str | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.name = name
        self.config = config or CircuitBreakerConfig()
        self.tool = tool
        self._stream = f"breaker:{name}"
        self._fold = BreakerFold(self.config, call_ids=set() if tool else None)
        self._offset = 0
        self._tool_offset = 0

    # -- the guide's API ----------------------------------------------------------------------

    @property
    def state(self) -> CircuitState:
        """The current state (an open breaker past its timeout is half-open now)."""
        with self._lock:
            self._mirror_tool_calls()
            self._transact(lambda fold, now: (self._due(fold, now)[0], None))
            return self._fold.core.state

    def can_execute(self) -> bool:
        """Return whether a call may go ahead now; a refusal is recorded as a rejected call."""
        with self._lock:
            self._mirror_tool_calls()
            return self._transact(self._decide_call)

    def record_success(self) -> CircuitState:
        """Record a successful call; return the state after it."""
        return self._record("success")

    def record_failure(self) -> CircuitState:
        """Record a failed call; return the state after it."""
        return self._record("failure")

    # -- conveniences -------------------------------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` through the breaker: refused with :class:`CircuitOpenError`, outcome recorded."""
        if not self.can_execute():
            raise CircuitOpenError(self.name, self._fold.core.state)
        try:
            result = fn(*args, **kwargs)
        except Exception:
            self.record_failure()
            raise
        self.record_success()
        return result

    def reset(self, reason: str = "reset by hand") -> None:
        """Close the breaker now, whatever its state (recorded as a transition)."""

        def decide(fold: BreakerFold, now: int) -> Decision[None]:
            if fold.core.state is CircuitState.CLOSED:
                return [], None
            return [self._event(Transition(fold.core.state, CircuitState.CLOSED, now, reason))], None

        with self._lock:
            self._transact(decide)

    def status(self) -> BreakerStatus:
        """Return the state (timeouts applied) and the counters."""
        with self._lock:
            state = self.state
            fold = self._fold
            due = fold.core.half_open_at(self.config)
            return BreakerStatus(
                name=self.name,
                state=state,
                since=None if fold.core.since_us is None else from_epoch_us(fold.core.since_us),
                half_open_at=None if due is None else from_epoch_us(due),
                failures_in_window=fold.core.failures_in_window(self._now_us(), self.config),
                successes=fold.successes,
                failures=fold.failures,
                rejected=fold.rejected,
                transitions=fold.transitions,
            )

    # -- deciding -----------------------------------------------------------------------------

    def _now_us(self) -> int:
        return to_epoch_us(self.now())

    def _event(self, t: Transition) -> CircuitTransitioned:
        return CircuitTransitioned(
            breaker=self.name,
            from_state=t.from_state.value,
            to_state=t.to_state.value,
            reason=t.reason,
            occurred_at=from_epoch_us(t.at_us),
        )

    def _call(self, outcome: CallOutcome, at_us: int, event_id: UUID | None = None) -> BreakerCallRecorded:
        return BreakerCallRecorded(
            event_id=event_id or new_event_id(),
            breaker=self.name,
            outcome=outcome,
            occurred_at=from_epoch_us(at_us),
        )

    def _configured(self) -> BreakerConfigured:
        c = self.config
        return BreakerConfigured(
            breaker=self.name,
            failure_threshold=c.failure_threshold,
            success_threshold=c.success_threshold,
            timeout_seconds=c.timeout_seconds,
            window_seconds=c.window_seconds,
            half_open_max_calls=c.half_open_max_calls,
            occurred_at=self.now(),
        )

    def _due(self, fold: BreakerFold, now: int) -> tuple[list[LedgerEvent], BreakerFold]:
        """The overdue open → half-open transition, if any, and the fold as it would be after it."""
        t = due_transition(fold.core, self.config, now)
        if t is None:
            return [], fold
        after = BreakerFold(self.config, fold.core.entered(t.to_state, t.at_us))
        return [self._event(t)], after

    def _decide_call(self, fold: BreakerFold, now: int) -> Decision[bool]:
        events, after = self._due(fold, now)
        core = after.core
        if core.state is CircuitState.CLOSED:
            return events, True
        if (
            core.state is CircuitState.HALF_OPEN
            and core.probes_out(now, self.config) < self.config.half_open_max_calls
        ):
            probe = BreakerProbeStarted(breaker=self.name, occurred_at=from_epoch_us(now))
            return [*events, probe], True
        return [*events, self._call("rejected", now)], False

    def _decide_outcome(
        self, outcome: Outcome, at: int | None = None, event_id: UUID | None = None
    ) -> Callable[[BreakerFold, int], Decision[None]]:
        def decide(fold: BreakerFold, now: int) -> Decision[None]:
            if event_id is not None and fold.call_ids is not None and event_id in fold.call_ids:
                return [], None  # this tool call was mirrored already (by another process)
            when = now if at is None else at
            events, after = self._due(fold, when)
            core = after.core.called(outcome, when, self.config)
            events.append(self._call(outcome, when, event_id))
            t = outcome_transition(core, self.config, outcome, when)
            if t is not None:
                events.append(self._event(t))
            return events, None

        return decide

    def _record(self, outcome: Outcome) -> CircuitState:
        with self._lock:
            self._mirror_tool_calls()
            self._transact(self._decide_outcome(outcome))
            return self._fold.core.state

    def _transact(self, decide: Callable[[BreakerFold, int], Decision[T]]) -> T:
        """Fold, decide, append at the folded version; on a concurrent write, fold again and retry."""
        for _ in range(MAX_ATTEMPTS):
            self._refresh()
            events, result = decide(self._fold, self._now_us())
            if not events:
                return result
            if self._fold.recorded != self.config:
                # The stream's readers judge this breaker by the thresholds it decides with.
                events = [self._configured(), *events]
            try:
                self.ledger.append(events, expected_version=self._fold.version)
            except VersionConflictError:
                continue
            self._refresh()
            return result
        raise LedgerError(f"circuit '{self.name}': no decision after {MAX_ATTEMPTS} conflicting writes")

    # -- folding ------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Fold the breaker's events stored since the last refresh."""
        fold = self._fold
        for row in self.ledger.read_rows(ReadQuery(after=self._offset, stream=self._stream)):
            event = struct_decoder(BREAKER_STRUCTS[row.type])(row.state)
            fold.apply(to_epoch_us(row.occurred_at), event)
            fold.version = row.version
            self._offset = row.offset

    def _mirror_tool_calls(self) -> None:
        """Turn new ``ToolCalled`` events of ``tool`` into this breaker's calls, in ledger order."""
        if self.tool is None:
            return
        target = self.ledger.latest_offset()
        query = ReadQuery(after=self._tool_offset, through=target, types=("ToolCalled",))
        for row in self.ledger.read_rows(query):
            e = _decode_tool_call(row.state)
            if e.tool == self.tool:
                outcome: Outcome = "success" if e.success else "failure"
                mirror_id = uuid5(NAMESPACE_URL, f"rledger:breaker/{self.name}/{e.event_id}")
                self._transact(self._decide_outcome(outcome, to_epoch_us(row.occurred_at), mirror_id))
        self._tool_offset = target
