"""Deterministic folds of ledger events into metrics, SLOs and costs, and their runner."""

from projections.alert_state import Alert, AlertChannel, AlertProjection, AlertSeverity, Delivery
from projections.alerts import AlertManager, UnknownAlertError
from projections.anomaly import AnomalyDetector
from projections.anomaly_state import (
    Anomaly,
    AnomalyProjection,
    AnomalyThreshold,
    AnomalyType,
    Severity,
)
from projections.breaker_state import BreakerProjection, CircuitBreakerConfig, CircuitState
from projections.breakers import BreakerStatus, CircuitBreaker, CircuitBreakerRegistry, CircuitOpenError
from projections.budgets import (
    BudgetExceededError,
    CostBudget,
    CostTracker,
    Reservation,
    UnknownBudgetError,
)
from projections.channels import CallbackAlertChannel, LogAlertChannel, WebhookAlertChannel, WebhookError
from projections.costs import CostProjection
from projections.engine import Projection
from projections.evidence import Evidence, EvidenceCollector, EvidenceError, EvidenceProjection
from projections.facades import (
    MemoryMetricStorage,
    MetricStorage,
    RedisMetricStorage,
    ReliabilityMetrics,
    SLOTracker,
    SQLMetricStorage,
)
from projections.mode_rules import ActionKind, AgentMode, ModeRules, split_words
from projections.modes import ModeEnforcer, ModeProjection, ModeViolation
from projections.monitor import Monitor, MonitorConfig, MonitorResult
from projections.polarity import polarity_of
from projections.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from projections.reliability import ReliabilityProjection
from projections.reports import (
    AgentMetrics,
    BudgetStatus,
    CostReport,
    MetricsReport,
    MetricTargets,
    SLOReport,
    SLOTargets,
)
from projections.runner import ProjectionRunner, RunnerBusyError, fold_range, load_stored
from projections.series import BUILTIN_SERIES, MetricSeriesProjection, reliability_series
from projections.slo import SLOProjection
from projections.trends import InsufficientDataError, TrendAnalysis, TrendAnalyzer, TrendDirection

CORE_PROJECTIONS: tuple[type[Projection], ...] = (
    ReliabilityProjection,
    SLOProjection,
    CostProjection,
)
"""The projections ``rledger rebuild`` and ``rledger follow`` keep current by default."""

__all__ = [
    "BUILTIN_SERIES",
    "CORE_PROJECTIONS",
    "DEFAULT_PRICES",
    "ActionKind",
    "AgentMetrics",
    "AgentMode",
    "Alert",
    "AlertChannel",
    "AlertManager",
    "AlertProjection",
    "AlertSeverity",
    "Anomaly",
    "AnomalyDetector",
    "AnomalyProjection",
    "AnomalyThreshold",
    "AnomalyType",
    "BreakerProjection",
    "BreakerStatus",
    "BudgetExceededError",
    "BudgetStatus",
    "CallbackAlertChannel",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerRegistry",
    "CircuitOpenError",
    "CircuitState",
    "CostBudget",
    "CostProjection",
    "CostReport",
    "CostTracker",
    "Delivery",
    "Evidence",
    "EvidenceCollector",
    "EvidenceError",
    "EvidenceProjection",
    "InsufficientDataError",
    "LogAlertChannel",
    "MemoryMetricStorage",
    "MetricSeriesProjection",
    "MetricStorage",
    "MetricTargets",
    "MetricsReport",
    "ModeEnforcer",
    "ModeProjection",
    "ModeRules",
    "ModeViolation",
    "ModelPrice",
    "Monitor",
    "MonitorConfig",
    "MonitorResult",
    "PriceTable",
    "Projection",
    "ProjectionRunner",
    "RedisMetricStorage",
    "ReliabilityMetrics",
    "ReliabilityProjection",
    "Reservation",
    "RunnerBusyError",
    "SLOProjection",
    "SLOReport",
    "SLOTargets",
    "SLOTracker",
    "SQLMetricStorage",
    "Severity",
    "TrendAnalysis",
    "TrendAnalyzer",
    "TrendDirection",
    "UnknownAlertError",
    "UnknownBudgetError",
    "WebhookAlertChannel",
    "WebhookError",
    "fold_range",
    "load_stored",
    "polarity_of",
    "reliability_series",
    "split_words",
]
