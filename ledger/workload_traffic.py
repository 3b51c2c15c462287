"""The synthetic traffic's engine: a simulated clock and workflows yielding (event class, fields).

Everything comes from one ``random.Random(seed)`` and the simulated clock, so the same seed
always yields the same pairs; :mod:`ledger.workload` validates them into events. Breaker
transitions are not generated.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Literal

from ledger.event_base import LedgerEvent
from ledger.events import (
    CostIncurred,
    EvidenceCollected,
    HumanIntervened,
    ModeViolated,
    PlanRevised,
    StepRecorded,
    ToolCalled,
    WorkflowCompleted,
    WorkflowStarted,
)
from ledger.workload_vocab import (
    ACTIONS,
    AGENTS,
    DEFAULT_START,
    ERRORS,
    EVIDENCE_TYPES,
    KIND_TABLE,
    MICRO,
    MILLION,
    MODEL_TABLE,
    MODES,
    PRICE_VERSION,
    PRICES,
    TEXT,
    TOOLS,
    Z,
)

__all__ = ["IdFactory", "Made", "Shape", "TrafficGenerator", "Workflow"]

IdFactory = Callable[[int], Any]
"""Turns an event id's 128-bit integer into the value its fields carry (bytes or a UUID)."""
Made = tuple[type[LedgerEvent], dict[str, Any]]
"""One produced event: its class and its not yet validated fields."""


class Workflow:
    """The state of one simulated workflow (only what later events need)."""

    __slots__ = (
        "agents",
        "call_index",
        "compensated",
        "evidence",
        "failures",
        "human",
        "id",
        "length",
        "modes",
        "pending",
        "retries",
        "sent",
        "started_us",
        "steps",
    )

    def __init__(self, rng: random.Random, number: int, now_us: int) -> None:
        self.id = f"wf-{number:x}-{rng.getrandbits(24):06x}"
        self.agents = tuple(rng.sample(AGENTS, 1 + int(rng.random() * 4)))
        self.modes = {a: MODES[int(rng.random() * len(MODES))] for a in self.agents}
        self.length = 20 + int(rng.random() * 181)
        self.sent = 0
        self.started_us = now_us
        self.steps = self.retries = self.failures = self.call_index = 0
        self.human = self.compensated = False
        self.evidence: list[int] = []
        self.pending: list[tuple[str, str]] = []  # follow-ups (kind, agent) owed by earlier events


class Shape:
    """Traffic over real time: a span, a daily pattern, one degrading agent and one incident.

    Without a shape the clock runs at ~200 events/s with constant failure rates (the
    benchmark's traffic). A shape stretches the same gaps (the same random draws, so the same
    events and ids but for times) to spread ``n_events`` over ``span_us``, busier by day (UTC)
    than by night, and moves failure thresholds: ``DEGRADING_AGENT``'s steps fail ever more
    over the last 40 % of the span, and for 2 % of it (about 3 hours of a week) an incident
    makes tools and steps fail often. The last event lands on the span's end (see :meth:`fit`).
    """

    DEGRADING_AGENT = "executor"
    INCIDENT = (0.70, 0.72)
    """The incident's start and end as fractions of the span."""
    FILL = 1.0
    """The share of the span the simulated clock aims to fill. Arrivals are random and where
    they end depends on the daily pattern's phase (hours either way over a week), so the end
    is measured (:meth:`fit`) and the times written are scaled to end on the span's end."""

    def __init__(self, n_events: int, span_us: int, start: datetime) -> None:
        self.span_us = span_us
        self.start_hour = start.hour + start.minute / 60
        self.scale = span_us * self.FILL / (max(n_events, 1) * 5000.0)
        self.pace = 1.0
        """Real microseconds per simulated one, as first measured: the daily pattern, the
        degradation and the incident follow real time, not the simulated clock."""
        self.last_us: int | None = None

    def fit(self, last_us: int) -> None:
        """Scale the times written so that ``last_us``, the simulated clock's last reading, ends the span."""
        self.last_us = max(last_us, 1)

    def real(self, now_us: int) -> int:
        """The time written for the simulated clock's ``now_us`` (microseconds from the start)."""
        return now_us if self.last_us is None else now_us * self.span_us // self.last_us

    def _at(self, now_us: int) -> float:
        return now_us * self.pace / self.span_us

    def stretch(self, gap: float, now_us: int) -> float:
        """The gap at ``now_us``: the mean rate over a day is kept, peaking mid-afternoon UTC."""
        hour = (self.start_hour + now_us * self.pace / 3_600_000_000) % 24
        rate = 1.0 + 0.6 * math.sin(2 * math.pi * (hour - 9) / 24)
        return gap * self.scale / rate

    def _incident(self, now_us: int) -> bool:
        low, high = self.INCIDENT
        return low <= self._at(now_us) < high

    def step_failure(self, agent: str, now_us: int) -> float:
        """The chance a step fails now."""
        if self._incident(now_us):
            return 0.35
        at = self._at(now_us)
        if agent == self.DEGRADING_AGENT and at > 0.6:
            return 0.04 + 0.3 * (at - 0.6) / 0.4
        return 0.04

    def tool_failure(self, now_us: int) -> float:
        """The chance a tool call fails now."""
        return 0.4 if self._incident(now_us) else 0.03


