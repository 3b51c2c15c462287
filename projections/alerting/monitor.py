"""The monitor: evaluates health, SLO, budget, breaker and anomaly rules against the projections, and alerts.

One run (:meth:`Monitor.run_once`) reads the reliability, SLO and cost projections and the breaker
streams, raises an alert per violation (de-duplicated by the alert manager's cooldown, so a
lasting problem alerts once per cooldown, and worsening at once), samples the configured metrics
over the last interval into the anomaly detector (as ``monitor.<metric>``), and alerts on what the
detector finds — its own samples and any values recorded by hand. :meth:`Monitor.run` repeats it
every ``interval_seconds`` (the guide's "run every 5 minutes").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger import Clock, Ledger, to_epoch_us, utc_now
from projections.alerting.alert_fold import Alert, AlertSeverity
from projections.alerting.alerts import AlertManager
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.guards.breaker_config import CircuitState
from projections.guards.breaker_fold import BreakerProjection, half_open_due
from projections.guards.breaker_registry import CircuitBreakerRegistry
from projections.metrics.costs import CostTracker
from projections.metrics.measure import value_of
from projections.metrics.reliability import ReliabilityMetrics
from projections.metrics.reports import BudgetStatus, CostReport, MetricsReport, SLOReport
from projections.metrics.slo import SLOTracker
from projections.signals.anomalies import AnomalyDetector
from projections.signals.anomaly_fold import Anomaly
from projections.signals.polarity import polarity_of


@dataclass(frozen=True)
class MonitorConfig:
    """What the monitor checks and how loudly.

    Attributes:
        interval_seconds: time between runs of :meth:`Monitor.run`, and the sampling window.
        health_window_hours: judge health over this many recent hours (``None``: all time).
        sample_metrics: reliability metrics sampled each run for anomaly detection.
        health_severity: severity of a health violation alert.
        slo_severity: severity of an SLO violation alert.
        budget_severity: severity of an exceeded budget alert.
        breaker_severity: severity of an open breaker alert.
        unpriced_severity: severity of the alert about costs of unpriced models.
    """

    interval_seconds: float = 300.0
    health_window_hours: float | None = None
    sample_metrics: tuple[str, ...] = ("svr", "cr", "tcl")
    health_severity: AlertSeverity = AlertSeverity.WARNING
    slo_severity: AlertSeverity = AlertSeverity.HIGH
    budget_severity: AlertSeverity = AlertSeverity.HIGH
    breaker_severity: AlertSeverity = AlertSeverity.WARNING
    unpriced_severity: AlertSeverity = AlertSeverity.WARNING


@dataclass(frozen=True)
class MonitorResult:
    """What one run found and raised."""

    at: datetime
    health_violations: list[str] = field(default_factory=list)
    slo_violations: list[str] = field(default_factory=list)
    budgets_exceeded: list[str] = field(default_factory=list)
    open_breakers: list[str] = field(default_factory=list)
    samples: dict[str, float] = field(default_factory=dict)
    anomalies: list[Anomaly] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    healthy: bool | None = None
    """The health window's verdict; ``None`` when no health metric had data (not healthy)."""
    insufficient_data: list[str] = field(default_factory=list)
    """The health metrics without data in the health window."""

    @property
    def delivered(self) -> list[Alert]:
        """The alerts that were delivered (not suppressed by a cooldown)."""
        return [a for a in self.alerts if not a.suppressed]


@dataclass(frozen=True)
class _Findings:
    health: MetricsReport
    slo: SLOReport
    costs: CostReport
    budgets: list[BudgetStatus]
    open_breakers: list[str]
    samples: dict[str, float]
    anomalies: list[Anomaly]


