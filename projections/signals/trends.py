"""Trend analysis: least-squares fits of metric series, their direction, forecasts and predicted breaches.

Rules (``docs/semantics.md``, Trend analysis): ordinary least squares on (hours, value) over the
lookback window — the ``lookback_hours`` up to and including the newest observation, not the wall
clock — so an analysis is reproducible and back-filled or future-dated series work; confidence is
R². The trend is STABLE when the fitted change over the window (slope times the hours the data
spans) is at most ``stable_tolerance`` (1%) of the metric's level (its mean absolute value; a
constant series is STABLE); VOLATILE when R² < ``volatile_r2`` and it is not stable; else
IMPROVING or DEGRADING by the metric's polarity. Forecasts and predicted breaches come from the
same fit, counted in hours from the newest observation. Too few points in the window raise
:class:`InsufficientDataError`, so "not enough data" is never mistaken for "no breach" (``None``).

Series are the metric's ``MetricRecorded`` values in the ledger plus any loaded with
:meth:`TrendAnalyzer.load_series` (e.g. an hourly SVR from the reliability projection). Nothing is
pruned on insert.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from ledger import Clock, Ledger, LedgerError, MetricRecorded, as_utc, from_epoch_us, utc_now
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.metrics.reliability_fold import ReliabilityProjection
from projections.signals.polarity import HIGHER, Polarity, polarity_of
from projections.signals.series import (
    HOUR_US,
    MetricSeriesProjection,
    as_arrays,
    record_metric,
    reliability_series,
)


class TrendDirection(StrEnum):
    """Which way a metric is going, judged by its polarity."""

    IMPROVING = "improving"
    DEGRADING = "degrading"
    STABLE = "stable"
    VOLATILE = "volatile"


class InsufficientDataError(LedgerError, ValueError):
    """Too few observations in the lookback window to fit a trend."""

    def __init__(self, metric: str, have: int, need: int, detail: str | None = None) -> None:
        self.metric = metric
        self.have = have
        self.need = need
        super().__init__(
            f"not enough data for a trend of '{metric}': {have} observation(s) in the window, "
            + (detail or f"need {need}")
        )


@dataclass(frozen=True)
class TrendAnalysis:
    """A fitted trend.

    Attributes:
        metric_name: the metric.
        direction: IMPROVING, DEGRADING, STABLE or VOLATILE.
        slope: fitted change per hour.
        confidence: R² of the fit (0..1).
        current_value: the newest observed value.
        predicted_value: the fitted value one hour after the newest observation.
        fitted_value: the fitted value at the newest observation.
        change: the fitted change over the hours the window's data spans.
        data_points: observations in the window.
        start: the oldest observation in the window.
        end: the newest observation (where the window ends).
        polarity: which way is better.
    """

    metric_name: str
    direction: TrendDirection
    slope: float
    confidence: float
    current_value: float
    predicted_value: float
    fitted_value: float
    change: float
    data_points: int
    start: datetime
    end: datetime
    polarity: Polarity

    def value_at(self, hours_after_end: float) -> float:
        """The fitted value ``hours_after_end`` hours after the newest observation."""
        return self.fitted_value + self.slope * hours_after_end


class TrendAnalyzer(Bound):
    """Trends, forecasts and predicted breaches of metrics (the guide's "Trend Analysis").

    Args:
        min_data_points: observations a window needs before a trend is fitted.
        storage: where events live; exclusive with ``ledger``.
        ledger: where values are recorded and read (default: an in-memory ledger).
        clock: the time values recorded without a timestamp get.
        lookback_hours: the window's length, ending at the newest observation.
        stable_tolerance: a fitted change up to this share of the level is STABLE (1%: a success
            rate sliding from 99% to 97% in a day is a trend, not noise).
        volatile_r2: below this R² an unstable series is VOLATILE.
    """

    def __init__(
        self,
        min_data_points: int = 10,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        lookback_hours: float = 24.0,
        stable_tolerance: float = 0.01,
        volatile_r2: float = 0.3,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        if min_data_points < 2:
            raise ValueError("min_data_points must be at least 2 (a line needs two points)")
        self.min_data_points = min_data_points
        self.lookback_hours = lookback_hours
        self.stable_tolerance = stable_tolerance
        self.volatile_r2 = volatile_r2
        self._series = MetricSeriesProjection()
        self._loaded: dict[str, tuple[list[tuple[datetime, float]], Polarity | None]] = {}

    # -- data ---------------------------------------------------------------------------------

    def record_value(
        self,
        metric_name: str,
        value: float,
        timestamp: datetime | None = None,
        *,
        polarity: Polarity | None = None,
    ) -> MetricRecorded:
        """Record one observation (a ``MetricRecorded`` event; a naive ``timestamp`` is UTC)."""
        return record_metric(self.ledger, self.now(), metric_name, value, timestamp, polarity)

    def load_series(
        self, metric_name: str, points: list[tuple[datetime, float]], *, polarity: Polarity | None = None
    ) -> None:
        """Add a derived series (not recorded in the ledger); loading a name again replaces it."""
        self._loaded[metric_name] = ([(as_utc(t), float(v)) for t, v in points], polarity)

    def load_reliability_series(
        self,
        projection: ReliabilityProjection,
        metric: str,
        *,
        hours: int = 24,
        until: datetime | None = None,
    ) -> list[tuple[datetime, float]]:
        """Load a built-in metric (``svr``, ``cr``, ``ma``, ``tcl``, …) per hour from the projection."""
        points = reliability_series(projection, metric, hours=hours, until=until)
        self.load_series(metric, points, polarity=polarity_of(metric))
        return points

    def points(self, metric_name: str) -> list[tuple[datetime, float]]:
        """Every observation of the metric, oldest first."""
        times, values = self._arrays(metric_name)
        return [(from_epoch_us(int(t)), float(v)) for t, v in zip(times, values, strict=True)]

    def _arrays(self, metric: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        with self._lock:
            fold_new(self.ledger, self._series)
            recorded = self._series.get(metric)
            times = recorded.times.array()
            values = recorded.values.array()
        loaded = self._loaded.get(metric)
        if loaded is not None:
            lt, lv = as_arrays(loaded[0])
            times, values = np.concatenate([times, lt]), np.concatenate([values, lv])
        order = np.argsort(times, kind="stable")
        return times[order], values[order]

    def _polarity(self, metric: str, explicit: Polarity | None) -> Polarity:
        if explicit is not None:
            return explicit
        loaded = self._loaded.get(metric)
        if loaded is not None and loaded[1] is not None:
            return loaded[1]
        return polarity_of(metric, self._series.get(metric).polarity)

    # -- analysis -----------------------------------------------------------------------------

    def analyze(
        self, metric_name: str, *, lookback_hours: float | None = None, polarity: Polarity | None = None
    ) -> TrendAnalysis:
        """Fit the trend over the window ending at the newest observation.

        Raises:
            InsufficientDataError: fewer than ``min_data_points`` observations in the window.
        """
        times, values = self._arrays(metric_name)
        if len(times) == 0:
            raise InsufficientDataError(metric_name, 0, self.min_data_points)
        hours = self.lookback_hours if lookback_hours is None else lookback_hours
        newest = int(times[-1])
        # The window is the ``hours`` ending at, and including, the newest observation — half-open
        # at its old end, so 24 hourly observations fill a 24-hour window.
        keep = times > newest - round(hours * HOUR_US)
        t, y = times[keep], values[keep]
        if len(t) < self.min_data_points:
            raise InsufficientDataError(metric_name, len(t), self.min_data_points)
        # Hours relative to the newest observation: the intercept is the fitted value there.
        x = (t - newest) / HOUR_US
        x_mean, y_mean = float(x.mean()), float(y.mean())
        dx = x - x_mean
        sxx = float(dx @ dx)
        if sxx == 0.0:
            raise InsufficientDataError(
                metric_name, len(t), self.min_data_points, "all at one time (a line needs two or more)"
            )
        slope = float(dx @ (y - y_mean)) / sxx
        intercept = y_mean - slope * x_mean
        residual = y - (intercept + slope * x)
        ss_res = float(residual @ residual)
        dy = y - y_mean
        ss_tot = float(dy @ dy)
        level = float(np.abs(y).mean())
        # A series flat up to rounding has nothing left to explain: its fit is perfect.
        flat = ss_tot <= len(y) * (1e-12 * max(1.0, level)) ** 2
        r2 = 1.0 if flat else min(1.0, max(0.0, 1.0 - ss_res / ss_tot))
        change = slope * float(x.max() - x.min())
        pol = self._polarity(metric_name, polarity)
        if abs(change) <= self.stable_tolerance * level:
            direction = TrendDirection.STABLE
        elif r2 < self.volatile_r2:
            direction = TrendDirection.VOLATILE
        elif (slope > 0) == (pol == HIGHER):
            direction = TrendDirection.IMPROVING
        else:
            direction = TrendDirection.DEGRADING
        return TrendAnalysis(
            metric_name=metric_name,
            direction=direction,
            slope=slope,
            confidence=r2,
            current_value=float(y[-1]),
            predicted_value=intercept + slope,
            fitted_value=intercept,
            change=change,
            data_points=len(t),
            start=from_epoch_us(int(t[0])),
            end=from_epoch_us(newest),
            polarity=pol,
        )

    def forecast(
        self, metric_name: str, hours_ahead: int = 24, *, lookback_hours: float | None = None
    ) -> list[tuple[datetime, float]]:
        """Return ``hours_ahead`` hourly points after the newest observation, from :meth:`analyze`'s fit."""
        trend = self.analyze(metric_name, lookback_hours=lookback_hours)
        return [(trend.end + timedelta(hours=h), trend.value_at(h)) for h in range(1, hours_ahead + 1)]

    def detect_degradation(
        self,
        metric_name: str,
        threshold: float,
        forecast_hours: float = 24,
        *,
        polarity: Polarity | None = None,
        lookback_hours: float | None = None,
    ) -> dict[str, Any] | None:
        """Predict when the fitted trend crosses ``threshold`` on the bad side, within the horizon.

        Bad means below the threshold for a higher-is-better metric, above it for a lower-is-better
        one. Returns ``None`` when no breach is forecast within ``forecast_hours``; else a dict with
        ``hours_until_breach`` (from the newest observation; 0 when the fit is already past the
        threshold there), ``breach_value``, ``breach_time``, ``already_breached``, ``threshold``,
        ``current_value``, ``slope``, ``confidence``, ``direction`` and ``polarity``.

        Raises:
            InsufficientDataError: too few observations to fit a trend.
        """
        trend = self.analyze(metric_name, lookback_hours=lookback_hours, polarity=polarity)
        higher = trend.polarity == HIGHER
        now = trend.fitted_value
        already = now < threshold if higher else now > threshold
        if already:
            hours = 0.0
        else:
            towards = trend.slope < 0 if higher else trend.slope > 0
            if not towards:
                return None
            hours = (threshold - now) / trend.slope
            if hours > forecast_hours:
                return None
        return {
            "metric_name": metric_name,
            "threshold": threshold,
            "hours_until_breach": hours,
            "breach_value": trend.value_at(hours),
            "breach_time": trend.end + timedelta(hours=hours),
            "already_breached": already,
            "current_value": trend.current_value,
            "slope": trend.slope,
            "confidence": trend.confidence,
            "direction": trend.direction,
            "polarity": trend.polarity,
        }
