"""``rledger backtest``: what other breaker, budget, anomaly, alert or mode settings would have done.

Reads the recorded history once and reports each component's what-if beside what happened; runs
no tool and writes nothing unless ``--record`` (one ``BacktestRecorded`` summary event). Bad
input — an unknown breaker, budget, metric or agent, a parameter a component lacks, a malformed
range, a window with no events — is an error naming it, exit 2.
"""

from __future__ import annotations

import argparse

from reliability.commands.options import open_db, parse_time
from reliability.commands.output import EXIT_OK, EXIT_USAGE, Output


def _words(value: str) -> list[str]:
    return [w for w in value.split(",") if w.strip()]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``backtest``."""
    p = subparsers.add_parser(
        "backtest",
        help="re-fold recorded history under other breaker, budget, anomaly, alert or mode settings",
    )
    p.add_argument(
        "--breaker",
        nargs="+",
        action="append",
        default=[],
        metavar="NAME [KEY=VALUE",
        help="a recorded breaker or a tool, and thresholds to change: failure_threshold, "
        "success_threshold, timeout_seconds, window_seconds, half_open_max_calls",
    )
    p.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="NAME[=LIMIT[/HOURS]][,category:C=L][,agent:A=L]",
        help="a budget to try (NAME alone: as recorded)",
    )
    p.add_argument(
        "--anomaly",
        nargs="+",
        action="append",
        default=[],
        metavar="METRIC [min=…] [max=…] [change=…] [severity=…]",
        help="a threshold for a recorded metric",
    )
    p.add_argument("--z", type=float, help="the z-score above which a value is an anomaly (default 3)")
    p.add_argument(
        "--min-baseline", type=int, help="previous values needed for the z-score test (default 10)"
    )
    p.add_argument("--baseline-size", type=int, help="at most this many previous values (default 100)")
    p.add_argument("--incidents", metavar="FILE", help="incidents: JSON lines (id, start, end) or CSV")
    p.add_argument("--cooldown", type=float, metavar="S", help="alert cooldown in seconds (default 300)")
    p.add_argument("--min-severity", help="deliver only alerts of this severity or above")
    p.add_argument("--mode", action="append", default=[], metavar="AGENT=MODE", help="a mode to try")
    p.add_argument("--read-words", type=_words, metavar="W,W…", help="the verbs that make an action a read")
    p.add_argument("--write-words", type=_words, metavar="W,W…", help="the verbs that make an action a write")
    p.add_argument("--sweep", metavar="PARAM=A..B[:STEP]", help="one row per value (or PARAM=v1,v2,…)")
    p.add_argument("--since", type=parse_time, help="window start (ISO 8601; naive = UTC)")
    p.add_argument("--until", type=parse_time, help="window end, exclusive")
    p.add_argument("--include-replays", action="store_true", help="count replay runs too")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--record", action="store_true", help="append a BacktestRecorded summary event")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    """Back-test the settings given; print the what-if beside what happened."""
    # Imported here: the folds load only when a back-test runs, so `rledger --help` starts fast.
    from replay import BacktestError, backtest_config, record_backtest, render_backtest, run_backtest

    try:
        config = backtest_config(
            breakers=args.breaker,
            budgets=args.budget,
            anomalies=args.anomaly,
            z=args.z,
            min_baseline=args.min_baseline,
            baseline_size=args.baseline_size,
            incidents=args.incidents,
            cooldown=args.cooldown,
            min_severity=args.min_severity,
            modes=args.mode,
            read_words=args.read_words,
            write_words=args.write_words,
            sweep=args.sweep,
            include_replays=args.include_replays,
        )
        with open_db(args) as ledger:
            result = run_backtest(ledger, config, since=args.since, until=args.until)
            if args.record:
                record_backtest(ledger, result)
    except BacktestError as exc:
        out.error(f"error: {exc}")
        return EXIT_USAGE
    if args.format == "json":
        out.json_line(result.to_json())
    else:
        for line in render_backtest(result):
            out.write(line)
        if args.record:
            out.error("recorded a BacktestRecorded event")
    return EXIT_OK
