"""Breakers back-tested: the calls a breaker saw (or a tool's calls), re-decided under other thresholds.

The collector keeps, for each breaker asked about, its calls in ledger order — a recorded
breaker's ``BreakerCallRecorded`` outcomes, or a tool's ``ToolCalled`` outcomes with their
latency and the cost recorded for them — plus the thresholds it recorded and the transitions it
made. :func:`simulate` then runs the breaker's own rules (``BreakerCore``, ``due_transition``,
``outcome_transition``: the functions a live breaker decides with) over those calls: each
transition with its time, the calls it would have refused split by what they did in reality,
and the time it takes to open after each real outage begins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import msgspec

from ledger import CostIncurred, ToolCalled, from_epoch_us
from projections.fold import Handler, fields_of
from projections.guards import (
    BREAKER_STRUCTS,
    BreakerCore,
    CircuitBreakerConfig,
    CircuitState,
    due_transition,
    outcome_transition,
)
from replay.backtest.config import OUTAGE_MIN_FAILURES, BreakerSetting
from replay.backtest.scan import Collector, ReplayWorkflows

SUCCESS, FAILURE, REJECTED = 0, 1, 2
_OUTCOMES = {"success": SUCCESS, "failure": FAILURE, "rejected": REJECTED}


@fields_of(ToolCalled)
class ToolOutcomeFields(msgspec.Struct, frozen=True):
    """What a breaker back-test reads of a ``ToolCalled``."""

    tool: str
    success: bool = True
    duration_ms: float | None = None
    workflow_id: str | None = None
    agent: str | None = None


@fields_of(CostIncurred)
class ToolCostFields(msgspec.Struct, frozen=True):
    """What a breaker back-test reads of a ``CostIncurred`` (a tool's cost)."""

    tool: str | None = None
    status: str = "priced"
    amount: str | int | float | None = None
    workflow_id: str | None = None


@dataclass
class Calls:
    """One breaker's (or tool's) calls in ledger order, and what was recorded about it."""

    times: list[int] = field(default_factory=list)
    outcomes: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)  # tools only; 0 when not recorded
    cost: list[Decimal] = field(default_factory=list)  # tools only
    configs: list[CircuitBreakerConfig | None] = field(default_factory=list)  # in force at each call
    transitions: list[tuple[int, str, str]] = field(default_factory=list)  # recorded (t, from, to)
    recorded: CircuitBreakerConfig | None = None  # the latest BreakerConfigured
    from_tool: bool = False


class BreakerCollector(Collector):
    """The calls of the breakers (or tools) asked about, and the names of all of them."""

    name = "backtest_breakers"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        **BREAKER_STRUCTS,
        "ToolCalled": ToolOutcomeFields,
        "CostIncurred": ToolCostFields,
    }

    def __init__(self, names: set[str] | None = None, replays: ReplayWorkflows | None = None) -> None:
        super().__init__()
        self.wanted = names or set()
        self.replays = replays
        self.breakers: dict[str, Calls] = {}
        self.tools: dict[str, Calls] = {}
        self.breaker_names: set[str] = set()
        self.tool_names: set[str] = set()
        self._last_call: dict[tuple[str, str | None], int] = {}  # (tool, workflow) → call index

    def _handlers(self) -> dict[str, Handler]:
        return {
            "BreakerCallRecorded": self._call,
            "BreakerConfigured": self._configured,
            "CircuitTransitioned": self._transition,
            "ToolCalled": self._tool,
            "CostIncurred": self._cost,
        }

    def _calls(self, name: str) -> Calls | None:
        self.breaker_names.add(name)
        if name not in self.wanted:
            return None
        calls = self.breakers.get(name)
        if calls is None:
            calls = self.breakers[name] = Calls()
        return calls

    def _call(self, t: int, e: Any) -> None:
        calls = self._calls(e.breaker)
        if calls is not None:
            calls.times.append(t)
            calls.outcomes.append(_OUTCOMES[e.outcome])
            calls.configs.append(calls.recorded)

    def _configured(self, t: int, e: Any) -> None:
        calls = self._calls(e.breaker)
        if calls is not None:
            calls.recorded = CircuitBreakerConfig.from_event(e)

    def _transition(self, t: int, e: Any) -> None:
        calls = self._calls(e.breaker)
        if calls is not None:
            calls.transitions.append((t, _from_state(calls, e), e.to_state))

    def _skipped(self, workflow_id: str | None) -> bool:
        return self.replays is not None and workflow_id is not None and workflow_id in self.replays.ids

    def _tool(self, t: int, e: ToolOutcomeFields) -> None:
        self.tool_names.add(e.tool)
        if e.tool not in self.wanted or self._skipped(e.workflow_id):
            return
        calls = self.tools.get(e.tool)
        if calls is None:
            calls = self.tools[e.tool] = Calls(from_tool=True)
        self._last_call[e.tool, e.workflow_id] = len(calls.times)
        calls.times.append(t)
        calls.outcomes.append(SUCCESS if e.success else FAILURE)
        calls.latency_ms.append(0.0 if e.duration_ms is None else float(e.duration_ms))
        calls.cost.append(Decimal(0))
        calls.configs.append(None)

    def _cost(self, t: int, e: Any) -> None:
        # A tool's cost belongs to its latest call in the same workflow (costs name the tool,
        # not the call): what refusing that call would have saved.
        tool = e.tool
        if tool is None or tool not in self.tools or e.status != "priced" or e.amount is None:
            return
        i = self._last_call.get((tool, e.workflow_id))
        if i is not None:
            calls = self.tools[tool]
            calls.cost[i] += Decimal(str(e.amount))

    def calls_of(self, name: str) -> Calls | None:
        """The calls of a recorded breaker of that name, else of a tool of that name."""
        return self.breakers.get(name) or self.tools.get(name)


