"""A back-test's result: each component's outcome beside what happened, the sweep's rows, as JSON.

The JSON (:meth:`BacktestResult.to_json`) is the one statement of the numbers: the text
rendering (:mod:`replay.backtest.render`) and the recorded summary (``BacktestRecorded``) are
both made from it, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from replay.backtest.alerts import AlertOutcome
from replay.backtest.anomalies import AnomalyOutcome
from replay.backtest.breakers import BreakerOutcome
from replay.backtest.budgets import BudgetOutcome
from replay.backtest.modes import ModeOutcome
from replay.backtest.scan import ScanStats

HEADLINES = {
    "breakers": (
        "opened",
        "refused",
        "failures_avoided",
        "useful_lost",
        "outages",
        "outages_detected",
        "mean_detect_seconds",
        "latency_saved_ms",
        "cost_saved",
    ),
    "budgets": (
        "breaches",
        "first_exceeded",
        "refused_costs",
        "refused_spend",
        "workflows_stopped",
        "stopped_succeeded",
    ),
    "anomalies": ("anomalies", "new", "gone", "precision", "recall", "mean_delay_seconds"),
    "alerts": ("delivered", "suppressed", "below_severity", "pages_per_day_total"),
    "modes": ("newly_denied", "newly_allowed", "denied", "ma"),
}
"""The numbers of each component a sweep row and a recorded summary carry."""


@dataclass(frozen=True)
class Outcomes:
    """Every component's outcome under one set of settings."""

    breakers: tuple[BreakerOutcome, ...] = ()
    budgets: tuple[BudgetOutcome, ...] = ()
    anomalies: AnomalyOutcome | None = None
    alerts: AlertOutcome | None = None
    modes: ModeOutcome | None = None

    def to_json(self) -> dict[str, Any]:
        """The outcomes as JSON (a component not back-tested is absent)."""
        out: dict[str, Any] = {}
        if self.breakers:
            out["breakers"] = [b.to_json() for b in self.breakers]
        if self.budgets:
            out["budgets"] = [b.to_json() for b in self.budgets]
        if self.anomalies is not None:
            out["anomalies"] = self.anomalies.to_json()
        if self.alerts is not None:
            out["alerts"] = self.alerts.to_json()
        if self.modes is not None:
            out["modes"] = self.modes.to_json()
        return out


def headlines(outcomes: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of :meth:`Outcomes.to_json`'s output, flat, keyed ``component.number``
    (``breakers.NAME.opened``, ``anomalies.recall``…)."""
    flat: dict[str, Any] = {}
    for part in ("breakers", "budgets"):
        for item in outcomes.get(part, []):
            for key in HEADLINES[part]:
                flat[f"{part}.{item['name']}.{key}"] = _headline(item, key)
    for part in ("anomalies", "alerts", "modes"):
        item = outcomes.get(part)
        if item is not None:
            for key in HEADLINES[part]:
                flat[f"{part}.{key}"] = _headline(item, key)
    return flat


def _headline(item: dict[str, Any], key: str) -> Any:
    if key == "breaches":
        return len(item["breaches"])
    if key in ("precision", "recall", "mean_delay_seconds"):
        return item["score"][key]
    if key == "pages_per_day_total":
        days = item["days"]
        return item["delivered"] * len(item["per_channel"]) / days if days else None
    return item[key]


def _only(flat: dict[str, Any], component: str | None) -> dict[str, Any]:
    return {k: v for k, v in flat.items() if component is None or k.startswith(f"{component}.")}


@dataclass(frozen=True)
class SweepRow:
    """One value of a swept parameter and the outcomes under it."""

    value: float
    outcomes: Outcomes


@dataclass(frozen=True)
class BacktestResult:
    """A back-test: the window, what was scanned, the outcomes, and the sweep's rows if any.

    Attributes:
        since: the window's start (``None``: the first event).
        until: its end, exclusive (``None``: after the last event).
        stats: what the one scan read.
        settings: the settings tried, as JSON.
        outcomes: the outcomes under those settings (a sweep's first value, when sweeping).
        sweep_parameter: the swept parameter (``None``: no sweep).
        sweep: one row per value.
        sweep_component: the component the swept parameter belongs to (its numbers are the
            rows' columns).
    """

    since: datetime | None
    until: datetime | None
    stats: ScanStats
    settings: dict[str, Any]
    outcomes: Outcomes
    sweep_parameter: str | None = None
    sweep: tuple[SweepRow, ...] = ()
    sweep_component: str | None = None

    def to_json(self) -> dict[str, Any]:
        """Everything, as JSON (what ``rledger backtest --format json`` writes)."""
        out: dict[str, Any] = {
            "since": None if self.since is None else self.since.isoformat(),
            "until": None if self.until is None else self.until.isoformat(),
            "events_scanned": self.stats.events,
            "through_offset": self.stats.through_offset,
            "settings": self.settings,
            **self.outcomes.to_json(),
        }
        if self.sweep_parameter is not None:
            out["sweep"] = {
                "parameter": self.sweep_parameter,
                "component": self.sweep_component,
                "rows": [
                    {"value": r.value, **_only(headlines(r.outcomes.to_json()), self.sweep_component)}
                    for r in self.sweep
                ],
            }
        return out

    def summary(self) -> dict[str, Any]:
        """The headline numbers (what ``--record`` stores), with the sweep's rows if any."""
        out: dict[str, Any] = headlines(self.outcomes.to_json())
        if self.sweep_parameter is not None:
            out["sweep"] = self.to_json()["sweep"]
        return out
