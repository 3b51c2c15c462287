"""Metric time series: values recorded by hand (``MetricRecorded``) and hourly built-ins from projections.

Hand-recorded values are kept per metric in arrival (offset) order with their event time, id and
polarity; anomaly detection reads them in arrival order, trend analysis in time order. Built-in
series (SVR, CR, PC, HIR, MA, TCL, WCT) are computed from the reliability projection over whole
hours, each point the metric over the hour ending at its timestamp; hours without data are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from ledger import Ledger, MetricRecorded, as_utc, from_epoch_us, to_epoch_us
from projections.fold.columns import Column
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection
from projections.metrics.measure import value_of
from projections.metrics.reliability_fold import ReliabilityProjection
from projections.signals.polarity import Polarity

HOUR_US = 3_600_000_000

BUILTIN_SERIES = ("svr", "cr", "pc", "hir", "ma", "tcl", "wct")
"""Metrics :func:`reliability_series` can compute (the report fields of the same names)."""


@dataclass
class MetricSeries:
    """One metric's recorded values in arrival order."""

    times: Column = field(default_factory=lambda: Column(np.int64))
    values: Column = field(default_factory=lambda: Column(np.float64))
    ids: list[str] = field(default_factory=list)
    polarity: Polarity | None = None

    def __len__(self) -> int:
        return len(self.ids)


@fields_of(MetricRecorded)
class RecordedFields(msgspec.Struct, frozen=True):
    """What the series fold reads of a ``MetricRecorded``."""

    event_id: str
    metric_name: str
    value: float
    polarity: Polarity | None = None


class MetricSeriesProjection(Projection):
    """Every ``MetricRecorded`` value, by metric name."""

    name = "metric_series"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {"MetricRecorded": RecordedFields}

    def __init__(self) -> None:
        super().__init__()
        self.series: dict[str, MetricSeries] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"MetricRecorded": self._recorded}

    def _recorded(self, t: int, e: RecordedFields) -> None:
        s = self.series.get(e.metric_name)
        if s is None:
            s = self.series[e.metric_name] = MetricSeries()
        s.times.append(t)
        s.values.append(float(e.value))
        s.ids.append(e.event_id)
        if e.polarity is not None:
            s.polarity = e.polarity

    def get(self, metric: str) -> MetricSeries:
        """Return a metric's series (empty if nothing was recorded)."""
        return self.series.get(metric) or MetricSeries()

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as metadata and arrays."""
        names = sorted(self.series)
        meta = {
            "names": names,
            "ids": [self.series[n].ids for n in names],
            "polarity": [self.series[n].polarity for n in names],
        }
        arrays: Arrays = {}
        for i, n in enumerate(names):
            arrays[f"t.{i}"] = self.series[n].times.array()
            arrays[f"v.{i}"] = self.series[n].values.array()
        return meta, arrays

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.series = {
            n: MetricSeries(
                Column(np.int64, arrays[f"t.{i}"]),
                Column(np.float64, arrays[f"v.{i}"]),
                list(meta["ids"][i]),
                meta["polarity"][i],
            )
            for i, n in enumerate(meta["names"])
        }


def newest_event_us(projection: ReliabilityProjection) -> int | None:
    """The time of the newest step, tool call, mode check or completion folded (``None`` if none)."""
    latest = [
        int(table["t"].max())
        for table in (projection.steps, projection.tools, projection.checks, projection.completed)
        if len(table)
    ]
    return max(latest) if latest else None


def reliability_series(
    projection: ReliabilityProjection,
    metric: str,
    *,
    hours: int = 24,
    until: datetime | None = None,
) -> list[tuple[datetime, float]]:
    """Return a built-in metric per hour over the ``hours`` hours before ``until``.

    Each point is the metric over ``[t - 1h, t)`` stamped ``t``; ``until`` defaults to the whole
    hour after the newest event in the projection, so the series ends at the newest observation
    and is the same whenever it is computed. Hours in which the metric has no data are left out.
    """
    if metric not in BUILTIN_SERIES:
        raise ValueError(f"unknown built-in metric '{metric}' (known: {', '.join(BUILTIN_SERIES)})")
    if hours < 1:
        raise ValueError("hours must be at least 1")
    if until is None:
        newest = newest_event_us(projection)
        if newest is None:
            return []
        end = (newest // HOUR_US + 1) * HOUR_US
    else:
        end = to_epoch_us(as_utc(until))
    points: list[tuple[datetime, float]] = []
    for k in range(hours, 0, -1):
        stop = end - (k - 1) * HOUR_US
        value = value_of(getattr(projection.report(since_us=stop - HOUR_US, until_us=stop), metric))
        if value is not None:
            points.append((from_epoch_us(stop), float(value)))
    return points


def as_arrays(points: list[tuple[datetime, float]]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Split ``(time, value)`` points into µs-time and value arrays."""
    times = np.array([to_epoch_us(as_utc(t)) for t, _ in points], dtype=np.int64)
    values = np.array([v for _, v in points], dtype=np.float64)
    return times, values


def record_metric(
    ledger: Ledger,
    now: datetime,
    metric_name: str,
    value: float,
    timestamp: datetime | None = None,
    polarity: Polarity | None = None,
) -> MetricRecorded:
    """Append one value of a metric (a ``MetricRecorded`` event; a naive ``timestamp`` is UTC)."""
    event = MetricRecorded(
        metric_name=metric_name,
        value=value,
        polarity=polarity,
        occurred_at=now if timestamp is None else as_utc(timestamp),
    )
    ledger.append(event)
    return event
