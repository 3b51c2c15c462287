"""Deterministic folds of ledger events into metrics, SLOs and costs, and their runner."""

from projections.costs import CostProjection
from projections.engine import Projection
from projections.facades import (
    BudgetExceededError,
    CostBudget,
    CostTracker,
    MemoryMetricStorage,
    MetricStorage,
    ReliabilityMetrics,
    Reservation,
    SLOTracker,
    SQLMetricStorage,
    UnknownBudgetError,
)
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
from projections.slo import SLOProjection

CORE_PROJECTIONS: tuple[type[Projection], ...] = (
    ReliabilityProjection,
    SLOProjection,
    CostProjection,
)
"""The projections ``rledger rebuild`` and ``rledger follow`` keep current by default."""

__all__ = [
    "CORE_PROJECTIONS",
    "DEFAULT_PRICES",
    "AgentMetrics",
    "BudgetExceededError",
    "BudgetStatus",
    "CostBudget",
    "CostProjection",
    "CostReport",
    "CostTracker",
    "MemoryMetricStorage",
    "MetricStorage",
    "MetricTargets",
    "MetricsReport",
    "ModelPrice",
    "PriceTable",
    "Projection",
    "ProjectionRunner",
    "ReliabilityMetrics",
    "ReliabilityProjection",
    "Reservation",
    "RunnerBusyError",
    "SLOProjection",
    "SLOReport",
    "SLOTargets",
    "SLOTracker",
    "SQLMetricStorage",
    "UnknownBudgetError",
    "fold_range",
    "load_stored",
]
