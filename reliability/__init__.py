"""The guide's module: ``from reliability import …`` for every name the user's guide imports.

Metrics, SLOs, costs and storages, modes, evidence and breakers, anomalies, trends and alerts
come from :mod:`projections`; trails and replay from :mod:`replay`; ``Ledger`` and
``open_ledger`` from :mod:`ledger`. Each name is the package's own object (one ``Evidence``,
one ``Reservation``), re-exported here.

The re-exports are lazy (module ``__getattr__``): ``rledger`` imports ``reliability.commands``,
which imports this module, and a command such as ``rledger schema`` must not load numpy, the
projections or the replayer it does not use. Importing a name loads only its package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what mypy and editors see; at run time __getattr__ imports on first use
    from ledger import (
        Ledger,
        open_ledger,
    )
    from projections import (
        AgentMode,
        AlertManager,
        AlertSeverity,
        AnomalyDetector,
        AnomalyThreshold,
        AnomalyType,
        CallbackAlertChannel,
        CircuitBreaker,
        CircuitBreakerConfig,
        CircuitBreakerRegistry,
        CircuitState,
        CostBudget,
        CostTracker,
        Evidence,
        EvidenceCollector,
        MemoryMetricStorage,
        ModeEnforcer,
        RedisMetricStorage,
        ReliabilityMetrics,
        Severity,
        SLOTracker,
        SQLMetricStorage,
        TrendAnalyzer,
        TrendDirection,
    )
    from replay import (
        BacktestConfig,
        DecisionTrail,
        DecisionTrailBuilder,
        Replayer,
        ReplayMode,
        RunContext,
        StepRecord,
        ToolRegistry,
        run_backtest,
        run_workflow,
    )

_WHERE: dict[str, str] = {
    "Ledger": "ledger",
    "open_ledger": "ledger",
    "AgentMode": "projections",
    "AlertManager": "projections",
    "AlertSeverity": "projections",
    "AnomalyDetector": "projections",
    "AnomalyThreshold": "projections",
    "AnomalyType": "projections",
    "CallbackAlertChannel": "projections",
    "CircuitBreaker": "projections",
    "CircuitBreakerConfig": "projections",
    "CircuitBreakerRegistry": "projections",
    "CircuitState": "projections",
    "CostBudget": "projections",
    "CostTracker": "projections",
    "Evidence": "projections",
    "EvidenceCollector": "projections",
    "MemoryMetricStorage": "projections",
    "ModeEnforcer": "projections",
    "RedisMetricStorage": "projections",
    "ReliabilityMetrics": "projections",
    "SLOTracker": "projections",
    "SQLMetricStorage": "projections",
    "Severity": "projections",
    "TrendAnalyzer": "projections",
    "TrendDirection": "projections",
    "BacktestConfig": "replay",
    "DecisionTrail": "replay",
    "DecisionTrailBuilder": "replay",
    "ReplayMode": "replay",
    "Replayer": "replay",
    "RunContext": "replay",
    "StepRecord": "replay",
    "ToolRegistry": "replay",
    "run_backtest": "replay",
    "run_workflow": "replay",
}
"""Each re-exported name's package."""

__all__ = [
    "AgentMode",
    "AlertManager",
    "AlertSeverity",
    "AnomalyDetector",
    "AnomalyThreshold",
    "AnomalyType",
    "BacktestConfig",
    "CallbackAlertChannel",
    "CircuitBreaker",
    "CircuitBreakerConfig",
    "CircuitBreakerRegistry",
    "CircuitState",
    "CostBudget",
    "CostTracker",
    "DecisionTrail",
    "DecisionTrailBuilder",
    "Evidence",
    "EvidenceCollector",
    "Ledger",
    "MemoryMetricStorage",
    "ModeEnforcer",
    "RedisMetricStorage",
    "ReliabilityMetrics",
    "ReplayMode",
    "Replayer",
    "RunContext",
    "SLOTracker",
    "SQLMetricStorage",
    "Severity",
    "StepRecord",
    "ToolRegistry",
    "TrendAnalyzer",
    "TrendDirection",
    "open_ledger",
    "run_backtest",
    "run_workflow",
]


def __getattr__(name: str) -> Any:
    """Import a re-exported name from its package on first use (then cache it here)."""
    try:
        package = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'reliability' has no attribute '{name}'") from None
    value = getattr(importlib.import_module(package), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
