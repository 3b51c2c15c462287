"""``rledger``: the command line, the composition root and the only place that reads argv or prints.

The ledger is chosen by ``--db URL``, else ``$RLEDGER_URL``, else ``sqlite:///ledger.db``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import IO, Any

import orjson
from tqdm import tqdm

from ledger import (
    DEFAULT_URL,
    Ledger,
    LedgerError,
    Problem,
    event_json_schema,
    from_epoch_us,
    open_ledger,
    validate_one,
)
from projections import (
    CORE_PROJECTIONS,
    Alert,
    AlertManager,
    AlertSeverity,
    BreakerProjection,
    CallbackAlertChannel,
    CircuitState,
    CostBudget,
    CostTracker,
    ModeEnforcer,
    Monitor,
    MonitorConfig,
    MonitorResult,
    Projection,
    ProjectionRunner,
    ReliabilityMetrics,
    SLOTracker,
    TrendAnalyzer,
    WebhookAlertChannel,
)
from projections.fold import fold_new
from projections.metrics import render_costs, render_metrics, render_slo
from projections.metrics import table as render_table
from projections.signals import BUILTIN_SERIES
from replay import DecisionTrailBuilder, History, Replayer, build_trail

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _print_table(rows: Sequence[Sequence[object]], headers: Sequence[str], out: IO[str]) -> None:
    out.write(render_table(rows, headers) + "\n")


def _parse_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{value}' is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z)"
        ) from None


def _open(args: argparse.Namespace) -> Ledger:
    return open_ledger(args.db)


# -- append --------------------------------------------------------------------------------------


def _spool(source: str) -> tuple[str, bool]:
    """Return a path to read the input from twice (stdin is copied to a temporary file)."""
    if source != "-":
        if not os.path.exists(source):
            raise FileNotFoundError(f"input file '{source}' does not exist")
        return source, False
    fd, path = tempfile.mkstemp(prefix="rledger-", suffix=".jsonl")
    with os.fdopen(fd, "wb") as spool:
        shutil.copyfileobj(sys.stdin.buffer, spool)
    return path, True


def _valid_batches(path: str, size: int, skip: set[int]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if number in skip or not raw.strip():
                continue
            event, _ = validate_one(raw.strip(), line=number)
            assert event is not None  # pass 1 already validated this line
            batch.append(event)
            if len(batch) >= size:
                yield batch
                batch = []
    if batch:
        yield batch


def cmd_append(args: argparse.Namespace) -> int:
    """Validate JSON lines, then append them; invalid input writes nothing unless skipped."""
    path, spooled = _spool(args.file)
    try:
        # Pass 1 validates everything before a single event is written; pass 2 re-reads in
        # batches, so memory stays bounded however large the input is.
        problems: list[Problem] = []
        lines = 0
        with open(path, "rb") as f:
            for lines, raw in enumerate(f, start=1):
                if raw.strip():
                    problems.extend(validate_one(raw.strip(), line=lines)[1])
        if problems and not args.skip_invalid:
            print(
                f"error: rejected the input: {len(problems)} problem(s) in {lines} line(s); "
                "nothing written (--skip-invalid writes the valid lines)",
                file=sys.stderr,
            )
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return EXIT_USAGE
        skip = {p.line for p in problems if p.line is not None}
        written = duplicates = 0
        last: int | None = None
        with _open(args) as ledger:
            for batch in _valid_batches(path, args.batch_size, skip):
                result = ledger.append(batch)
                written += result.written
                duplicates += result.duplicates
                last = result.last_offset if last is None else max(last, result.last_offset or 0)
        print(f"appended {written} event(s), {duplicates} already stored; last offset {last}")
        if problems:
            print(f"skipped {len(skip)} invalid line(s):", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        if spooled:
            os.unlink(path)


# -- events --------------------------------------------------------------------------------------


def cmd_events(args: argparse.Namespace) -> int:
    """Print stored events in offset order, filtered."""
    with _open(args) as ledger:
        records = ledger.read(
            after=args.after,
            limit=args.limit,
            workflow_id=args.workflow,
            agent=args.agent,
            types=args.type or None,
            since=args.since,
            until=args.until,
        )
        out = sys.stdout
        if args.format == "json":
            for rec in records:
                out.write(orjson.dumps(rec.to_json_dict()).decode() + "\n")
            return EXIT_OK
        rows = []
        for rec in records:
            e = rec.event
            rows.append(
                (
                    rec.offset,
                    e.occurred_at.isoformat(timespec="seconds"),
                    e.type,
                    e.workflow_id or "",
                    e.agent or "",
                    _summary(rec.event),
                )
            )
        _print_table(rows, ("offset", "occurred_at", "type", "workflow", "agent", "detail"), out)
    return EXIT_OK


def _summary(event: Any) -> str:
    t = event.type
    if t == "StepRecorded":
        s = "ok" if event.success else f"FAILED {event.error or ''}".strip()
        if event.mode or event.declared_mode:
            s += f" mode={event.mode}/{event.declared_mode}"
        return s
    if t == "ToolCalled":
        return f"{event.tool} {'ok' if event.success else 'FAILED'} {event.duration_ms or 0:.0f}ms"
    if t == "CostIncurred":
        amount = f"{event.amount} {event.currency}" if event.amount is not None else "unpriced"
        return f"{event.model or event.tool or event.category} {amount}"
    if t == "EvidenceCollected":
        return f"{event.confidence} {event.evidence_type} from {event.source}"
    if t == "WorkflowCompleted":
        return "success" if event.success else "failed"
    if t == "WorkflowStarted":
        return str(event.goal or "")[:60]
    if t == "ModeViolated":
        return f"{event.attempted_action} in {event.declared_mode}"
    return str(getattr(event, "reason", "") or "")[:60]


# -- verify, schema, stats -----------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    """Recompute the hash chain; exit 1 when integrity or completeness fails."""
    with _open(args) as ledger:
        report = ledger.verify()
    if args.format == "json":
        print(
            orjson.dumps(
                {
                    "ok": report.ok,
                    "events_checked": report.events_checked,
                    "last_offset": report.last_offset,
                    "head_offset": report.head_offset,
                    "checkpoints_checked": report.checkpoints_checked,
                    "problems": [p.__dict__ for p in report.problems],
                }
            ).decode()
        )
    else:
        verdict = "OK" if report.ok else "FAILED"
        print(
            f"verify {verdict}: {report.events_checked} event(s) checked up to offset "
            f"{report.last_offset}; head at {report.head_offset}; "
            f"{report.checkpoints_checked} checkpoint(s) matched"
        )
        if report.pruned:
            print(f"  {report.pruned} (retention); the chain is checked from there")
        for p in report.problems:
            print(f"  offset {p.offset}: {p.kind}: {p.detail}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_schema(args: argparse.Namespace) -> int:
    """Print the JSON Schema of the event union."""
    del args
    print(orjson.dumps(event_json_schema(), option=orjson.OPT_INDENT_2).decode())
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """Print counts for the whole ledger."""
    with _open(args) as ledger:
        stats = ledger.stats()
    if args.format == "json":
        print(orjson.dumps(stats).decode())
        return EXIT_OK
    for key in (
        "url",
        "events",
        "latest_offset",
        "streams",
        "first_recorded_at",
        "last_recorded_at",
        "size_bytes",
    ):
        print(f"{key:18} {stats[key]}")
    if stats["by_type"]:
        print()
        _print_table(sorted(stats["by_type"].items()), ("type", "events"), sys.stdout)
    return EXIT_OK


# -- retention -----------------------------------------------------------------------------------


def cmd_prune(args: argparse.Namespace) -> int:
    """Remove events recorded more than ``--older-than`` days ago (that stored projections folded)."""
    if args.older_than <= 0:
        raise ValueError(f"--older-than must be a positive number of days, got {args.older_than}")
    with _open(args) as ledger:
        before = ledger.clock() - timedelta(days=args.older_than)
        result = ledger.prune(before, force=args.force)
    if args.format == "json":
        print(
            orjson.dumps(
                {
                    "events": result.events,
                    "through": result.through,
                    "wanted_through": result.wanted_through,
                    "held_back_by": result.held_back_by,
                    "before": before.isoformat(),
                }
            ).decode()
        )
        return EXIT_OK
    print(f"prune of events recorded before {before.isoformat()}: {result}")
    return EXIT_OK


# -- projections: report, rebuild, follow ------------------------------------------------------


def _parse_budget(value: str) -> CostBudget:
    """Parse ``NAME=LIMIT[/HOURS]`` into a budget (e.g. ``daily=100/24``)."""
    try:
        name, rest = value.split("=", 1)
        limit, _, hours = rest.partition("/")
        return CostBudget(name=name, total_limit=Decimal(limit), period_hours=float(hours) if hours else None)
    except (ValueError, ArithmeticError):
        raise argparse.ArgumentTypeError(
            f"'{value}' is not a budget: use NAME=LIMIT or NAME=LIMIT/HOURS (e.g. daily=100/24)"
        ) from None


def _full_report(ledger: Ledger, args: argparse.Namespace) -> dict[str, Any]:
    metrics = ReliabilityMetrics(ledger=ledger)
    slo = SLOTracker(ledger=ledger)
    costs = CostTracker(ledger=ledger)
    for budget in getattr(args, "budget", None) or []:
        costs.set_budget(budget)
    since, until, as_of = (
        getattr(args, "since", None),
        getattr(args, "until", None),
        getattr(args, "as_of", None),
    )
    return {
        "metrics": metrics.report(since, until, as_of=as_of),
        "slo": slo.report(since, until, as_of=as_of),
        "costs": costs.report(since, until, as_of=as_of),
    }


def _print_report(reports: dict[str, Any], fmt: str) -> None:
    if fmt == "json":
        print(
            orjson.dumps(
                {k: v.model_dump(mode="json") for k, v in reports.items()},
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    print(render_metrics(reports["metrics"]))
    print()
    print(render_slo(reports["slo"]))
    print()
    print(render_costs(reports["costs"]))


def cmd_report(args: argparse.Namespace) -> int:
    """Print health verdicts, per-agent metrics, SLOs, costs and budgets."""
    with _open(args) as ledger:
        if args.as_of is not None and not 0 <= args.as_of <= ledger.latest_offset():
            raise ValueError(f"--as-of {args.as_of} is outside the ledger (0..{ledger.latest_offset()})")
        reports = _full_report(ledger, args)
    _print_report(reports, args.format)
    return EXIT_OK if reports["metrics"].is_healthy() else EXIT_FAILED if args.strict else EXIT_OK


def _selected(names: Sequence[str]) -> list[type[Projection]]:
    known = {p.name: p for p in CORE_PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(CORE_PROJECTIONS)


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Rebuild projections from offset 0 into a shadow copy, then switch over."""
    with _open(args) as ledger:
        runner = ProjectionRunner(ledger, _selected(args.names))
        runner.acquire(wait=args.wait)
        try:
            total = ledger.latest_offset()
            started = time.perf_counter()
            with tqdm(total=total, unit="ev", desc="rebuilding", file=sys.stderr, disable=args.quiet) as bar:

                def progress(done: int, _total: int) -> None:
                    bar.update(done - bar.n)

                digests = runner.rebuild(progress=progress)
            elapsed = time.perf_counter() - started
        finally:
            runner.release()
    print(
        f"rebuilt {', '.join(digests)} over {total} event(s) in {elapsed:.2f}s "
        f"({total / elapsed if elapsed else 0:,.0f} events/s)"
    )
    for name, digest in digests.items():
        print(f"  {name:12} digest {digest}")
    return EXIT_OK