def _from_state(calls: Calls, e: Any) -> str:
    # TransitionFields reads only the target; the source is the previous target (closed first).
    return calls.transitions[-1][2] if calls.transitions else "closed"


@dataclass(frozen=True)
class BreakerOutcome:
    """What a breaker would have done over the window, beside what happened.

    Attributes:
        name: the breaker (or tool).
        source: ``breaker`` (its recorded calls) or ``tool`` (the tool's calls, no breaker).
        config: the thresholds decided with (``None``: as recorded, changing when they did).
        calls: calls seen.
        transitions: ``(time, from, to, reason)`` of each transition it would have made.
        recorded_transitions: ``(time, from, to)`` of each transition recorded in the window.
        refused: calls it would have refused.
        failures_avoided: refused calls that failed in reality.
        latency_saved_ms: their recorded latency.
        cost_saved: the cost recorded for them.
        useful_lost: refused calls that succeeded in reality.
        refused_anyway: refused calls that were refused in reality too.
        let_through_unknown: calls refused in reality that it would have let through (their
            outcome is unknown: they never ran).
        recorded_rejections: calls refused in reality.
        outages: runs of at least ``OUTAGE_MIN_FAILURES`` consecutive failed calls.
        detected: those it opened during.
        detect_seconds: for each outage, seconds from its first failure to the opening
            (``None``: not detected).
    """

    name: str
    source: str
    config: CircuitBreakerConfig | None
    calls: int
    transitions: tuple[tuple[int, str, str, str], ...]
    recorded_transitions: tuple[tuple[int, str, str], ...]
    refused: int
    failures_avoided: int
    latency_saved_ms: float
    cost_saved: Decimal
    useful_lost: int
    refused_anyway: int
    let_through_unknown: int
    recorded_rejections: int
    outages: int
    detected: int
    detect_seconds: tuple[float | None, ...]

    @property
    def opened(self) -> int:
        """Times it would have opened."""
        return sum(1 for t in self.transitions if t[2] == "open")

    @property
    def same_as_recorded(self) -> bool:
        """Whether it makes exactly the recorded transitions (times and states)."""
        return [t[:3] for t in self.transitions] == list(self.recorded_transitions)

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON (times ISO 8601, money a decimal string)."""
        delays = [d for d in self.detect_seconds if d is not None]
        return {
            "name": self.name,
            "source": self.source,
            "config": None if self.config is None else _config_json(self.config),
            "calls": self.calls,
            "opened": self.opened,
            "transitions": [
                {"at": from_epoch_us(t).isoformat(), "from": a, "to": b, "reason": r}
                for t, a, b, r in self.transitions
            ],
            "recorded_transitions": [
                {"at": from_epoch_us(t).isoformat(), "from": a, "to": b}
                for t, a, b in self.recorded_transitions
            ],
            "same_as_recorded": self.same_as_recorded,
            "refused": self.refused,
            "failures_avoided": self.failures_avoided,
            "latency_saved_ms": self.latency_saved_ms,
            "cost_saved": str(self.cost_saved),
            "useful_lost": self.useful_lost,
            "refused_anyway": self.refused_anyway,
            "let_through_unknown": self.let_through_unknown,
            "recorded_rejections": self.recorded_rejections,
            "outages": self.outages,
            "outages_detected": self.detected,
            "detect_seconds": list(self.detect_seconds),
            "mean_detect_seconds": sum(delays) / len(delays) if delays else None,
        }


def _config_json(c: CircuitBreakerConfig) -> dict[str, float]:
    return {
        "failure_threshold": c.failure_threshold,
        "success_threshold": c.success_threshold,
        "timeout_seconds": c.timeout_seconds,
        "window_seconds": c.window_seconds,
        "half_open_max_calls": c.half_open_max_calls,
    }


def simulate(name: str, calls: Calls, setting: BreakerSetting) -> BreakerOutcome:
    """Run the breaker's rules over ``calls`` with the setting's thresholds.

    Without overrides a recorded breaker decides each call with the thresholds it had recorded
    by then (so the recorded configuration reproduces the recorded transitions); a tool, which
    had no breaker, with the defaults. Overrides apply on top of the latest recorded thresholds.
    """
    fixed = None
    if setting.overrides or calls.from_tool or calls.recorded is None:
        fixed = setting.config(calls.recorded or CircuitBreakerConfig())
    core = BreakerCore()
    transitions: list[tuple[int, str, str, str]] = []
    admitted = [False] * len(calls.times)

    def move(tr: Any) -> None:
        nonlocal core
        transitions.append((tr.at_us, tr.from_state.value, tr.to_state.value, tr.reason))
        core = core.entered(tr.to_state, tr.at_us)

    default = CircuitBreakerConfig()
    for i, (t, outcome) in enumerate(zip(calls.times, calls.outcomes, strict=True)):
        config = fixed or calls.configs[i] or calls.recorded or default
        due = due_transition(core, config, t)
        if due is not None:
            move(due)
        if core.state is CircuitState.HALF_OPEN:
            if core.probes_out(t, config) >= config.half_open_max_calls:
                continue
            core = core.probe_started(t, config)
        elif core.state is CircuitState.OPEN:
            continue
        admitted[i] = True
        if outcome == REJECTED:
            continue  # never ran in reality: its outcome is unknown, and so is the state after it
        word = "success" if outcome == SUCCESS else "failure"
        core = core.called(word, t, config)
        tr = outcome_transition(core, config, word, t)
        if tr is not None:
            move(tr)
    return _outcome(name, calls, fixed, transitions, admitted)


def _outcome(
    name: str,
    calls: Calls,
    fixed: CircuitBreakerConfig | None,
    transitions: list[tuple[int, str, str, str]],
    admitted: list[bool],
) -> BreakerOutcome:
    refused = [i for i, ok in enumerate(admitted) if not ok]
    avoided = [i for i in refused if calls.outcomes[i] == FAILURE]
    delays = _detection(calls, transitions)
    return BreakerOutcome(
        name=name,
        source="tool" if calls.from_tool else "breaker",
        config=fixed,
        calls=len(calls.times),
        transitions=tuple(transitions),
        recorded_transitions=tuple(calls.transitions),
        refused=len(refused),
        failures_avoided=len(avoided),
        latency_saved_ms=sum(calls.latency_ms[i] for i in avoided) if calls.latency_ms else 0.0,
        cost_saved=sum((calls.cost[i] for i in avoided), Decimal(0)) if calls.cost else Decimal(0),
        useful_lost=sum(1 for i in refused if calls.outcomes[i] == SUCCESS),
        refused_anyway=sum(1 for i in refused if calls.outcomes[i] == REJECTED),
        let_through_unknown=sum(1 for i, ok in enumerate(admitted) if ok and calls.outcomes[i] == REJECTED),
        recorded_rejections=sum(1 for o in calls.outcomes if o == REJECTED),
        outages=len(delays),
        detected=sum(1 for d in delays if d is not None),
        detect_seconds=tuple(delays),
    )


def _detection(calls: Calls, transitions: list[tuple[int, str, str, str]]) -> list[float | None]:
    """Seconds from each outage's first failure to the first opening before it ended."""
    runs: list[tuple[int, int]] = []  # (first failure, end: the next success, or the last failure)
    start: int | None = None
    count = 0
    last = 0
    for t, outcome in zip(calls.times, calls.outcomes, strict=True):
        if outcome == FAILURE:
            start = t if start is None else start
            count += 1
            last = t
        elif outcome == SUCCESS:
            if start is not None and count >= OUTAGE_MIN_FAILURES:
                runs.append((start, t))
            start, count = None, 0
    if start is not None and count >= OUTAGE_MIN_FAILURES:
        runs.append((start, last))
    opens = [t for t, _, to, _ in transitions if to == "open"]
    out: list[float | None] = []
    for first, end in runs:
        hit = next((t for t in opens if first <= t <= end), None)
        out.append(None if hit is None else (hit - first) / 1_000_000)
    return out