class TrafficGenerator:
    """Produces (event class, fields) pairs; :func:`ledger.workload.generate` validates them.

    ``as_id`` turns an id's 128-bit integer into the value put in the fields; ``shape`` spreads
    the traffic over real time (none: the benchmark's ~200 events/s).

    Raises:
        ValueError: ``active`` is below 1 or ``uuid_version`` is neither 4 nor 7.
    """

    def __init__(
        self,
        seed: int,
        active: int,
        start: datetime | None,
        uuid_version: Literal[4, 7],
        as_id: IdFactory,
        shape: Shape | None = None,
    ) -> None:
        if active < 1:
            raise ValueError("active_workflows must be at least 1")
        if uuid_version not in (4, 7):
            raise ValueError("uuid_version must be 4 or 7")
        self.rng = random.Random(seed)
        self.rand = self.rng.random
        self.start = start if start is not None else DEFAULT_START
        self.start_ms = int(self.start.timestamp() * 1000)
        self.uuid_version = uuid_version
        self.as_id = as_id
        self.now_us = 0
        self.shape = shape
        self.last_id = 0
        self.started = 0
        self.slots = [self._new_workflow() for _ in range(active)]
        self.makers: dict[str, Callable[[Workflow, str, dict[str, Any]], type[LedgerEvent]]]
        self.makers = {
            "step": self._step,
            "tool": self._tool,
            "cost": self._cost,
            "evidence": self._evidence,
            "replan": self._replan,
            "human": self._human,
            "violation": self._violation,
        }

    def _new_workflow(self) -> Workflow:
        self.started += 1
        return Workflow(self.rng, self.started, self.now_us)

    def _id(self) -> int:
        if self.uuid_version == 4:
            value = self.rng.getrandbits(128)
            return (value & ~(0xF << 76) & ~(0b11 << 62)) | 0x4 << 76 | 0b10 << 62
        # The layout of ledger.timeutil.new_event_id, stamped with the simulated clock.
        ms = self.start_ms + self._real(self.now_us) // 1000
        rand = self.rng.getrandbits(74)
        return (
            (ms & 0xFFFFFFFFFFFF) << 80
            | 0x7 << 76
            | (rand >> 62) << 64
            | 0b10 << 62
            | (rand & ((1 << 62) - 1))
        )

    def _real(self, now_us: int) -> int:
        # The benchmark's traffic (no shape) is written exactly as the simulated clock reads.
        return now_us if self.shape is None else self.shape.real(now_us)

    def _text(self, low: int, high: int) -> str:
        size = low + int(self.rand() * (high - low + 1))
        at = int(self.rand() * (len(TEXT) - size))
        return TEXT[at : at + size]

    def _lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * Z[int(self.rand() * 1024)])

    def __iter__(self) -> Iterator[Made]:
        rand = self.rand
        slots = self.slots
        active = len(slots)
        start = self.start
        makers = self.makers
        while True:
            # Exponential gaps, mean 5 ms: about 200 events/s across the active workflows.
            gap = -5000.0 * math.log(1.0 - rand())
            if self.shape is not None:
                gap = self.shape.stretch(gap, self.now_us)
            self.now_us += 1 + int(gap)
            index = int(rand() * active)
            wf = slots[index]
            wf.sent += 1
            self.last_id = self._id()
            fields: dict[str, Any] = {
                "event_id": self.as_id(self.last_id),
                "occurred_at": start + timedelta(microseconds=self._real(self.now_us)),
                "workflow_id": wf.id,
            }
            if wf.sent == 1:
                cls = self._started(wf, fields)
            elif wf.sent >= wf.length:
                cls = self._completed(wf, fields)
                slots[index] = self._new_workflow()
            elif wf.pending:
                kind, agent = wf.pending.pop()
                cls = makers[kind](wf, agent, fields)
            else:
                agent = wf.agents[int(rand() * len(wf.agents))]
                cls = makers[KIND_TABLE[int(rand() * 100)]](wf, agent, fields)
            yield cls, fields

    def _started(self, wf: Workflow, fields: dict[str, Any]) -> type[LedgerEvent]:
        fields["agent"] = wf.agents[0]
        fields["goal"] = self._text(40, 160)
        fields["input"] = {
            "user": f"u{int(self.rand() * 10_000)}",
            "priority": 1 + int(self.rand() * 5),
        }
        return WorkflowStarted

    def _completed(self, wf: Workflow, fields: dict[str, Any]) -> type[LedgerEvent]:
        success = wf.failures == 0 or wf.compensated or self.rand() < 0.6
        fields.update(
            agent=wf.agents[0],
            success=success,
            total_steps=wf.steps,
            total_retries=wf.retries,
            required_human=wf.human,
            required_compensation=wf.compensated,
            duration_ms=(self._real(self.now_us) - self._real(wf.started_us)) / 1000,
            outcome={"status": "done" if success else "failed", "items": int(self.rand() * 50)},
            agents_involved=wf.agents,
        )
        return WorkflowCompleted

    def _step(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        rand = self.rand
        wf.steps += 1
        declared = wf.modes[agent]
        mode = declared
        if rand() < 0.03:
            mode = MODES[int(rand() * len(MODES))]
            if mode != declared and rand() < 0.5:
                wf.pending.append(("violation", agent))
        success = rand() >= (0.04 if self.shape is None else self.shape.step_failure(agent, self.now_us))
        fields["agent"] = agent
        fields["success"] = success
        fields["mode"] = mode
        fields["declared_mode"] = declared
        fields["tool_duration_ms"] = round(self._lognormal(90.0, 1.0), 1)
        if not success:
            wf.failures += 1
            fields["error"] = ERRORS[int(rand() * len(ERRORS))]
            if rand() < 0.35:
                fields["required_compensation"] = wf.compensated = True
            if rand() < 0.5:
                wf.retries += 1
        if rand() < (0.008 if success else 0.2):
            fields["required_human"] = wf.human = True
            wf.pending.append(("human", agent))
        return StepRecorded

    def _tool(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        rand = self.rand
        tool, median_ms = TOOLS[int(rand() * len(TOOLS))]
        wf.call_index += 1
        fields["agent"] = agent
        fields["tool"] = tool
        fields["arguments"] = {"query": self._text(10, 60), "limit": 1 + int(rand() * 50)}
        fields["duration_ms"] = round(self._lognormal(median_ms, 0.8), 1)
        fields["call_index"] = wf.call_index
        if rand() < (0.03 if self.shape is None else self.shape.tool_failure(self.now_us)):
            fields["success"] = False
            fields["error"] = ERRORS[int(rand() * len(ERRORS))]
        else:
            size = min(1650, max(100, int(self._lognormal(170.0, 0.9))))
            fields["result"] = self._text(size - size // 4, size)
        return ToolCalled

    def _cost(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        rand = self.rand
        model = MODEL_TABLE[int(rand() * 100)]
        prompt = min(60_000, max(50, int(self._lognormal(1500.0, 0.9))))
        completion = min(8000, max(1, int(self._lognormal(300.0, 0.9))))
        cached = int(rand() * prompt) if rand() < 0.3 else 0
        fields["agent"] = agent
        fields["model"] = model
        fields["prompt_tokens"] = prompt
        fields["completion_tokens"] = completion
        fields["cached_tokens"] = cached
        price = PRICES.get(model)
        if price is None:
            fields["status"] = "unpriced"
        else:
            p_in, p_out, p_cached = price
            amount = ((prompt - cached) * p_in + cached * p_cached + completion * p_out) / MILLION
            fields["amount"] = amount.quantize(MICRO)
            fields["price_version"] = PRICE_VERSION
        return CostIncurred

    def _evidence(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        rand = self.rand
        size = min(1200, max(40, int(self._lognormal(120.0, 0.9))))
        content = self._text(size - size // 4, size)
        r = rand()
        confidence = "verified" if r < 0.5 else "claimed" if r < 0.8 or not wf.evidence else "inferred"
        fields["agent"] = agent
        fields["evidence_type"] = EVIDENCE_TYPES[int(rand() * len(EVIDENCE_TYPES))]
        fields["source"] = TOOLS[int(rand() * len(TOOLS))][0]
        fields["content"] = content
        fields["content_hash"] = hashlib.sha256(content.encode()).hexdigest()[:16]
        fields["confidence"] = confidence
        if confidence == "inferred":
            cited = self.rng.sample(wf.evidence, min(len(wf.evidence), 3))
            fields["based_on"] = tuple(self.as_id(n) for n in cited)
        wf.evidence.append(self.last_id)
        if len(wf.evidence) > 16:
            del wf.evidence[0]
        return EvidenceCollected

    def _replan(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        fields["agent"] = agent
        fields["reason"] = self._text(30, 200)
        return PlanRevised

    def _human(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        fields["agent"] = agent
        fields["reason"] = self._text(20, 120)
        return HumanIntervened

    def _violation(self, wf: Workflow, agent: str, fields: dict[str, Any]) -> type[LedgerEvent]:
        fields["agent"] = agent
        fields["declared_mode"] = wf.modes[agent]
        fields["attempted_action"] = ACTIONS[int(self.rand() * len(ACTIONS))]
        fields["violation_type"] = "blocked" if self.rand() < 0.7 else "allowed"
        return ModeViolated
