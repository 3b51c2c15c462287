"""The metrics: reliability, SLOs (MTTE, RSR), costs, prices and budgets, and their reports."""

from projections.fold import Projection
from projections.metrics.budget_fold import BudgetProjection
from projections.metrics.budgets import BudgetExceededError, CostBudget, Reservation, UnknownBudgetError
from projections.metrics.cost_fold import CostProjection
from projections.metrics.costs import CostTracker
from projections.metrics.measure import Measure, MoneyMeasure, UnmeasuredError, value_of
from projections.metrics.measured_once import claim_automatic, note_automatic
from projections.metrics.pricing import DEFAULT_PRICES, ModelPrice, PriceTable
from projections.metrics.reliability import ReliabilityMetrics
from projections.metrics.reliability_fold import ReliabilityProjection
from projections.metrics.render import format_amount, render_costs, render_metrics, render_slo, table
from projections.metrics.reports import (
    AgentMetrics,
    BudgetStatus,
    CostReport,
    MetricsReport,
    MetricTargets,
    SLOReport,
    SLOTargets,
)
from projections.metrics.slo import SLOTracker
from projections.metrics.slo_fold import SLOProjection
from projections.metrics.storage import RedisMetricStorage

CORE_PROJECTIONS: tuple[type[Projection], ...] = (ReliabilityProjection, SLOProjection, CostProjection)
"""The projections ``rledger rebuild`` and ``rledger follow`` keep current by default."""

__all__ = [
    "CORE_PROJECTIONS",
    "DEFAULT_PRICES",
    "AgentMetrics",
    "BudgetExceededError",
    "BudgetProjection",
    "BudgetStatus",
    "CostBudget",
    "CostProjection",
    "CostReport",
    "CostTracker",
    "Measure",
    "MetricTargets",
    "MetricsReport",
    "ModelPrice",
    "MoneyMeasure",
    "PriceTable",
    "RedisMetricStorage",
    "ReliabilityMetrics",
    "ReliabilityProjection",
    "Reservation",
    "SLOProjection",
    "SLOReport",
    "SLOTargets",
    "SLOTracker",
    "UnknownBudgetError",
    "UnmeasuredError",
    "claim_automatic",
    "format_amount",
    "note_automatic",
    "render_costs",
    "render_metrics",
    "render_slo",
    "table",
    "value_of",
]
