"""The back-test's settings from their command-line spellings, each error naming what it could not read.

- ``--breaker NAME [KEY=VALUE …]``: ``parse_breaker(["api", "failure_threshold=3"])``
- ``--budget NAME[=LIMIT[/HOURS]][,category:C=L][,agent:A=L]``: ``parse_budget("daily=10/24,agent:coder=2")``
- ``--anomaly METRIC [min=…] [max=…] [change=…] [severity=…]``: ``parse_anomaly(["latency", "max=500"])``
- ``--mode AGENT=MODE``: ``parse_mode("executor=explore")``
- ``--sweep PARAM=A..B[:STEP]`` or ``PARAM=v1,v2,…``: ``parse_sweep("failure_threshold=2..10")``
- ``--incidents FILE``: JSON lines ``{"id": …, "start": …, "end": …}`` or CSV ``id,start,end``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import orjson

from ledger import as_utc
from projections.alerting import AlertSeverity
from projections.guards import AgentMode, ModeRules
from projections.metrics import CostBudget
from projections.signals import AnomalyRules, AnomalySeverity, AnomalyThreshold
from replay.backtest.config import (
    AlertSetting,
    AnomalySetting,
    BacktestConfig,
    BreakerSetting,
    BudgetSetting,
    Incident,
    ModeSetting,
    Sweep,
)
from replay.backtest.errors import BacktestError

MAX_SWEEP_VALUES = 1000


def _number(subject: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise BacktestError(subject, text, "is not a number") from None
    if not math.isfinite(value):
        raise BacktestError(subject, text, "is not a finite number")
    return value


def _pairs(subject: str, items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise BacktestError(subject, item, "expected KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def parse_breaker(words: Sequence[str]) -> BreakerSetting:
    """``NAME [KEY=VALUE …]`` → a :class:`BreakerSetting` (an unknown key is named)."""
    if not words or "=" in words[0]:
        raise BacktestError("breaker", " ".join(words), "expected NAME [KEY=VALUE …]")
    pairs = _pairs("parameter", words[1:])
    return BreakerSetting(words[0], {k: _value(k, v) for k, v in pairs.items()})


def _value(key: str, text: str) -> float:
    try:
        return _number("parameter", text)
    except BacktestError:
        raise BacktestError("parameter", f"{key}={text}", "is not a number") from None


def _money(subject: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BacktestError(subject, text, "is not an amount") from None
    if not value.is_finite() or value < 0:
        raise BacktestError(subject, text, "must be a finite amount, not negative")
    return value


def parse_budget(text: str) -> BudgetSetting:
    """``NAME`` (as recorded) or ``NAME=LIMIT[/HOURS][,category:C=L][,agent:A=L]``."""
    head, *limits = text.split(",")
    name, sep, rest = head.partition("=")
    name = name.strip()
    if not name:
        raise BacktestError("budget", text, "expected NAME[=LIMIT[/HOURS]]")
    if not sep:
        if limits:
            raise BacktestError(
                "budget", text, "category and agent limits need a total: NAME=LIMIT[/HOURS],…"
            )
        return BudgetSetting(name)
    amount, slash, hours = rest.partition("/")
    period = _number("budget", hours) if slash else None
    if period is not None and period <= 0:
        raise BacktestError("budget", text, "the period in hours must be positive")
    categories: dict[str, Decimal] = {}
    agents: dict[str, Decimal] = {}
    for item in limits:
        scope, eq, value = item.partition("=")
        kind, colon, who = scope.partition(":")
        if not eq or not colon or not who or kind not in ("category", "agent"):
            raise BacktestError("budget", item, "expected category:NAME=LIMIT or agent:NAME=LIMIT")
        (categories if kind == "category" else agents)[who.strip()] = _money("budget", value.strip())
    budget = CostBudget(name, _money("budget", amount.strip()), period, categories, agents)
    return BudgetSetting(name, budget)


def parse_anomaly(words: Sequence[str]) -> AnomalyThreshold:
    """``METRIC [min=…] [max=…] [change=PERCENT] [severity=…]`` → an :class:`AnomalyThreshold`."""
    if not words or "=" in words[0]:
        raise BacktestError("anomaly", " ".join(words), "expected METRIC [min=…] [max=…]")
    pairs = _pairs("anomaly", words[1:])
    known = ("min", "max", "change", "severity")
    for key in pairs:
        if key not in known:
            raise BacktestError("parameter", key, "an anomaly threshold has no such parameter", known)
    severity = AnomalySeverity.MEDIUM
    if "severity" in pairs:
        try:
            severity = AnomalySeverity(pairs["severity"].lower())
        except ValueError:
            raise BacktestError(
                "severity", pairs["severity"], "unknown", [s.value for s in AnomalySeverity]
            ) from None
    values = {k: _value(k, v) for k, v in pairs.items() if k != "severity"}
    if not values:
        raise BacktestError("anomaly", words[0], "give min=, max= or change=")
    return AnomalyThreshold(words[0], values.get("min"), values.get("max"), values.get("change"), severity)


def parse_mode(text: str) -> tuple[str, AgentMode]:
    """``AGENT=MODE`` → ``(agent, mode)``."""
    agent, sep, mode = text.partition("=")
    if not sep or not agent.strip():
        raise BacktestError("mode", text, "expected AGENT=MODE")
    try:
        return agent.strip(), AgentMode(mode.strip().lower())
    except ValueError:
        raise BacktestError("mode", mode, "unknown", [m.value for m in AgentMode]) from None


def parse_sweep(text: str) -> Sweep:
    """``PARAM=A..B[:STEP]`` (inclusive; step 1 by default) or ``PARAM=v1,v2,…``."""
    param, sep, spec = text.partition("=")
    if not sep or not param.strip() or not spec.strip():
        raise BacktestError("range", text, "expected PARAM=A..B[:STEP] or PARAM=v1,v2,…")
    spec = spec.strip()
    if ".." in spec:
        span, colon, step_text = spec.partition(":")
        lo_text, _, hi_text = span.partition("..")
        lo, hi = _number("range", lo_text), _number("range", hi_text)
        step = _number("range", step_text) if colon else 1.0
        if step <= 0 or hi < lo:
            raise BacktestError("range", spec, "needs A <= B and a positive step")
        count = math.floor((hi - lo) / step + 1e-9) + 1
        if count > MAX_SWEEP_VALUES:
            raise BacktestError("range", spec, f"has {count} values (at most {MAX_SWEEP_VALUES})")
        values = tuple(round(lo + i * step, 12) for i in range(count))
    else:
        values = tuple(_number("range", v) for v in spec.split(","))
    return Sweep(param.strip(), values)


def _time(subject: str, where: str, text: str) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(text.strip()))
    except ValueError:
        raise BacktestError(subject, where, "is not an ISO 8601 time") from None


def parse_incidents(path: str | Path) -> tuple[Incident, ...]:
    """Incidents from a file: JSON lines (``id``, ``start``, ``end``) or CSV rows ``id,start,end``.

    Raises:
        FileNotFoundError: there is no such file.
        BacktestError: a line that is not an incident, named by its number.
    """
    text = Path(path).read_text()
    out: list[Incident] = []
    lines = [line for line in text.splitlines() if line.strip()]
    json_lines = bool(lines) and lines[0].lstrip().startswith("{")
    rows = lines if json_lines else list(csv.reader(io.StringIO("\n".join(lines))))
    for n, row in enumerate(rows, 1):
        where = f"{path}:{n}"
        if json_lines:
            try:
                data = orjson.loads(row)  # type: ignore[arg-type]
            except orjson.JSONDecodeError:
                raise BacktestError("incidents", where, "is not JSON") from None
            if not isinstance(data, dict) or "start" not in data:
                raise BacktestError("incidents", where, 'expected {"id": …, "start": …, "end": …}')
            ident, start, end = str(data.get("id", n)), str(data["start"]), data.get("end")
        else:
            cells = [c.strip() for c in row]
            if n == 1 and cells[:2] == ["id", "start"]:
                continue  # a header row
            if len(cells) not in (2, 3):
                raise BacktestError("incidents", where, "expected id,start[,end]")
            ident, start, end = cells[0], cells[1], cells[2] if len(cells) == 3 and cells[2] else None
        began = _time("incidents", f"{where}: start {start}", start)
        ended = None if end is None else _time("incidents", f"{where}: end {end}", str(end))
        if ended is not None and ended <= began:
            raise BacktestError("incidents", where, "ends before it starts")
        out.append(Incident(ident, began, ended))
    if not out:
        raise BacktestError("incidents", str(path), "holds no incidents")
    return tuple(out)


def backtest_config(
    *,
    breakers: Sequence[Sequence[str]] = (),
    budgets: Sequence[str] = (),
    anomalies: Sequence[Sequence[str]] = (),
    z: float | None = None,
    min_baseline: int | None = None,
    baseline_size: int | None = None,
    incidents: str | Path | None = None,
    cooldown: float | None = None,
    min_severity: str | None = None,
    modes: Sequence[str] = (),
    read_words: Sequence[str] | None = None,
    write_words: Sequence[str] | None = None,
    sweep: str | None = None,
    include_replays: bool = False,
) -> BacktestConfig:
    """A :class:`BacktestConfig` from the command line's spellings (``rledger backtest``'s options).

    Anomalies are back-tested when any anomaly option is given, alerts when ``cooldown`` or
    ``min_severity`` is, modes when ``modes`` or a verb list is.

    Raises:
        BacktestError: a setting it cannot read, named.
        FileNotFoundError: no ``incidents`` file.
    """
    anomaly = None
    if anomalies or z is not None or min_baseline is not None or baseline_size is not None or incidents:
        defaults = AnomalyRules()
        levels = defaults.z_thresholds if z is None else (z, z + 1.0, z + 2.0)
        if not (levels[0] > 0):
            raise BacktestError("parameter", f"z={z}", "must be positive")
        floor = defaults.min_baseline_samples if min_baseline is None else min_baseline
        size = baseline_size if baseline_size is not None else max(defaults.baseline_size, floor)
        try:
            rules = AnomalyRules(floor, size, levels, None, tuple(parse_anomaly(w) for w in anomalies))
        except ValueError as exc:
            raise BacktestError("parameter", f"min_baseline={floor} baseline_size={size}", str(exc)) from exc
        anomaly = AnomalySetting(rules, tuple(w[0] for w in anomalies if w))
    alerts = None
    if cooldown is not None or min_severity is not None:
        severity = None
        if min_severity is not None:
            try:
                severity = AlertSeverity.parse(min_severity)
            except ValueError:
                known = [s.value for s in AlertSeverity]
                raise BacktestError("severity", min_severity, "unknown", known) from None
        alerts = AlertSetting(300.0 if cooldown is None else cooldown, severity)
    mode = None
    if modes or read_words is not None or write_words is not None:
        rules_ = ModeRules()
        if read_words is not None:
            rules_ = dataclasses.replace(rules_, read_words=frozenset(read_words))
        if write_words is not None:
            rules_ = dataclasses.replace(rules_, write_words=frozenset(write_words))
        mode = ModeSetting(dict(parse_mode(m) for m in modes), rules_)
    return BacktestConfig(
        breakers=tuple(parse_breaker(b) for b in breakers),
        budgets=tuple(parse_budget(b) for b in budgets),
        anomalies=anomaly,
        alerts=alerts,
        modes=mode,
        incidents=() if incidents is None else parse_incidents(incidents),
        sweep=None if sweep is None else parse_sweep(sweep),
        include_replays=include_replays,
    )
