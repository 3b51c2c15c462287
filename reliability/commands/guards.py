"""``rledger alerts``, ``breakers`` and ``violations``: what the guards recorded."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from reliability.commands.options import open_db, parse_time, table, when
from reliability.commands.output import EXIT_OK, Output

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from projections import AlertSeverity

ALERT_HEADERS = ("raised_at", "severity", "type", "source", "title", "delivery", "ack", "id")
BREAKER_KEYS = ("breaker", "state", "since", "successes", "failures", "rejected", "transitions")
VIOLATION_KEYS = ("timestamp", "agent", "mode", "attempted_action", "violation_type", "workflow_id")
VIOLATION_HEADERS = ("timestamp", "agent", "mode", "action", "violation", "workflow")


def _positive(value: str) -> float:
    seconds = float(value)
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"'{value}' is not a positive number of seconds")
    return seconds


def _severity(value: str) -> AlertSeverity:
    """``AlertSeverity.parse``, imported when the option is given (not to draw ``--help``)."""
    from projections import AlertSeverity

    return AlertSeverity.parse(value)


_severity.__name__ = "severity"  # argparse names the type in its error: "invalid severity value"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``alerts``, ``breakers`` and ``violations``."""
    p = subparsers.add_parser("alerts", help="recorded alerts, newest last, with their deliveries")
    p.add_argument("--since", type=parse_time, help="raised at or after (ISO 8601; naive = UTC)")
    p.add_argument(
        "--severity",
        type=_severity,
        help="this severity or above: info, warning, high (error), critical",
    )
    p.add_argument("--all", action="store_true", help="include alerts suppressed by a cooldown")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=alerts)

    p = subparsers.add_parser("breakers", help="circuit breakers in the ledger: state and counters")
    p.add_argument(
        "--timeout-seconds",
        type=_positive,
        default=None,
        help="judge every breaker by this open timeout (default: each breaker's recorded one, "
        "60 for a breaker that recorded none)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=breakers)

    p = subparsers.add_parser("violations", help="recorded mode violations")
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--since", type=parse_time, help="at or after (ISO 8601; naive = UTC)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=violations)


def alerts(args: argparse.Namespace, out: Output) -> int:
    """List recorded alerts at a severity or above, with their deliveries."""
    from projections import AlertManager

    with open_db(args) as ledger:
        manager = AlertManager(ledger=ledger)
        found = manager.get_alerts(args.since, args.severity, include_suppressed=args.all)
        suppressed = manager.suppressed_count()
    if args.format == "json":
        for alert in found:
            out.json_line(alert.to_json())
        return EXIT_OK
    rows = [
        (
            when(a.timestamp),
            a.severity.value,
            a.alert_type,
            a.source,
            a.title,
            "suppressed"
            if a.suppressed
            else ", ".join(f"{d.channel} {'ok' if d.success else 'FAILED'}" for d in a.deliveries) or "-",
            a.acknowledged_by or ("yes" if a.acknowledged else ""),
            str(a.id),
        )
        for a in found
    ]
    out.write(table(rows, ALERT_HEADERS))
    out.write(f"{len(found)} alert(s); {suppressed} suppressed by cooldowns in all")
    return EXIT_OK


def breakers(args: argparse.Namespace, out: Output) -> int:
    """List every circuit breaker in the ledger with its state and counters."""
    from ledger import from_epoch_us, to_epoch_us
    from projections import BreakerProjection, CircuitState
    from projections.fold import fold_new
    from projections.guards import half_open_due

    with open_db(args) as ledger:
        projection = BreakerProjection()
        fold_new(ledger, projection)
    now_us = to_epoch_us(datetime.now(UTC))
    rows: list[tuple[str, str, str, int, int, int, int]] = []
    dues: list[bool] = []
    for name, fold in sorted(projection.breakers.items()):
        core = fold.core
        config = fold.config
        if args.timeout_seconds is not None:
            config = dataclasses.replace(config, timeout_seconds=args.timeout_seconds)
        # Reading writes nothing: a due move to half-open is shown, and made by the next
        # breaker to act; the stored state stays what it is.
        due = core.state is CircuitState.OPEN and half_open_due(core, config, now_us) is not None
        since = None if core.since_us is None else from_epoch_us(core.since_us)
        rows.append(
            (
                name,
                core.state.value,
                when(since),
                fold.successes,
                fold.failures,
                fold.rejected,
                fold.transitions,
            )
        )
        dues.append(due)
    if args.format == "json":
        for row, due in zip(rows, dues, strict=True):
            out.json_line({**dict(zip(BREAKER_KEYS, row, strict=True)), "half_open_due": due})
        return EXIT_OK
    shown = [(r[0], "half_open (due)" if due else r[1], *r[2:]) for r, due in zip(rows, dues, strict=True)]
    out.write(table(shown, BREAKER_KEYS))
    return EXIT_OK


def violations(args: argparse.Namespace, out: Output) -> int:
    """List recorded mode violations, for one agent or all."""
    from projections import ModeEnforcer

    with open_db(args) as ledger:
        found = ModeEnforcer(ledger=ledger).get_violations(args.agent, since=args.since)
    rows = [
        (when(v.timestamp), v.agent, v.mode, v.attempted_action, v.violation_type, v.workflow_id or "")
        for v in found
    ]
    if args.format == "json":
        for row in rows:
            out.json_line(dict(zip(VIOLATION_KEYS, row, strict=True)))
        return EXIT_OK
    out.write(table(rows, VIOLATION_HEADERS))
    out.write(f"{len(rows)} violation(s)")
    return EXIT_OK
