"""Back-testing on recorded history: what another breaker, budget, anomaly, alert or mode setting
would have done, beside what happened, without running a tool or writing to the ledger.

``backtest(ledger, BacktestConfig(...), since=…, until=…)`` reads the window once and decides
again with each component's own rules; ``record_backtest`` appends the summary
(``BacktestRecorded``) when asked. ``rledger backtest`` is the command.
"""

from replay.backtest.config import (
    BREAKER_PARAMETERS,
    OUTAGE_MIN_FAILURES,
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
from replay.backtest.parse import (
    backtest_config,
    parse_anomaly,
    parse_breaker,
    parse_budget,
    parse_incidents,
    parse_mode,
    parse_sweep,
)
from replay.backtest.render import render_text
from replay.backtest.result import BacktestResult, Outcomes, SweepRow
from replay.backtest.run import backtest, record_backtest

run_backtest = backtest
"""The name :mod:`replay` and :mod:`reliability` export :func:`backtest` under (there,
``replay.backtest`` is this package)."""

__all__ = [
    "BREAKER_PARAMETERS",
    "OUTAGE_MIN_FAILURES",
    "AlertSetting",
    "AnomalySetting",
    "BacktestConfig",
    "BacktestError",
    "BacktestResult",
    "BreakerSetting",
    "BudgetSetting",
    "Incident",
    "ModeSetting",
    "Outcomes",
    "Sweep",
    "SweepRow",
    "backtest",
    "backtest_config",
    "parse_anomaly",
    "parse_breaker",
    "parse_budget",
    "parse_incidents",
    "parse_mode",
    "parse_sweep",
    "record_backtest",
    "render_text",
    "run_backtest",
]
