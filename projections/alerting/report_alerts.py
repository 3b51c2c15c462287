"""Alerts raised from what other guides report: a metric past its threshold, anomalies, health, SLOs, budgets.

Each turns a report into one or more :meth:`ReportAlerts.trigger_alert` calls with a fixed
type and source, so de-duplication keys on the same (type, source) every time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from decimal import Decimal

from projections.alerting.alert_fold import Alert, AlertSeverity
from projections.metrics.reports import BudgetStatus, MetricsReport, SLOReport
from projections.signals.anomaly_fold import Anomaly, Severity

ANOMALY_TO_ALERT = {
    Severity.LOW: AlertSeverity.INFO,
    Severity.MEDIUM: AlertSeverity.WARNING,
    Severity.HIGH: AlertSeverity.HIGH,
    Severity.CRITICAL: AlertSeverity.CRITICAL,
}
"""How an anomaly's severity becomes an alert's."""


class ReportAlerts(ABC):
    """The alerts of reports and anomalies, raised through :meth:`trigger_alert` (the alert manager's)."""

    @abstractmethod
    async def trigger_alert(
        self,
        alert_type: str,
        source: str,
        severity: AlertSeverity | str,
        title: str,
        message: str = "",
        *,
        metric_name: str | None = None,
        current_value: float | None = None,
        threshold: float | None = None,
    ) -> Alert:
        """Record an alert, then deliver it unless it is suppressed; return it with its deliveries."""

    async def trigger_metric_alert(
        self,
        metric_name: str,
        current_value: float,
        threshold: float,
        severity: AlertSeverity | str = AlertSeverity.WARNING,
        *,
        message: str | None = None,
    ) -> Alert:
        """Alert that a metric crossed its threshold (type ``metric``, source the metric)."""
        return await self.trigger_alert(
            "metric",
            metric_name,
            severity,
            f"{metric_name} is {current_value:g} (threshold {threshold:g})",
            message or f"Metric {metric_name} is {current_value:g}, past its threshold {threshold:g}.",
            metric_name=metric_name,
            current_value=current_value,
            threshold=threshold,
        )

    async def trigger_anomaly_alert(self, anomaly: Anomaly) -> Alert:
        """Alert about an anomaly (type ``anomaly``, source ``<metric>/<anomaly type>``)."""
        return await self.trigger_alert(
            "anomaly",
            f"{anomaly.metric_name}/{anomaly.type.value}",
            ANOMALY_TO_ALERT[anomaly.severity],
            f"{anomaly.type.value.replace('_', ' ')} in {anomaly.metric_name}: {anomaly.current_value:g}",
            anomaly.message,
            metric_name=anomaly.metric_name,
            current_value=anomaly.current_value,
            threshold=anomaly.expected_value,
        )

    async def trigger_health_alerts(
        self, report: MetricsReport, severity: AlertSeverity | str = AlertSeverity.WARNING
    ) -> list[Alert]:
        """One alert per health violation of ``report`` (type ``health``, source the metric)."""
        out = []
        for line in report.get_violations():
            metric = line.split(" ", 1)[0].lower()  # "SVR too low: …" → svr
            value = float(getattr(report, metric))  # a violation is measured: a plain float for the event
            out.append(
                await self.trigger_alert(
                    "health", metric, severity, line, line, metric_name=metric, current_value=value
                )
            )
        return out

    async def trigger_slo_alerts(
        self, report: SLOReport, severity: AlertSeverity | str = AlertSeverity.HIGH
    ) -> list[Alert]:
        """One alert per violated SLO of ``report`` (type ``slo``, source ``mtte`` or ``rsr``)."""
        out = []
        for line in report.get_violations():
            slo = "mtte" if line.startswith("MTTE") else "rsr"
            value = float(report.mtte_p95_ms if slo == "mtte" else report.rsr)  # violated, so measured
            limit = report.targets.mtte_p95_ms if slo == "mtte" else report.targets.rsr_min
            out.append(
                await self.trigger_alert(
                    "slo", slo, severity, line, line, metric_name=slo, current_value=value, threshold=limit
                )
            )
        return out

    async def trigger_budget_alert(
        self, status: BudgetStatus, severity: AlertSeverity | str = AlertSeverity.HIGH
    ) -> Alert:
        """Alert that a budget is exceeded (type ``budget``, source the budget's name)."""
        return await self.trigger_alert(
            "budget",
            status.name,
            severity,
            f"budget {status.name} exceeded: spent {_money(status.spend)} of {_money(status.limit)}"
            f" {status.currency}",
            "; ".join(status.breaches),
            current_value=float(status.spend),
            threshold=float(status.limit),
        )


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"