def cmd_follow(args: argparse.Namespace) -> int:
    """Keep stored projections current as events arrive (Ctrl-C to stop)."""
    with _open(args) as ledger:
        runner = ProjectionRunner(ledger, _selected(args.names))
        runner.acquire(wait=args.wait)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        last = -1

        def on_batch(position: int) -> None:
            nonlocal last
            if position != last:
                print(f"{', '.join(runner.names)} at offset {position}", flush=True)
                last = position
            if deadline is not None and time.monotonic() >= deadline:
                runner.stop()

        try:
            runner.follow(idle_timeout=0.5, on_batch=on_batch, save_interval=args.save_interval)
        except KeyboardInterrupt:
            pass
        finally:
            runner.release()
    return EXIT_OK


# -- replay: trail, export, replay ------------------------------------------------------------


def _load_object(spec: str) -> Any:
    """Import ``module:attr`` (the orchestrator or tool registry given on the command line)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"'{spec}' is not module:attribute (e.g. replay.examples:TicketAgent)")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load '{spec}': {exc}") from None
    return obj() if isinstance(obj, type) else obj


def _parse_setting(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{value}' is not key=value")
    try:
        return key, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return key, raw  # a bare word is a string


def cmd_trail(args: argparse.Namespace) -> int:
    """Print a workflow's decision trail as Markdown (and record the MTTE measurement)."""
    with _open(args) as ledger:
        builder = DecisionTrailBuilder(ledger)
        trail = builder.build(args.workflow, args.checkpoint)
        print(builder.explain(trail), end="")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write a workflow's history as JSON lines (to replay it elsewhere)."""
    with _open(args) as ledger:
        history = History.load(ledger, args.workflow, args.checkpoint)
    data = history.to_jsonl()
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
        print(f"wrote {len(history)} event(s) of {args.workflow} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.buffer.write(data)
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay a recorded workflow strictly, simulated or counterfactually; exit 1 if it diverged."""
    orchestrator = _load_object(args.orchestrator)
    tools = _load_object(args.tools) if args.tools else None
    settings = dict(args.set or [])
    with _open(args) as ledger:
        if args.history:
            trail = build_trail(History.read(args.history))
        else:
            trail = build_trail(History.load(ledger, args.workflow, args.checkpoint), ledger=ledger)
        replayer = Replayer(trail, ledger=ledger)
        if args.mode == "strict":
            if tools is None:
                raise ValueError("a strict replay runs real tools: give --tools module:attr")
            run = replayer.strict_replay(orchestrator, tools)
        elif args.mode == "simulated":
            run = replayer.simulated_replay(orchestrator)
        else:
            run = replayer.counterfactual_replay(
                settings or None, orchestrator=orchestrator, tool_registry=tools
            )
        result = asyncio.run(run)
    if args.format == "json":
        print(
            orjson.dumps(
                {
                    "mode": result.mode.value,
                    "success": result.success,
                    "exact_match": result.is_exact_match(),
                    "replay_workflow_id": result.replay_workflow_id,
                    "outcome": result.outcome,
                    "original_outcome": result.original_outcome,
                    "error": result.error,
                    "deltas": result.deltas,
                    "differences": [d.__dict__ for d in result.differences],
                },
                default=str,
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
    else:
        if result.mode.value == "counterfactual":
            verdict = "completed" if result.success else "FAILED"
        elif result.is_exact_match():
            verdict = "exact match"
        else:
            verdict = "reproduced" if result.success else "DIVERGED"
        print(f"{result.mode.value} replay of {trail.workflow_id} as {result.replay_workflow_id}: {verdict}")
        if result.error:
            print(f"  error: {result.error}")
        if result.differences:
            print(
                render_table(
                    [(d.location, d.field, d.significance, d.description) for d in result.differences],
                    ("where", "field", "significance", "difference"),
                )
            )
        if result.deltas:
            print(
                "deltas: "
                + ", ".join(f"{k} {v:+}" if v is not None else f"{k} n/a" for k, v in result.deltas.items())
            )
    return EXIT_OK if result.success else EXIT_FAILED


# -- guards and signals: alerts, breakers, violations, trends, monitor ---------------------------


def _when(value: datetime | None) -> str:
    return "" if value is None else value.isoformat(timespec="seconds")


def cmd_alerts(args: argparse.Namespace) -> int:
    """List recorded alerts at a severity or above, with their deliveries."""
    with _open(args) as ledger:
        manager = AlertManager(ledger=ledger)
        alerts = manager.get_alerts(args.since, args.severity, include_suppressed=args.all)
        suppressed = manager.suppressed_count()
    if args.format == "json":
        for alert in alerts:
            print(orjson.dumps(alert.to_json()).decode())
        return EXIT_OK
    rows = [
        (
            _when(a.timestamp),
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
        for a in alerts
    ]
    _print_table(
        rows, ("raised_at", "severity", "type", "source", "title", "delivery", "ack", "id"), sys.stdout
    )
    print(f"{len(alerts)} alert(s); {suppressed} suppressed by cooldowns in all")
    return EXIT_OK


def cmd_breakers(args: argparse.Namespace) -> int:
    """List every circuit breaker in the ledger with its state and counters."""
    with _open(args) as ledger:
        projection = BreakerProjection()
        fold_new(ledger, projection)
    now = datetime.now(UTC)
    rows = []
    for name, fold in sorted(projection.breakers.items()):
        core = fold.core
        since = None if core.since_us is None else from_epoch_us(core.since_us)
        state = core.state.value
        seconds = fold.config.timeout_seconds if args.timeout_seconds is None else args.timeout_seconds
        due = None if since is None else since + timedelta(seconds=seconds)
        if core.state is CircuitState.OPEN and due is not None and now >= due:
            # Reading writes nothing: the move is shown, and made by the next breaker to act.
            state = "half_open (due)"
        rows.append(
            (name, state, _when(since), fold.successes, fold.failures, fold.rejected, fold.transitions)
        )
    if args.format == "json":
        keys = ("breaker", "state", "since", "successes", "failures", "rejected", "transitions")
        for row in rows:
            print(orjson.dumps(dict(zip(keys, row, strict=True))).decode())
        return EXIT_OK
    _print_table(
        rows, ("breaker", "state", "since", "successes", "failures", "rejected", "transitions"), sys.stdout
    )
    return EXIT_OK


def cmd_violations(args: argparse.Namespace) -> int:
    """List recorded mode violations, for one agent or all."""
    with _open(args) as ledger:
        violations = ModeEnforcer(ledger=ledger).get_violations(args.agent, since=args.since)
    rows = [
        (_when(v.timestamp), v.agent, v.mode, v.attempted_action, v.violation_type, v.workflow_id or "")
        for v in violations
    ]
    if args.format == "json":
        keys = ("timestamp", "agent", "mode", "attempted_action", "violation_type", "workflow_id")
        for row in rows:
            print(orjson.dumps(dict(zip(keys, row, strict=True))).decode())
        return EXIT_OK
    _print_table(rows, ("timestamp", "agent", "mode", "action", "violation", "workflow"), sys.stdout)
    print(f"{len(rows)} violation(s)")
    return EXIT_OK


def cmd_trends(args: argparse.Namespace) -> int:
    """Fit the trend of a metric: a recorded series, else a built-in computed hourly."""
    with _open(args) as ledger:
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
        print(
            orjson.dumps(
                {
                    "metric": args.metric,
                    "source": source,
                    "points": [[t.isoformat(), v] for t, v in points],
                    "trend": trend,
                    "forecast": [[t.isoformat(), v] for t, v in forecast],
                    "degradation": breach,
                },
            ).decode()
        )
        return EXIT_OK
    window = [(t, v) for t, v in points if trend.start <= t <= trend.end]
    _print_table([(_when(t), f"{v:g}") for t, v in window], ("time", args.metric), sys.stdout)
    print()
    print(
        f"{args.metric} ({source}): {trend.direction.value.upper()} over {trend.data_points} point(s) "
        f"{_when(trend.start)} .. {_when(trend.end)}"
    )
    print(
        f"  slope {trend.slope:+.6g}/h, R² {trend.confidence:.3f}, current {trend.current_value:g}, "
        f"predicted next hour {trend.predicted_value:g} ({trend.polarity.replace('_', ' ')})"
    )
    if forecast:
        print()
        _print_table([(_when(t), f"{v:g}") for t, v in forecast], ("forecast", args.metric), sys.stdout)
    if args.threshold is not None:
        if breach is None:
            print(f"  no breach of {args.threshold:g} forecast within {args.forecast or 24} h")
        else:
            print(
                f"  breach of {args.threshold:g} in {breach['hours_until_breach']:.1f} h "
                f"(at {_when(breach['breach_time'])}, value {breach['breach_value']:g})"
            )
    return EXIT_OK


def cmd_monitor(args: argparse.Namespace) -> int:
    """Evaluate health, SLO, budget, breaker and anomaly rules and raise alerts, once or every S s."""

    def show(alert: Alert) -> None:
        print(f"ALERT [{alert.severity.value}] {alert.title}", flush=True)

    def summary(result: MonitorResult) -> None:
        print(
            f"{_when(result.at)} checked: {len(result.health_violations)} health, "
            f"{len(result.slo_violations)} SLO violation(s), {len(result.budgets_exceeded)} budget(s) "
            f"exceeded, {len(result.open_breakers)} open breaker(s), {len(result.anomalies)} anomal(y/ies); "
            f"{len(result.delivered)} alert(s) delivered, "
            f"{len(result.alerts) - len(result.delivered)} suppressed",
            flush=True,
        )

    with _open(args) as ledger:
        costs = CostTracker(ledger=ledger)
        for budget in args.budget or []:
            costs.set_budget(budget)
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
            return EXIT_FAILED if args.strict and result.delivered else EXIT_OK
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a monitor loop ends
            asyncio.run(monitor.run(iterations=args.iterations, on_result=summary))
    return EXIT_OK


# -- demo ----------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate a seeded agent workload, append it with a progress bar, and summarise it."""
    from ledger import generate_workload as generate

    with _open(args) as ledger:
        start_offset = ledger.latest_offset()
        started = time.perf_counter()
        written = 0
        batch: list[Any] = []
        with tqdm(total=args.events, unit="ev", desc="appending", file=sys.stderr, disable=args.quiet) as bar:
            for event in generate(args.events, seed=args.seed):
                batch.append(event)
                if len(batch) >= 1000:
                    written += ledger.append(batch).written
                    bar.update(len(batch))
                    batch = []
            if batch:
                written += ledger.append(batch).written
                bar.update(len(batch))
        elapsed = time.perf_counter() - started
        print(
            f"wrote {written} event(s) to {ledger.url} in {elapsed:.2f}s "
            f"({written / elapsed if elapsed else 0:,.0f} events/s); "
            f"offsets {start_offset + 1}..{ledger.latest_offset()}"
        )
        if written < args.events:
            print(f"{args.events - written} event(s) were already stored (same seed): not written again")
        stats = ledger.stats()
        print()
        _print_table(sorted(stats["by_type"].items()), ("type", "events"), sys.stdout)
        report = ledger.verify()
        print()
        print(f"hash chain: {'intact' if report.ok else 'BROKEN'} over {report.events_checked} event(s)")
        print()
        _print_report(_full_report(ledger, args), "text")
    return EXIT_OK if report.ok else EXIT_FAILED


# -- wiring --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the ``rledger`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="rledger", description="An event-sourced reliability ledger for AI-agent systems."
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("RLEDGER_URL", DEFAULT_URL),
        help="ledger URL: memory://, sqlite:///file.db, postgresql://… or redis://host:port/db "
        "(default: $RLEDGER_URL or %(default)s)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("append", help="append JSON-lines events (invalid input writes nothing)")
    p.add_argument("file", nargs="?", default="-", help="JSON-lines file, or - for stdin (default)")
    p.add_argument("--skip-invalid", action="store_true", help="write the valid lines, report the rest")
    p.add_argument("--batch-size", type=int, default=1000, help="events per transaction (default 1000)")
    p.set_defaults(func=cmd_append)

    p = sub.add_parser("events", help="list stored events")
    p.add_argument("--workflow", help="only this workflow")
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--type", action="append", help="only this event type (repeatable)")
    p.add_argument("--since", type=_parse_time, help="occurred at or after (ISO 8601; naive = UTC)")
    p.add_argument("--until", type=_parse_time, help="occurred before (ISO 8601; naive = UTC)")
    p.add_argument("--after", type=int, default=0, metavar="OFFSET", help="only offsets after this")
    p.add_argument("--limit", type=int, help="at most this many events")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_events)

    p = sub.add_parser("verify", help="check the hash chain (integrity and completeness)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("schema", help="print the JSON Schema of the events")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("stats", help="counts for the whole ledger")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("prune", help="remove old events (stored projections keep their totals)")
    p.add_argument(
        "--older-than", type=float, required=True, metavar="DAYS", help="remove events recorded before then"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="remove them even if a stored projection has not folded them (or none is stored)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_prune)

    p = sub.add_parser("report", help="metrics, health, SLOs, costs and budgets")
    p.add_argument("--since", type=_parse_time, help="events that occurred at or after (ISO 8601)")
    p.add_argument("--until", type=_parse_time, help="events that occurred before (ISO 8601)")
    p.add_argument("--as-of", type=int, metavar="OFFSET", help="the ledger as it was at this offset")
    p.add_argument("--budget", type=_parse_budget, action="append", metavar="NAME=LIMIT[/HOURS]")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--strict", action="store_true", help="exit 1 when a health metric is violated")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("rebuild", help="rebuild stored projections from offset 0, then switch over")
    p.add_argument("names", nargs="*", help="projections (default: all core ones)")
    p.add_argument("--wait", action="store_true", help="wait for another runner instead of failing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_rebuild)

    p = sub.add_parser("follow", help="keep stored projections current as events arrive")
    p.add_argument("names", nargs="*", help="projections (default: all core ones)")
    p.add_argument("--wait", action="store_true", help="wait for another runner instead of failing")
    p.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    p.add_argument(
        "--save-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="save at most this often while events keep coming (each save writes the states whole)",
    )
    p.set_defaults(func=cmd_follow)

    p = sub.add_parser("trail", help="a workflow's decision trail as Markdown")
    p.add_argument("workflow")
    p.add_argument("--checkpoint", help="a CheckpointMarked id, an event id or an offset")
    p.set_defaults(func=cmd_trail)

    p = sub.add_parser("export", help="a workflow's history as JSON lines")
    p.add_argument("workflow")
    p.add_argument("--checkpoint", help="a CheckpointMarked id, an event id or an offset")
    p.add_argument("--out", help="file to write (default: stdout)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("replay", help="replay a recorded workflow: strict, simulated or counterfactual")
    p.add_argument("workflow", help="the recorded workflow (ignored with --history)")
    p.add_argument("--mode", choices=("strict", "simulated", "counterfactual"), default="simulated")
    p.add_argument(
        "--orchestrator", required=True, help="module:attr of the orchestrator (a class is instantiated)"
    )
    p.add_argument("--tools", help="module:attr of the ToolRegistry (strict; optional for counterfactual)")
    p.add_argument(
        "--set",
        type=_parse_setting,
        action="append",
        metavar="KEY=VALUE",
        help="changed input (counterfactual)",
    )
    p.add_argument("--checkpoint", help="replay the history up to this checkpoint")
    p.add_argument("--history", help="replay a JSON-lines history file instead of the ledger's")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("alerts", help="recorded alerts, newest last, with their deliveries")
    p.add_argument("--since", type=_parse_time, help="raised at or after (ISO 8601; naive = UTC)")
    p.add_argument(
        "--severity",
        type=AlertSeverity.parse,
        help="this severity or above: info, warning, high (error), critical",
    )
    p.add_argument("--all", action="store_true", help="include alerts suppressed by a cooldown")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("breakers", help="circuit breakers in the ledger: state and counters")
    p.add_argument(
        "--timeout-seconds",
        type=float,
        default=None,
        help="judge every breaker by this open timeout (default: each breaker's recorded one, "
        "60 for a breaker that recorded none)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_breakers)

    p = sub.add_parser("violations", help="recorded mode violations")
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--since", type=_parse_time, help="at or after (ISO 8601; naive = UTC)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_violations)

    p = sub.add_parser("trends", help="a metric's trend, forecast and predicted breach")
    p.add_argument(
        "metric",
        help="a recorded metric (MetricRecorded), else a built-in computed hourly: "
        + ", ".join(BUILTIN_SERIES),
    )
    p.add_argument("--hours", type=int, default=24, help="lookback window in hours (default 24)")
    p.add_argument("--forecast", type=int, default=0, metavar="H", help="forecast H hours ahead")
    p.add_argument("--threshold", type=float, help="predict when the trend breaches this value")
    p.add_argument("--min-points", type=int, default=10, help="points needed for a fit (default 10)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=cmd_trends)

    p = sub.add_parser("monitor", help="check health, SLOs, budgets, breakers, anomalies; raise alerts")
    p.add_argument("--once", action="store_true", help="run the checks once and exit")
    p.add_argument(
        "--interval", type=float, default=300.0, metavar="S", help="seconds between runs (default 300)"
    )
    p.add_argument("--iterations", type=int, help="stop after this many runs (default: until Ctrl-C)")
    p.add_argument("--budget", type=_parse_budget, action="append", metavar="NAME=LIMIT[/HOURS]")
    p.add_argument("--cooldown", type=float, default=300.0, help="alert cooldown seconds (default 300)")
    p.add_argument("--webhook", help="also POST alerts as JSON to this http(s) URL")
    p.add_argument("--strict", action="store_true", help="with --once, exit 1 when an alert was delivered")
    p.set_defaults(func=cmd_monitor)

    p = sub.add_parser("demo", help="append a seeded, realistic agent workload and summarise it")
    p.add_argument("--events", type=int, default=20_000, help="events to generate (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rledger`` with ``argv``; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.func(args)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `rledger events | head` closes the pipe early; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
