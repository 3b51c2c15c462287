"""A back-test's settings as JSON (what the result and ``BacktestRecorded`` carry), and a sweep's variants.

A sweep names one numeric parameter of a component being back-tested — a breaker's
(``failure_threshold``, ``window_seconds``…; one ``--breaker``), a budget's ``limit`` or
``hours`` (one ``--budget``), the anomaly rules' ``z``, ``min_baseline`` or ``baseline_size``,
the alerts' ``cooldown`` — and each value is the same settings with that one changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from projections.signals import AnomalyRules
from replay.backtest.config import (
    BREAKER_PARAMETERS,
    AlertSetting,
    AnomalySetting,
    BacktestConfig,
    BreakerSetting,
    BudgetSetting,
    Sweep,
)
from replay.backtest.errors import BacktestError

BUDGET_PARAMETERS = ("limit", "hours")
ANOMALY_PARAMETERS = ("z", "min_baseline", "baseline_size")
ALERT_PARAMETERS = ("cooldown",)


def settings_json(config: BacktestConfig) -> dict[str, Any]:
    """The settings tried, as JSON (``recorded`` where a component decides as recorded)."""
    out: dict[str, Any] = {"include_replays": config.include_replays}
    if config.breakers:
        out["breakers"] = [
            {"name": b.name, "overrides": dict(b.overrides) or "recorded"} for b in config.breakers
        ]
    if config.budgets:
        out["budgets"] = [
            {
                "name": s.name,
                "limits": "recorded"
                if s.budget is None
                else {
                    "total_limit": str(s.budget.total_limit),
                    "period_hours": s.budget.period_hours,
                    "category_limits": {k: str(v) for k, v in s.budget.category_limits.items()},
                    "agent_limits": {k: str(v) for k, v in s.budget.agent_limits.items()},
                },
            }
            for s in config.budgets
        ]
    if config.anomalies is not None:
        r = config.anomalies.rules
        out["anomalies"] = {
            "z": list(r.z_thresholds),
            "min_baseline": r.min_baseline_samples,
            "baseline_size": r.baseline_size,
            "thresholds": [
                {"metric": t.metric_name, "min": t.min_value, "max": t.max_value} for t in r.thresholds
            ],
            "metrics": list(config.anomalies.metrics),
        }
    if config.alerts is not None:
        a = config.alerts
        out["alerts"] = {
            "cooldown_seconds": a.cooldown_seconds,
            "min_severity": None if a.min_severity is None else a.min_severity.value,
        }
    if config.modes is not None:
        out["modes"] = {agent: mode.value for agent, mode in config.modes.modes.items()}
    if config.incidents:
        out["incidents"] = len(config.incidents)
    if config.sweep is not None:
        out["sweep"] = {"parameter": config.sweep.parameter, "values": list(config.sweep.values)}
    return out


def sweep_component(parameter: str) -> str:
    """The component (a result key) a sweepable parameter belongs to."""
    if parameter in BREAKER_PARAMETERS:
        return "breakers"
    if parameter in BUDGET_PARAMETERS:
        return "budgets"
    return "anomalies" if parameter in ANOMALY_PARAMETERS else "alerts"


def _available(config: BacktestConfig) -> list[str]:
    known: list[str] = []
    if config.breakers:
        known += BREAKER_PARAMETERS
    if config.budgets:
        known += BUDGET_PARAMETERS
    if config.anomalies is not None:
        known += ANOMALY_PARAMETERS
    if config.alerts is not None:
        known += ALERT_PARAMETERS
    return known


def sweep_variants(
    config: BacktestConfig, sweep: Sweep, bases: dict[str, Any]
) -> list[tuple[float, BacktestConfig]]:
    """One copy of ``config`` per swept value, with that value set.

    Raises:
        BacktestError: the parameter belongs to no component back-tested, or needs exactly
            one breaker or budget, or a value is out of its range.
    """
    p = sweep.parameter
    if p not in _available(config):
        raise BacktestError(
            "parameter", p, "no component back-tested has it (sweep one of theirs)", _available(config)
        )
    make = _maker(config, p, bases)
    out = []
    for value in sweep.values:
        try:
            out.append((value, make(value)))
        except ValueError as exc:
            raise BacktestError("sweep", f"{p}={value:g}", str(exc)) from exc
    return out


def _one(items: tuple[Any, ...], what: str, p: str) -> Any:
    if len(items) != 1:
        raise BacktestError(
            "sweep", p, f"sweeping a {what} parameter needs exactly one {what} (got {len(items)})"
        )
    return items[0]


def _maker(config: BacktestConfig, p: str, bases: dict[str, Any]) -> Callable[[float], BacktestConfig]:
    replace = dataclasses.replace
    if p in BREAKER_PARAMETERS:
        b: BreakerSetting = _one(config.breakers, "breaker", p)
        return lambda v: replace(config, breakers=(BreakerSetting(b.name, {**b.overrides, p: v}),))
    if p in BUDGET_PARAMETERS:
        s: BudgetSetting = _one(config.budgets, "budget", p)
        budget = s.budget or bases.get("budgets", {}).get(s.name)
        if budget is None:
            raise BacktestError(
                "budget",
                s.name,
                "is not in force at the end of the window: give NAME=LIMIT[/HOURS] to sweep it",
            )
        field = "total_limit" if p == "limit" else "period_hours"
        return lambda v: replace(config, budgets=(BudgetSetting(s.name, replace(budget, **{field: v})),))
    if p in ANOMALY_PARAMETERS:
        a: AnomalySetting = config.anomalies  # type: ignore[assignment]
        r = a.rules

        def anomaly(v: float) -> BacktestConfig:
            if p == "z":
                m, h, c = r.z_thresholds
                rules: AnomalyRules = replace(r, z_thresholds=(v, v + h - m, v + c - m))
            elif p == "min_baseline":
                rules = replace(r, min_baseline_samples=int(v), baseline_size=max(r.baseline_size, int(v)))
            else:
                rules = replace(r, baseline_size=int(v))
            return replace(config, anomalies=replace(a, rules=rules))

        return anomaly
    alert: AlertSetting = config.alerts  # type: ignore[assignment]
    return lambda v: replace(config, alerts=replace(alert, cooldown_seconds=v))
