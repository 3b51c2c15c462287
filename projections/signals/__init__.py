"""The signals: metric series, anomalies, trends and forecasts, and each metric's polarity."""

from projections.signals.anomalies import AnomalyDetector
from projections.signals.anomaly_fold import (
    Anomaly,
    AnomalyProjection,
    AnomalySeverity,
    AnomalyThreshold,
    AnomalyType,
    Severity,
)
from projections.signals.anomaly_rules import AnomalyFinding, AnomalyRules, examine_value
from projections.signals.polarity import polarity_of
from projections.signals.series import BUILTIN_SERIES, MetricSeriesProjection, reliability_series
from projections.signals.trends import InsufficientDataError, TrendAnalysis, TrendAnalyzer, TrendDirection

__all__ = [
    "BUILTIN_SERIES",
    "Anomaly",
    "AnomalyDetector",
    "AnomalyFinding",
    "AnomalyProjection",
    "AnomalyRules",
    "AnomalySeverity",
    "AnomalyThreshold",
    "AnomalyType",
    "InsufficientDataError",
    "MetricSeriesProjection",
    "Severity",
    "TrendAnalysis",
    "TrendAnalyzer",
    "TrendDirection",
    "examine_value",
    "polarity_of",
    "reliability_series",
]
