"""What the dashboard shows: the report from long-lived facades, metric series per hour or day, daily costs.

A server keeps one :class:`DashboardData` for its ledger: its facades start from the stored
projections (what ``rledger follow`` saves) and fold only the events that are new since the last
request, so a report on a large ledger does not re-scan it. The series are the report's own
numbers over each bucket (``[start, start + bucket)``, the report's half-open window); after new
events only the buckets they can change are computed again (``buckets.py``); a bucket without
observations is ``null``, never 0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reliability.service.dashboard.buckets import CostBuckets, MetricBuckets

if TYPE_CHECKING:  # the facades are imported when a dashboard is built: `rledger` starts fast
    from ledger import Ledger
    from projections import CostTracker, ReliabilityMetrics, SLOTracker
    from projections.metrics import CostProjection, ReliabilityProjection

__all__ = ["METRICS", "DashboardData", "bucket_for"]

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
HOURLY_SPAN_US = 8 * DAY_US
"""Data spanning up to eight days is shown per hour (at most 192 points), longer spans per day."""
MAX_BUCKETS = 400
"""At most this many buckets, the newest: a year of days. Older data is left out of the charts
(the series says from when it starts); the report's numbers still cover all of it."""

METRICS = ("svr", "cr", "pc", "hir", "ma", "tcl", "wct")
"""The guide's seven metrics, each a series (the report fields of the same names)."""
AGENT_METRICS = ("svr", "cr", "ma", "tcl", "total_steps")


def bucket_for(oldest_us: int, newest_us: int) -> int:
    """The bucket width for data spanning ``[oldest, newest]``: an hour up to eight days, else a day."""
    return HOUR_US if newest_us - oldest_us <= HOURLY_SPAN_US else DAY_US


def _number(value: Any) -> float | None:
    from projections.metrics import value_of

    measured = value_of(value)
    return None if measured is None else float(measured)


def _span(p: ReliabilityProjection) -> tuple[int, int] | None:
    tables = [p.steps, p.tools, p.checks, p.completed]
    times = [(int(t["t"].min()), int(t["t"].max())) for t in tables if len(t)]
    if not times:
        return None
    return min(a for a, _ in times), max(b for _, b in times)


def _money(value: Decimal) -> str:
    return f"{value:f}"


class DashboardData:
    """One ledger's reports and series, kept current by folding only new events.

    Not thread-safe: the server calls it with its report lock held.
    """

    def __init__(self, ledger: Ledger) -> None:
        from projections import CostTracker, MetricTargets, ReliabilityMetrics, SLOTracker

        self.ledger = ledger
        self.metrics: ReliabilityMetrics = ReliabilityMetrics(ledger=ledger)
        self.metrics_with_replays: ReliabilityMetrics = ReliabilityMetrics(
            ledger=ledger, targets=MetricTargets(include_replays=True)
        )
        self.slo: SLOTracker = SLOTracker(ledger=ledger)
        self.costs: CostTracker = CostTracker(ledger=ledger)
        self._buckets = MetricBuckets()
        self._days = CostBuckets()
        self._series: dict[str, Any] | None = None
        self._series_key: tuple[int, int] = (-1, -1)

    def facades(self, include_replays: bool = False) -> tuple[Any, Any, Any]:
        """The kept metrics, SLO and cost facades, for ``commands.full_report`` (call with the lock held)."""
        metrics = self.metrics_with_replays if include_replays else self.metrics
        return metrics, self.slo, self.costs

    def series(self) -> dict[str, Any]:
        """The seven metrics overall and per agent, and the spend, per bucket over the data's span."""
        key = (self.metrics.projection().position, self.costs.projection().position)
        if self._series is None or key != self._series_key:
            metrics = self.metrics.compute(self._metric_series)
            metrics["costs"] = self.costs.compute(self._cost_series)
            metrics["as_of_offset"] = max(key)
            self._series, self._series_key = metrics, key
        return self._series

    def _metric_series(self, p: ReliabilityProjection) -> dict[str, Any]:
        span = _span(p)
        if span is None:
            return {"bucket_seconds": None, "times": [], "metrics": {m: [] for m in METRICS}, "agents": {}}
        width = bucket_for(*span)
        start = span[0] // width * width
        end = (span[1] // width + 1) * width
        start = max(start, end - MAX_BUCKETS * width)
        times: list[int] = []
        metrics: dict[str, list[float | None]] = {m: [] for m in METRICS}
        agents: dict[str, dict[str, list[float | None]]] = {}
        targets = self.metrics.targets
        for k, (a, report) in enumerate(self._buckets.update(p, targets, width, start, end)):
            times.append(a // 1_000_000)
            for m in METRICS:
                metrics[m].append(_number(getattr(report, m)))
            for name, agent in report.agent_metrics.items():
                row = agents.setdefault(name, {m: [None] * k for m in AGENT_METRICS})
                for m in AGENT_METRICS:
                    row[m].append(_number(getattr(agent, m)))
            for row in agents.values():  # an agent without steps in this bucket: no data there
                for m in AGENT_METRICS:
                    if len(row[m]) == k:
                        row[m].append(None)
        return {
            "bucket_seconds": width // 1_000_000,
            "times": times,
            "metrics": metrics,
            "agents": dict(sorted(agents.items())),
        }

    def _cost_series(self, p: CostProjection) -> dict[str, Any]:
        """Priced spend per day (by model and agent) over the costs' span, in the report's currency."""
        stamps = p.costs["t"]
        if not len(stamps):
            return {"currency": self.costs.currency, "days": [], "total": [], "by_model": {}, "by_agent": {}}
        last = int(stamps.max()) // DAY_US * DAY_US
        first = max(int(stamps.min()) // DAY_US * DAY_US, last - (MAX_BUCKETS - 1) * DAY_US)
        days: list[int] = []
        total: list[str] = []
        unpriced: list[int] = []
        by_model: dict[str, list[str | None]] = {}
        by_agent: dict[str, list[str | None]] = {}
        reports = self._days.update(p, self.costs.currency, range(first, last + DAY_US, DAY_US))
        for k, (a, report) in enumerate(reports):
            days.append(a // 1_000_000)
            total.append(_money(report.total_cost))
            unpriced.append(report.unpriced_events)
            for table, values in ((by_model, report.cost_by_model), (by_agent, report.cost_by_agent)):
                for name, amount in values.items():
                    table.setdefault(name, [None] * k).append(_money(amount))
                for column in table.values():  # nothing spent on it that day
                    if len(column) == k:
                        column.append(None)
        return {
            "currency": self.costs.currency,
            "days": days,
            "total": total,
            "unpriced_events": unpriced,
            "by_model": dict(sorted(by_model.items())),
            "by_agent": dict(sorted(by_agent.items())),
        }
