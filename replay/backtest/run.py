"""``backtest(ledger, config, since=…, until=…)``: one scan, every component's what-if, beside what happened.

Nothing is written (:func:`record_backtest` appends the summary when asked) and no tool runs:
the back-test reads the recorded events once (:func:`replay.backtest.scan.scan`), then each
component decides again from what its collector kept, with the component's own rules. A sweep
decides again once per value from the same collected events.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from ledger import BacktestRecorded, Ledger, as_utc, to_epoch_us
from projections.fold import Projection
from projections.signals import AnomalyProjection, MetricSeriesProjection
from replay.backtest import alerts, anomalies, breakers, budgets, modes
from replay.backtest.config import (
    BacktestConfig,
)
from replay.backtest.errors import BacktestError
from replay.backtest.result import BacktestResult, Outcomes, SweepRow
from replay.backtest.scan import ReplayWorkflows, ScanStats, scan
from replay.backtest.settings import settings_json, sweep_component, sweep_variants

DAY_US = 86_400_000_000


@dataclasses.dataclass
class _Collected:
    replays: ReplayWorkflows | None
    breakers: breakers.BreakerCollector | None = None
    budgets: budgets.BudgetCollector | None = None
    series: MetricSeriesProjection | None = None
    recorded_anomalies: AnomalyProjection | None = None
    incidents: anomalies.IncidentCollector | None = None
    alerts: alerts.AlertCollector | None = None
    modes: modes.ModeCollector | None = None

    def all(self) -> list[Projection]:
        parts = [
            self.replays,
            self.breakers,
            self.budgets,
            self.series,
            self.recorded_anomalies,
            self.incidents,
            self.alerts,
            self.modes,
        ]
        return [p for p in parts if p is not None]


def _collectors(config: BacktestConfig) -> _Collected:
    replays = None if config.include_replays else ReplayWorkflows()
    c = _Collected(replays)
    if config.breakers:
        c.breakers = breakers.BreakerCollector({b.name for b in config.breakers}, replays)
    if config.budgets:
        c.budgets = budgets.BudgetCollector()
    if config.anomalies is not None:
        c.series, c.recorded_anomalies = MetricSeriesProjection(), AnomalyProjection()
        c.incidents = anomalies.IncidentCollector()
    if config.alerts is not None:
        c.alerts = alerts.AlertCollector()
    if config.modes is not None:
        c.modes = modes.ModeCollector(set(config.modes.modes), replays)
    return c


def _window(since: datetime | None, until: datetime | None) -> tuple[int | None, int | None]:
    lo = None if since is None else to_epoch_us(as_utc(since))
    hi = None if until is None else to_epoch_us(as_utc(until))
    if lo is not None and hi is not None and lo >= hi:
        raise BacktestError("window", f"{since} .. {until}", "its start is not before its end")
    return lo, hi


def backtest(
    ledger: Ledger,
    config: BacktestConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> BacktestResult:
    """Re-fold the recorded history of ``[since, until)`` under ``config``; write nothing.

    Args:
        ledger: the ledger to read.
        config: the settings to try (a component it leaves out is not back-tested).
        since: the window's start (default: the first event); the components start there
            with fresh state, as a component started then would have.
        until: its end, exclusive (default: after the newest event).

    Raises:
        BacktestError: nothing to back-test, a window with no events, or a breaker, budget,
            metric, agent or parameter the ledger or the component does not have.
    """
    if config.empty:
        raise BacktestError(
            "settings",
            "",
            "nothing to back-test: give a breaker, budget, anomaly rule, alert setting or mode",
        )
    lo, hi = _window(since, until)
    collected = _collectors(config)
    stats = scan(ledger, collected.all(), since_us=lo, until_us=hi)
    if stats.events == 0:
        shown = (
            f"{since.isoformat() if since else 'the beginning'} .. {until.isoformat() if until else 'now'}"
        )
        raise BacktestError("window", shown, "holds no events")
    _check(config, collected)
    outcomes = _decide(config, collected, stats, lo, hi)
    rows: tuple[SweepRow, ...] = ()
    if config.sweep is not None:
        base = _bases(config, collected)
        part = sweep_component(config.sweep.parameter)
        rows = tuple(
            SweepRow(value, _decide(_only(variant, part), collected, stats, lo, hi))
            for value, variant in sweep_variants(config, config.sweep, base)
        )
    return BacktestResult(
        since=None if since is None else as_utc(since),
        until=None if until is None else as_utc(until),
        stats=stats,
        settings=settings_json(config),
        outcomes=outcomes,
        sweep_parameter=None if config.sweep is None else config.sweep.parameter,
        sweep=rows,
        sweep_component=None if config.sweep is None else sweep_component(config.sweep.parameter),
    )


def record_backtest(ledger: Ledger, result: BacktestResult) -> BacktestRecorded:
    """Append the result's summary as a ``BacktestRecorded`` event (nothing else is written)."""
    event = BacktestRecorded(
        settings=result.settings,
        summary=result.summary(),
        since=result.since,
        until=result.until,
        events_scanned=result.stats.events,
        through_offset=result.stats.through_offset,
    )
    ledger.append(event)
    return event