class Monitor(Bound):
    """Runs the checks of the guide's "Monitor Continuously" against one ledger.

    Components not given are made on the monitor's ledger and clock. Give ``costs`` a tracker
    with budgets set (``set_budget``) to have budgets checked.

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger to watch and to record samples and alerts in.
        clock: the time runs are made at.
        alerts: the alert manager (add channels to it to be notified).
        metrics: the reliability metrics.
        slo: the SLO tracker.
        costs: the cost tracker and its budgets.
        detector: the anomaly detector (add thresholds to it).
        breakers: the breaker registry whose open breakers alert (default: every breaker in the
            ledger, each judged by the timeout it recorded).
        config: what to check (:class:`MonitorConfig`).
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        alerts: AlertManager | None = None,
        metrics: ReliabilityMetrics | None = None,
        slo: SLOTracker | None = None,
        costs: CostTracker | None = None,
        detector: AnomalyDetector | None = None,
        breakers: CircuitBreakerRegistry | None = None,
        config: MonitorConfig | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        led = self.ledger
        self.alerts = alerts or AlertManager(ledger=led, clock=clock)
        self.metrics = metrics or ReliabilityMetrics(ledger=led, clock=clock)
        self.slo = slo or SLOTracker(ledger=led, clock=clock)
        self.costs = costs or CostTracker(ledger=led, clock=clock)
        self.detector = detector or AnomalyDetector(ledger=led, clock=clock)
        self.breakers = breakers
        self.config = config or MonitorConfig()
        self._breakers = BreakerProjection()

    def _evaluate(self) -> _Findings:
        """Read every projection (blocking; run off the event loop)."""
        now = self.now()
        cfg = self.config
        window = cfg.health_window_hours
        health = self.metrics.report(
            since=None if window is None else now - timedelta(hours=window), until=now
        )
        slo = self.slo.report(until=now)
        costs = self.costs.report(until=now)
        budgets = [s for s in costs.budgets if not s.within_budget]
        open_now = self._open_breakers(now)
        recent = self.metrics.report(since=now - timedelta(seconds=cfg.interval_seconds), until=now)
        samples: dict[str, float] = {}
        for name in cfg.sample_metrics:
            value = value_of(getattr(recent, name))
            if value is not None:
                samples[name] = float(value)
                self.detector.record_value(f"monitor.{name}", float(value), now, polarity=polarity_of(name))
        anomalies = self.detector.detect_anomalies()
        return _Findings(health, slo, costs, budgets, open_now, samples, anomalies)

    def _open_breakers(self, now: datetime) -> list[str]:
        """Breakers open now: the registry's (with their configs), else every one in the ledger."""
        if self.breakers is not None:
            return self.breakers.get_open_breakers()
        now_us = to_epoch_us(now)
        with self._lock:
            fold_new(self.ledger, self._breakers)
            folds = self._breakers.breakers.items()
            # Each judged by its recorded config (the default for one that recorded none): an
            # open breaker past its timeout is half-open now.
            return sorted(
                name
                for name, fold in folds
                if fold.core.state is CircuitState.OPEN
                and half_open_due(fold.core, fold.config, now_us) is None
            )

    async def run_once(self) -> MonitorResult:
        """Evaluate every rule once and raise the alerts; return what was found and raised."""
        f = await asyncio.to_thread(self._evaluate)
        cfg = self.config
        raised: list[Alert] = []
        raised += await self.alerts.trigger_health_alerts(f.health, cfg.health_severity)
        raised += await self.alerts.trigger_slo_alerts(f.slo, cfg.slo_severity)
        for status in f.budgets:
            raised.append(await self.alerts.trigger_budget_alert(status, cfg.budget_severity))
        for name in f.open_breakers:
            raised.append(
                await self.alerts.trigger_alert(
                    "breaker",
                    name,
                    cfg.breaker_severity,
                    f"circuit {name} is open",
                    "calls are being rejected",
                )
            )
        if f.costs.unpriced_events:
            models = ", ".join(f.costs.unpriced_models) or "unknown models"
            raised.append(
                await self.alerts.trigger_alert(
                    "cost",
                    "unpriced",
                    cfg.unpriced_severity,
                    f"{f.costs.unpriced_tokens:,} tokens of unpriced models ({models})",
                    "Their cost is unknown and not in any total or budget; add their prices.",
                )
            )
        for anomaly in f.anomalies:
            raised.append(await self.alerts.trigger_anomaly_alert(anomaly))
        return MonitorResult(
            at=self.now(),
            health_violations=f.health.get_violations(),
            healthy=f.health.health,
            insufficient_data=f.health.insufficient_data,
            slo_violations=f.slo.get_violations(),
            budgets_exceeded=[s.name for s in f.budgets],
            open_breakers=f.open_breakers,
            samples=f.samples,
            anomalies=f.anomalies,
            alerts=raised,
        )

    async def run(
        self,
        *,
        iterations: int | None = None,
        on_result: Callable[[MonitorResult], object] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Run every ``interval_seconds`` until cancelled (or ``iterations`` runs have been made)."""
        done = 0
        while iterations is None or done < iterations:
            result = await self.run_once()
            done += 1
            if on_result is not None:
                on_result(result)
            if iterations is None or done < iterations:
                await sleep(self.config.interval_seconds)
