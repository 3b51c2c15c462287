"""``LedgerTracingProcessor``: the SDK's spans mapped to ledger events, run by run (by trace id)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from agents import set_trace_processors
from agents.tracing import Span, Trace, TracingProcessor
from agents.tracing.span_data import AgentSpanData, GuardrailSpanData, HandoffSpanData

from replay import RunContext


@dataclass
class Route:
    """Where one run's spans go: its context, the agent running now, tripwires left to the run."""

    ctx: RunContext
    defer_tripwires: bool = False
    current_agent: str | None = None
    tripped: list[str] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)
    """When each open span started (``perf_counter``), by span id: steps carry their duration."""


class LedgerTracingProcessor(TracingProcessor):
    """Maps the SDK's spans to ledger events, for the runs registered with :meth:`route`.

    - agent span → ``StepRecorded`` (agent = the agent's name, the span's duration; failed with
      the span's error, except a guardrail's tripwire, which is the guardrail's step);
    - handoff span → ``StateChanged`` ``active_agent`` = the agent handed to (agent = from);
    - guardrail span → ``StepRecorded`` for ``guardrail:<name>``; a tripped one is failed: the
      run (:class:`AgentsSDKRun`) records it with the guardrail's reason, a route of its own with
      the words "tripwire triggered";
    - generation / response / function spans → nothing: :class:`RecordedModel` and the recorded
      tools put those calls on the tape, so nothing is counted twice.
    """

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.installed = False
        """Whether the SDK calls this processor (added, or made its only one)."""

    def route(self, trace_id: str, ctx: RunContext, *, defer_tripwires: bool = False) -> Route:
        """Send the spans of trace ``trace_id`` to ``ctx`` (until :meth:`unroute`)."""
        self.routes[trace_id] = Route(ctx, defer_tripwires)
        return self.routes[trace_id]

    def unroute(self, trace_id: str) -> None:
        """Stop recording trace ``trace_id``."""
        self.routes.pop(trace_id, None)

    def on_trace_start(self, trace: Trace) -> None:
        """Nothing: the run context records the workflow's start."""

    def on_trace_end(self, trace: Trace) -> None:
        """Nothing: the run context records the workflow's end."""

    def on_span_start(self, span: Span[Any]) -> None:
        """Note which agent is running (model calls are recorded for it)."""
        route = self.routes.get(span.trace_id)
        if route is None:
            return
        if isinstance(span.span_data, AgentSpanData | GuardrailSpanData):
            route.started[span.span_id] = time.perf_counter()
        if isinstance(span.span_data, AgentSpanData):
            route.current_agent = span.span_data.name

    def on_span_end(self, span: Span[Any]) -> None:
        """Record an agent, handoff or guardrail span."""
        route = self.routes.get(span.trace_id)
        if route is None:
            return
        data, ctx = span.span_data, route.ctx
        error = None if span.error is None or _tripwire(span.error) else str(span.error.get("message"))
        started = route.started.pop(span.span_id, None)
        duration_ms = None if started is None else (time.perf_counter() - started) * 1000
        if isinstance(data, AgentSpanData):
            ctx.record_step(error is None, agent=data.name, error=error, duration_ms=duration_ms)
        elif isinstance(data, HandoffSpanData):
            ctx.set_state("active_agent", data.to_agent)
        elif isinstance(data, GuardrailSpanData):
            if data.triggered and route.defer_tripwires:
                route.tripped.append(data.name)
                return
            ctx.record_step(
                not data.triggered,
                agent=f"guardrail:{data.name}",
                error="tripwire triggered" if data.triggered else None,
                duration_ms=duration_ms,
            )

    def shutdown(self) -> None:
        """Nothing to flush: events are recorded as spans end."""

    def force_flush(self) -> None:
        """Nothing to flush: events are recorded as spans end."""


def _tripwire(error: Any) -> bool:
    # A streamed run also puts a guardrail's tripwire on the agent's span; it is the guardrail's
    # failed step (as an unstreamed run records it), not a second failure of the agent.
    data = error.get("data")
    return (
        error.get("message") == "Guardrail tripwire triggered"
        and isinstance(data, dict)
        and "guardrail" in data
    )


PROCESSOR = LedgerTracingProcessor()
"""The one processor the SDK calls (its processors are global); runs register routes on it."""


def keep_traces_local() -> None:
    """Make the ledger's processor the SDK's only one: no trace is exported to OpenAI."""
    set_trace_processors([PROCESSOR])
    PROCESSOR.installed = True