def _only(config: BacktestConfig, part: str) -> BacktestConfig:
    """``config`` with only one component: a sweep row re-decides the swept one, not the rest."""
    keep = {
        "breakers": config.breakers if part == "breakers" else (),
        "budgets": config.budgets if part == "budgets" else (),
        "anomalies": config.anomalies if part == "anomalies" else None,
        "alerts": config.alerts if part == "alerts" else None,
    }
    return dataclasses.replace(config, modes=None, **keep)  # type: ignore[arg-type]


def _check(config: BacktestConfig, c: _Collected) -> None:
    """Every name asked about exists in the window (else the answer would be an empty table)."""
    if c.breakers is not None:
        known = c.breakers.breaker_names | c.breakers.tool_names
        for b in config.breakers:
            if b.name not in known:
                raise BacktestError("breaker", b.name, "no breaker or tool of that name in the window", known)
            calls = c.breakers.calls_of(b.name)
            if calls is None or not calls.times:
                raise BacktestError("breaker", b.name, "made no calls in the window")
    if c.budgets is not None:
        for s in config.budgets:
            if s.budget is None and s.name not in c.budgets.names:
                raise BacktestError(
                    "budget",
                    s.name,
                    "no budget of that name was set (give NAME=LIMIT[/HOURS])",
                    c.budgets.names,
                )
    if config.anomalies is not None and c.series is not None:
        names = set(c.series.series)
        asked = {*config.anomalies.metrics, *(t.metric_name for t in config.anomalies.rules.thresholds)}
        if not names:
            raise BacktestError(
                "metric",
                ", ".join(sorted(asked)),
                "no metric values (MetricRecorded) in the window: anomaly back-tests read recorded "
                "metrics (record_metric, POST MetricRecorded events)",
            )
        for metric in sorted(asked):
            if metric not in names:
                raise BacktestError("metric", metric, "no values of that metric in the window", names)
    if c.alerts is not None and not c.alerts.alerts:
        raise BacktestError("alerts", "*", "no alerts (AlertRaised) in the window")
    if config.modes is not None and c.modes is not None:
        for agent in config.modes.modes:
            if agent not in c.modes.agents:
                raise BacktestError(
                    "agent", agent, "no steps or mode checks of that agent in the window", c.modes.agents
                )


def _bases(config: BacktestConfig, c: _Collected) -> dict[str, Any]:
    """What a sweep varies from: the budget in force at the end, for a recorded budget."""
    out: dict[str, Any] = {}
    if c.budgets is not None:
        out["budgets"] = dict(c.budgets.latest())
    return out


def _decide(
    config: BacktestConfig, c: _Collected, stats: ScanStats, lo: int | None, hi: int | None
) -> Outcomes:
    first = lo if lo is not None else stats.first_us
    last = hi if hi is not None else stats.last_us
    days = None if first is None or last is None or last <= first else (last - first) / DAY_US
    out: dict[str, Any] = {}
    if c.breakers is not None:
        out["breakers"] = tuple(
            breakers.simulate(b.name, c.breakers.calls_of(b.name) or breakers.Calls(), b)
            for b in config.breakers
        )
    if c.budgets is not None:
        out["budgets"] = tuple(budgets.simulate(c.budgets, s) for s in config.budgets)
    if config.anomalies is not None and c.series is not None and c.incidents is not None:
        incidents = [*c.incidents.incidents(), *config.incidents]
        end = last if last is not None else 0
        out["anomalies"] = anomalies.simulate(
            c.series, c.recorded_anomalies, config.anomalies, incidents, end
        )
    if config.alerts is not None and c.alerts is not None:
        out["alerts"] = alerts.simulate(c.alerts, config.alerts, days)
    if config.modes is not None and c.modes is not None:
        out["modes"] = modes.simulate(c.modes, config.modes)
    return Outcomes(**out)
