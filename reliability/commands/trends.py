"""``rledger trends``: a metric's trend, forecast and predicted breach."""

from __future__ import annotations

import argparse

from reliability.commands.options import open_db, table, when
from reliability.commands.output import EXIT_OK, Output

BUILTIN_NAMES = ("svr", "cr", "pc", "hir", "ma", "tcl", "wct")
"""``projections.signals.BUILTIN_SERIES`` for the help text, without loading the projections
(numpy) to draw ``rledger --help``; ``tests/reliability/test_startup.py`` checks they are equal."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``trends``."""
    p = subparsers.add_parser("trends", help="a metric's trend, forecast and predicted breach")
    p.add_argument(
        "metric",
        help="a recorded metric (MetricRecorded), else a built-in computed hourly (each point the "
        "hour ending at its time, so the last may be the hour now under way): " + ", ".join(BUILTIN_NAMES),
    )
    p.add_argument("--hours", type=int, default=24, help="lookback window in hours (default 24)")
    p.add_argument("--forecast", type=int, default=0, metavar="H", help="forecast H hours ahead")
    p.add_argument("--threshold", type=float, help="predict when the trend breaches this value")
    p.add_argument("--min-points", type=int, default=10, help="points needed for a fit (default 10)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    """Fit the trend of a metric: a recorded series, else a built-in computed hourly."""
    from projections import ReliabilityMetrics, TrendAnalyzer
    from projections.signals import BUILTIN_SERIES

    with open_db(args) as ledger:
        analyzer = TrendAnalyzer(args.min_points, ledger=ledger, lookback_hours=args.hours)
        if analyzer.points(args.metric):
            source = "recorded values"
        elif args.metric in BUILTIN_SERIES:
            projection = ReliabilityMetrics(ledger=ledger).projection()
            analyzer.load_reliability_series(projection, args.metric, hours=args.hours)
            source = f"hourly {args.metric.upper()} from the reliability projection"
        else:
            raise ValueError(
                f"no recorded metric '{args.metric}' in the ledger, and it is not a built-in "
                f"({', '.join(BUILTIN_SERIES)})"
            )
        points = analyzer.points(args.metric)
        trend = analyzer.analyze(args.metric)
        forecast = analyzer.forecast(args.metric, args.forecast) if args.forecast else []
        breach = (
            None
            if args.threshold is None
            else analyzer.detect_degradation(args.metric, args.threshold, args.forecast or 24)
        )
    if args.format == "json":
        out.json_line(
            {
                "metric": args.metric,
                "source": source,
                "points": [[t.isoformat(), v] for t, v in points],
                "trend": trend,  # the TrendAnalysis dataclass, field by field
                "forecast": [[t.isoformat(), v] for t, v in forecast],
                "degradation": breach,
            }
        )
        return EXIT_OK
    window = [(t, v) for t, v in points if trend.start <= t <= trend.end]
    out.write(table([(when(t), f"{v:g}") for t, v in window], ("time", args.metric)))
    out.write()
    out.write(
        f"{args.metric} ({source}): {trend.direction.value.upper()} over {trend.data_points} point(s) "
        f"{when(trend.start)} .. {when(trend.end)}"
    )
    out.write(
        f"  slope {trend.slope:+.6g}/h, R² {trend.confidence:.3f}, current {trend.current_value:g}, "
        f"predicted next hour {trend.predicted_value:g} ({trend.polarity.replace('_', ' ')})"
    )
    if forecast:
        out.write()
        out.write(table([(when(t), f"{v:g}") for t, v in forecast], ("forecast", args.metric)))
    if args.threshold is not None:
        if breach is None:
            out.write(f"  no breach of {args.threshold:g} forecast within {args.forecast or 24} h")
        else:
            out.write(
                f"  breach of {args.threshold:g} in {breach['hours_until_breach']:.1f} h "
                f"(at {when(breach['breach_time'])}, value {breach['breach_value']:g})"
            )
    return EXIT_OK
