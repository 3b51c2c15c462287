"""What a back-test tries: per component, the alternative settings, as frozen data.

Each setting is the component's own configuration object (``CircuitBreakerConfig``,
``CostBudget``, ``AnomalyRules``, ``ModeRules``) or the overrides to apply to it; ``None``
anywhere means "as recorded" — the thresholds a breaker recorded (``BreakerConfigured``), the
budgets set in the ledger (``BudgetSet``), the modes agents were put in (``AgentModeSet``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from projections.alerting import AlertSeverity
from projections.guards import AgentMode, CircuitBreakerConfig, ModeRules
from projections.metrics import CostBudget
from projections.signals import AnomalyRules
from replay.backtest.errors import BacktestError

BREAKER_PARAMETERS = tuple(f.name for f in dataclasses.fields(CircuitBreakerConfig))
"""The numeric parameters a breaker has (``--breaker NAME failure_threshold=3 …``)."""
_INT_PARAMETERS = {"failure_threshold", "success_threshold", "half_open_max_calls"}

OUTAGE_MIN_FAILURES = 3
"""Consecutive failed calls that make an outage, for time-to-detect (the breaker's own
threshold is not used: that would make the yardstick move with the setting under test)."""


@dataclass(frozen=True)
class BreakerSetting:
    """A breaker to back-test: by name (a recorded breaker, or a tool whose calls it would guard).

    Attributes:
        name: the breaker's name, or a tool's name (its ``ToolCalled`` events are the calls).
        overrides: parameters to change from the recorded (or default) thresholds.
    """

    name: str
    overrides: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, value in self.overrides.items():
            if key not in BREAKER_PARAMETERS:
                raise BacktestError("parameter", key, "a breaker has no such parameter", BREAKER_PARAMETERS)
            if key in _INT_PARAMETERS and value != int(value):
                raise BacktestError("parameter", f"{key}={value:g}", "must be a whole number")

    def config(self, base: CircuitBreakerConfig) -> CircuitBreakerConfig:
        """``base`` with the overrides applied (a bad value is named, not a bare ValueError)."""
        if not self.overrides:
            return base
        values: dict[str, Any] = {
            k: int(v) if k in _INT_PARAMETERS else float(v) for k, v in self.overrides.items()
        }
        try:
            return dataclasses.replace(base, **values)
        except ValueError as exc:
            raise BacktestError("breaker", self.name, str(exc)) from exc


@dataclass(frozen=True)
class BudgetSetting:
    """A budget to back-test: a new or changed one, or (``budget=None``) the recorded one of ``name``."""

    name: str
    budget: CostBudget | None = None


@dataclass(frozen=True)
class AnomalySetting:
    """Anomaly rules to back-test (the detector's settings are not recorded: defaults unless told).

    Attributes:
        rules: thresholds, z-score levels and baseline sizes.
        metrics: the metrics asked about by name (each must have values in the window).
    """

    rules: AnomalyRules = field(default_factory=AnomalyRules)
    metrics: tuple[str, ...] = ()


@dataclass(frozen=True)
class AlertSetting:
    """Alert delivery to back-test over the recorded alerts.

    Attributes:
        cooldown_seconds: the de-duplication cooldown (the manager's default is 300 s; the
            cooldown a manager used is not recorded).
        min_severity: alerts below this are not delivered (``None``: every severity).
    """

    cooldown_seconds: float = 300.0
    min_severity: AlertSeverity | None = None

    def __post_init__(self) -> None:
        if self.cooldown_seconds < 0:
            raise BacktestError("parameter", f"cooldown={self.cooldown_seconds:g}", "must not be negative")


@dataclass(frozen=True)
class ModeSetting:
    """Modes to back-test: agents put in other modes, and (optionally) other verb lists."""

    modes: Mapping[str, AgentMode] = field(default_factory=dict)
    rules: ModeRules = field(default_factory=ModeRules)


@dataclass(frozen=True)
class Incident:
    """A time range ``[start, end)`` in which something was really wrong."""

    incident_id: str
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class Sweep:
    """One numeric parameter tried at several values, every value folded from the same scan."""

    parameter: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class BacktestConfig:
    """Everything one back-test tries (a component left out is not back-tested).

    Attributes:
        breakers: breakers (or tools) to back-test.
        budgets: budgets to back-test.
        anomalies: anomaly rules, or ``None``.
        alerts: alert delivery settings, or ``None``.
        modes: modes, or ``None``.
        incidents: incidents to score anomalies against, besides those in the ledger.
        sweep: a parameter to sweep, or ``None``.
        include_replays: count replay runs (left out by default, as in every report).
    """

    breakers: tuple[BreakerSetting, ...] = ()
    budgets: tuple[BudgetSetting, ...] = ()
    anomalies: AnomalySetting | None = None
    alerts: AlertSetting | None = None
    modes: ModeSetting | None = None
    incidents: tuple[Incident, ...] = ()
    sweep: Sweep | None = None
    include_replays: bool = False

    @property
    def empty(self) -> bool:
        """True when no component is asked about."""
        return not (self.breakers or self.budgets or self.anomalies or self.alerts or self.modes)
