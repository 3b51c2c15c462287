"""``rledger monitor``: evaluate health, SLO, budget, breaker and anomaly rules and raise alerts."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING

from reliability.commands.options import open_db, when
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output
from reliability.commands.report import parse_budget

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from projections import (
        Alert,
        MonitorResult,
    )


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``monitor``."""
    p = subparsers.add_parser(
        "monitor", help="check health, SLOs, budgets, breakers, anomalies; raise alerts"
    )
    p.add_argument("--once", action="store_true", help="run the checks once and exit")
    p.add_argument(
        "--interval", type=float, default=300.0, metavar="S", help="seconds between runs (default 300)"
    )
    p.add_argument("--iterations", type=int, help="stop after this many runs (default: until Ctrl-C)")
    p.add_argument("--budget", type=parse_budget, action="append", metavar="NAME=LIMIT[/HOURS]")
    p.add_argument("--cooldown", type=float, default=300.0, help="alert cooldown seconds (default 300)")
    p.add_argument("--webhook", help="also POST alerts as JSON to this http(s) URL")
    p.add_argument(
        "--strict",
        action="store_true",
        help="with --once, exit 1 while any rule is violated (delivered or suppressed by a cooldown)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    """Evaluate health, SLO, budget, breaker and anomaly rules and raise alerts, once or every S s."""
    import asyncio  # not at module level: ``rledger --help`` imports this module

    from projections import (
        AlertManager,
        CallbackAlertChannel,
        CostTracker,
        Monitor,
        MonitorConfig,
        WebhookAlertChannel,
    )

    def show(alert: Alert) -> None:
        out.write(f"ALERT [{alert.severity.value}] {alert.title}", flush=True)

    def summary(result: MonitorResult) -> None:
        out.write(
            f"{when(result.at)} checked: {len(result.health_violations)} health, "
            f"{len(result.slo_violations)} SLO violation(s), {len(result.budgets_exceeded)} budget(s) "
            f"exceeded, {len(result.open_breakers)} open breaker(s), {len(result.anomalies)} anomal(y/ies); "
            f"{len(result.delivered)} alert(s) delivered, "
            f"{len(result.alerts) - len(result.delivered)} suppressed",
            flush=True,
        )

    with open_db(args) as ledger:
        costs = CostTracker(ledger=ledger)
        for budget in args.budget or []:
            costs.set_budget(budget, record=False)  # an override for this run only
        monitor = Monitor(
            ledger=ledger,
            costs=costs,
            alerts=AlertManager(ledger=ledger, cooldown_seconds=args.cooldown),
            config=MonitorConfig(interval_seconds=args.interval),
        )
        monitor.alerts.add_channel("stdout", CallbackAlertChannel(show))
        if args.webhook:
            monitor.alerts.add_channel("webhook", WebhookAlertChannel(args.webhook))
        if args.once:
            result = asyncio.run(monitor.run_once())
            summary(result)
            # A rule is violated whether or not its alert was delivered: a cooldown only keeps
            # a channel quiet, it does not make the ledger healthy.
            if args.strict and result.healthy is None:
                # As `report --strict`: a gate on a ledger (or window) with no data judged nothing.
                out.error(
                    "monitor --strict: nothing was measured (no SVR, CR, PC, HIR or MA data): no verdict"
                )
                return EXIT_FAILED
            return EXIT_FAILED if args.strict and result.alerts else EXIT_OK
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a monitor loop ends
            asyncio.run(monitor.run(iterations=args.iterations, on_result=summary))
    return EXIT_OK
