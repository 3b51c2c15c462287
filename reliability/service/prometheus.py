"""``GET /metrics``: the ledger's numbers and the server's own, in the Prometheus text format.

Names follow Prometheus conventions: a ``rledger_`` prefix, the unit last (``_seconds``,
``_ratio``, ``_events``), ``_total`` on counters. Labels are bounded: ``type`` (the event types),
``projection`` (the core projections), ``severity``, ``budget`` (the budgets set), ``route``
(the API's route templates, never raw paths), and ``agent`` only for agents in the metrics
projection, at most :attr:`ServiceConfig.metrics_agents` of them (first by name; how many were
left out is ``rledger_metrics_agents_dropped``). A metric without observations is left out,
never written as 0.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from reliability.service.state import ServiceState

__all__ = ["CONTENT_TYPE", "ServerMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HEALTH = {
    "svr": "successful steps / steps",
    "cr": "steps needing compensation / steps",
    "hir": "completed workflows needing a human / completed workflows",
    "ma": "compliant mode observations / mode observations",
}


def _measured(value: Any) -> float | None:
    return value.value if getattr(value, "measured", False) else None


class _LedgerCollector(Collector):
    """Reads the ledger's numbers at scrape time (at most once per cache period)."""

    def __init__(self, metrics: ServerMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterable[Metric]:
        state = self._metrics.state
        if state is None:
            return []
        with state.lock:
            cached = state.caches.get("prometheus")
            now = time.monotonic()
            if cached is None or now - cached[0] > state.config.metrics_cache_seconds:
                cached = (now, list(_ledger_metrics(state)))
                state.caches["prometheus"] = cached
        return cached[1]


def _facades(state: ServiceState) -> tuple[Any, Any, Any]:
    facades = state.caches.get("facades")
    if facades is None:
        from projections import CostTracker, ReliabilityMetrics, SLOTracker

        ledger = state.ledger
        facades = (ReliabilityMetrics(ledger=ledger), SLOTracker(ledger=ledger), CostTracker(ledger=ledger))
        state.caches["facades"] = facades
    return facades


def _redaction_metrics(state: ServiceState) -> Iterator[Metric]:
    """What the server's redaction policy redacted from ingest since it started (none: nothing)."""
    redactor = state.ledger.redaction
    if redactor is None:
        return
    counts = redactor.counts()
    yield CounterMetricFamily(
        "rledger_redacted_events", "events appended with something redacted", value=counts["events"]
    )
    for key, label, help_text in (
        ("by_action", "action", "redactions by action (drop, mask, hash)"),
        ("by_rule", "rule", "redactions by field rule"),
        ("by_detector", "detector", "redactions by detector"),
    ):
        family = CounterMetricFamily(f"rledger_redactions_{key}", help_text, labels=[label])
        for name, n in counts[key].items():
            family.add_metric([name], n)
        yield family


def _ledger_metrics(state: ServiceState) -> Iterator[Metric]:
    from projections import CORE_PROJECTIONS, AlertManager, CircuitBreakerRegistry

    ledger = state.ledger
    head = ledger.latest_offset()
    yield GaugeMetricFamily("rledger_ledger_head_offset", "highest offset written", value=head)
    by_type = GaugeMetricFamily("rledger_ledger_events", "events stored, by type", labels=["type"])
    for kind, count in sorted(ledger.stats()["by_type"].items()):
        by_type.add_metric([kind], count)
    yield by_type
    lag = GaugeMetricFamily(
        "rledger_projection_lag_events",
        "events written after a stored projection's position",
        labels=["projection"],
    )
    for projection in CORE_PROJECTIONS:
        view = ledger.backend.load_view(projection.name)
        if view is not None:
            lag.add_metric([projection.name], max(head - view.position, 0))
    yield lag
    yield from _redaction_metrics(state)

    metrics_facade, slo_facade, cost_facade = _facades(state)
    report = metrics_facade.report()
    for name, help_text in HEALTH.items():
        value = _measured(getattr(report, name))
        if value is not None:
            yield GaugeMetricFamily(f"rledger_{name}_ratio", f"{name.upper()}: {help_text}", value=value)
    pc = _measured(report.pc)
    if pc is not None:
        yield GaugeMetricFamily(
            "rledger_pc_replans_per_workflow", "PC: mean replans per completed workflow", value=pc
        )
    yield CounterMetricFamily("rledger_steps", "steps recorded (replays left out)", value=report.total_steps)
    yield CounterMetricFamily(
        "rledger_workflows_completed", "workflows completed (replays left out)", value=report.total_workflows
    )
    agents = sorted(report.agent_metrics)
    cap = state.config.metrics_agents
    per_agent = {
        key: GaugeMetricFamily(f"rledger_agent_{key}_ratio", f"{key.upper()} of one agent", labels=["agent"])
        for key in ("svr", "cr", "ma")
    }
    steps = CounterMetricFamily("rledger_agent_steps", "steps recorded by one agent", labels=["agent"])
    for agent in agents[:cap]:
        one = report.agent_metrics[agent]
        for key, family in per_agent.items():
            value = _measured(getattr(one, key))
            if value is not None:
                family.add_metric([agent], value)
        steps.add_metric([agent], one.total_steps)
    yield from per_agent.values()
    yield steps
    yield GaugeMetricFamily(
        "rledger_metrics_agents_dropped",
        "agents left out of the per-agent metrics (the label cap)",
        value=max(len(agents) - cap, 0),
    )

    slo = slo_facade.report()
    mtte = _measured(slo.mtte_p95_ms)
    if mtte is not None:
        yield GaugeMetricFamily(
            "rledger_mtte_p95_seconds", "MTTE: p95 time to explain a decision", value=mtte / 1000
        )
    rsr = _measured(slo.rsr)
    if rsr is not None:
        yield GaugeMetricFamily("rledger_rsr_ratio", "RSR: successful replays / replays", value=rsr)

    costs = cost_facade.report()
    spend = GaugeMetricFamily(
        "rledger_budget_spend", "spend in a budget's window", labels=["budget", "currency"]
    )
    limit = GaugeMetricFamily("rledger_budget_limit", "a budget's total limit", labels=["budget", "currency"])
    for budget in costs.budgets:
        spend.add_metric([budget.name, budget.currency], float(budget.spend))
        limit.add_metric([budget.name, budget.currency], float(budget.limit))
    yield spend
    yield limit
    total = CounterMetricFamily("rledger_spend", "money spent, by currency", labels=["currency"])
    for currency, amount in sorted(costs.totals_by_currency.items()):
        total.add_metric([currency], float(amount))
    yield total

    breakers = CircuitBreakerRegistry(ledger=ledger)
    yield GaugeMetricFamily(
        "rledger_breakers_open", "circuit breakers open now", value=len(breakers.get_open_breakers())
    )
    alerts = Tally(
        str(getattr(a.severity, "value", a.severity)) for a in AlertManager(ledger=ledger).get_alerts()
    )
    raised = CounterMetricFamily("rledger_alerts", "alerts raised, by severity", labels=["severity"])
    for severity, count in sorted(alerts.items()):
        raised.add_metric([severity], count)
    yield raised


class ServerMetrics:
    """The server's registry: request counts and latencies, ingest and OTLP counters, the ledger's gauges."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.state: ServiceState | None = None
        self.requests = Counter(
            "rledger_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "rledger_http_request_duration_seconds",
            "time to answer an HTTP request (a stream: until it ends)",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.ingested = Counter(
            "rledger_ingest_events",
            "events received over HTTP, written or already stored",
            ["result"],
            registry=self.registry,
        )
        self.spans = Counter(
            "rledger_otlp_spans", "OTLP spans received, by outcome", ["outcome"], registry=self.registry
        )
        self.otlp_events = Counter(
            "rledger_otlp_events_written", "events written from OTLP spans", registry=self.registry
        )
        self.registry.register(_LedgerCollector(self))

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def record_ingest(self, written: int, duplicates: int) -> None:
        """Count the events of one append."""
        if written:
            self.ingested.labels("written").inc(written)
        if duplicates:
            self.ingested.labels("duplicate").inc(duplicates)

    def record_otlp(self, answer: Any) -> None:
        """Count an OTLP answer's spans and events (its counters, where it has them)."""
        for outcome in ("accepted", "rejected", "skipped"):
            count = getattr(answer, f"spans_{outcome}", 0) or 0
            if count:
                self.spans.labels(outcome).inc(count)
        written = getattr(answer, "events_written", 0) or 0
        if written:
            self.otlp_events.inc(written)

    def render(self) -> bytes:
        """The text exposition of every metric (reads the ledger: call off the event loop)."""
        return generate_latest(self.registry)
