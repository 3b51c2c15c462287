"""``rledger report``: health verdicts and violations, per-agent metrics, SLOs, costs and budgets."""

from __future__ import annotations

import argparse
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from reliability.commands.options import check_window, open_db, parse_time
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from ledger import Ledger
    from projections import (
        CostBudget,
        CostReport,
        MetricsReport,
        SLOReport,
    )


def parse_budget(value: str) -> CostBudget:
    """Parse ``NAME=LIMIT[/HOURS]`` into a budget (e.g. ``daily=100/24``)."""
    from projections import CostBudget

    try:
        name, rest = value.split("=", 1)
        limit, _, hours = rest.partition("/")
        return CostBudget(name=name, total_limit=Decimal(limit), period_hours=float(hours) if hours else None)
    except (ValueError, ArithmeticError):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a budget: use NAME=LIMIT or NAME=LIMIT/HOURS (e.g. daily=100/24)"
        ) from None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``report``."""
    p = subparsers.add_parser("report", help="metrics, health, SLOs, costs and budgets")
    p.add_argument("--since", type=parse_time, help="events that occurred at or after (ISO 8601)")
    p.add_argument("--until", type=parse_time, help="events that occurred before (ISO 8601)")
    p.add_argument("--as-of", type=int, metavar="OFFSET", help="the ledger as it was at this offset")
    p.add_argument("--budget", type=parse_budget, action="append", metavar="NAME=LIMIT[/HOURS]")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--strict", action="store_true", help="exit 1 when a health metric is violated or none has data"
    )
    p.add_argument(
        "--html",
        metavar="FILE",
        help="write the dashboard (overview, agents, costs, workflows) as one self-contained HTML file",
    )
    p.add_argument(
        "--workflow",
        action="append",
        default=[],
        metavar="ID",
        help="with --html: a workflow whose trail the file shows (repeatable; default: --workflows newest)",
    )
    p.add_argument(
        "--workflows",
        type=int,
        default=10,
        metavar="N",
        help="with --html and no --workflow: this many workflows, the newest failed ones first (default 10)",
    )
    p.add_argument(
        "--include-replays",
        action="store_true",
        help="count replay runs in the metrics and costs (default: left out, and counted as excluded)",
    )
    p.set_defaults(run=run)


def report_facades(ledger: Ledger, include_replays: bool = False) -> tuple[Any, Any, Any]:
    """The metrics, SLO and cost facades a full report reads (kept by a server between requests)."""
    from projections import CostTracker, MetricTargets, ReliabilityMetrics, SLOTracker

    return (
        ReliabilityMetrics(ledger=ledger, targets=MetricTargets(include_replays=include_replays)),
        SLOTracker(ledger=ledger),
        CostTracker(ledger=ledger),
    )


def full_report(
    ledger: Ledger, args: argparse.Namespace, facades: tuple[Any, Any, Any] | None = None
) -> dict[str, Any]:
    """The metrics, SLO and cost reports, for the window, budgets and replay scope ``args`` give.

    Replay workflows (``replay_of`` set) are left out of the metrics and costs, and counted as
    excluded, unless ``args.include_replays``. ``facades`` (from :func:`report_facades`, with the
    same replay scope) are reused, so a report folds only the events since their last one; the
    ``--budget`` overrides apply to this report only (the facades' own come back after it).
    """
    replays = bool(getattr(args, "include_replays", False))
    metrics, slo, costs = facades if facades is not None else report_facades(ledger, replays)
    since, until, as_of = (
        getattr(args, "since", None),
        getattr(args, "until", None),
        getattr(args, "as_of", None),
    )
    with costs.overriding(getattr(args, "budget", None) or []):  # for this report only
        return {
            "metrics": metrics.report(since, until, as_of=as_of),
            "slo": slo.report(since, until, as_of=as_of),
            "costs": costs.report(since, until, as_of=as_of, include_replays=replays),
        }


QUOTIENTS = ("cost_per_workflow", "cost_per_successful_workflow")
"""Cost fields that are quotients: rounded to :data:`AMOUNT_PLACES` in JSON (sums stay exact)."""

AMOUNT_PLACES = Decimal("1E-9")
"""The smallest amount a report's quotient keeps (a nano-unit: finer than any price per token)."""


def exact(report: CostReport, key: str) -> str:
    """A quotient as an exact decimal string to :data:`AMOUNT_PLACES`, trailing zeros dropped."""
    value: Decimal = getattr(report, key)
    rounded = value.quantize(AMOUNT_PLACES)
    return f"{rounded.normalize():f}" if rounded else "0"


def health(reports: dict[str, Any]) -> dict[str, Any]:
    """The verdicts the text report prints: healthy, violations and the metrics without data."""
    metrics: MetricsReport = reports["metrics"]
    slo: SLOReport = reports["slo"]
    return {
        "healthy": metrics.health,  # null: no metric had data, nothing was judged
        "violations": metrics.get_violations(),
        "insufficient_data": metrics.insufficient_data,
        "slo_violations": slo.get_violations(),
        "slo_insufficient_data": slo.insufficient_data,
    }


INCLUDED = "(replay runs included: --include-replays counts them in these metrics and costs)"
"""The text report's note when replays count (without the flag it says how many it excluded)."""


def report_document(reports: dict[str, Any], *, include_replays: bool = False) -> dict[str, Any]:
    """The reports as the one JSON document ``report --format json`` prints (and the server serves)."""
    document = {k: v.model_dump(mode="json") for k, v in reports.items()}
    document["health"] = health(reports)
    document["include_replays"] = include_replays
    costs = document.get("costs")
    if costs is not None:
        for key in QUOTIENTS:
            if costs.get(key) is not None:
                costs[key] = exact(reports["costs"], key)
    return document


def write_report(reports: dict[str, Any], fmt: str, out: Output, *, include_replays: bool = False) -> None:
    """Write the reports as text, or as one JSON document built from their models.

    The JSON's ``include_replays`` says whether replay runs count in its metrics and costs.
    """
    from projections.metrics import render_costs, render_metrics, render_slo

    if fmt == "json":
        out.json_line(report_document(reports, include_replays=include_replays), indent=True)
        return
    out.write(render_metrics(reports["metrics"]))
    out.write()
    out.write(render_slo(reports["slo"]))
    out.write()
    out.write(render_costs(reports["costs"]))
    if include_replays:
        out.write()
        out.write(INCLUDED)


def run(args: argparse.Namespace, out: Output) -> int:
    """Print health verdicts, per-agent metrics, SLOs, costs and budgets."""
    check_window(args)
    if args.html is not None:
        return write_html(args, out)
    if args.workflow:
        raise ValueError("--workflow chooses the workflows of an --html report: give --html FILE too")
    with open_db(args) as ledger:
        if args.as_of is not None and not 0 <= args.as_of <= ledger.latest_offset():
            raise ValueError(f"--as-of {args.as_of} is outside the ledger (0..{ledger.latest_offset()})")
        reports = full_report(ledger, args)
    write_report(reports, args.format, out, include_replays=args.include_replays)
    health = reports["metrics"].health
    if not args.strict or health:
        return EXIT_OK
    if health is None:
        # A gate pointed at the wrong database (or window) must not pass without judging anything.
        out.error("report --strict: nothing was measured (no SVR, CR, PC, HIR or MA data): no verdict")
    return EXIT_FAILED


def write_html(args: argparse.Namespace, out: Output) -> int:
    """``report --html FILE``: the whole ledger's dashboard in one self-contained file."""
    from datetime import UTC, datetime

    from reliability.service.dashboard import snapshot, write_html_report

    for option in ("since", "until", "as_of"):
        if getattr(args, option) is not None:
            raise ValueError(
                f"--{option.replace('_', '-')} does not apply to --html: the file shows the whole ledger"
            )
    if args.include_replays:
        raise ValueError("--include-replays does not apply to --html: its charts leave replay runs out")
    if args.workflows < 0:
        raise ValueError(f"--workflows {args.workflows}: give 0 or more")
    with open_db(args) as ledger:
        reports = full_report(ledger, args)
        document = report_document(reports, include_replays=args.include_replays)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        data = snapshot(ledger, document, args.workflow, args.workflows, now)
    size = write_html_report(args.html, data)
    shown = len(data["workflows"]["workflows"])
    out.error(f"report: wrote {args.html} ({size / 1024:.0f} KiB, {shown} workflow trails, self-contained)")
    return EXIT_OK
