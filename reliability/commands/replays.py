"""``rledger trail``, ``export`` and ``replay``: explain a recorded workflow, move it, replay it."""

from __future__ import annotations

import argparse
import contextlib
import importlib
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from reliability.commands.options import input_file, open_db, table
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output
from reliability.commands.transfer import RANGE_OPTIONS, add_range_options, export_range

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from replay import (
        History,
    )


def _parse_setting(value: str) -> tuple[str, Any]:
    key, sep, raw = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"'{value}' is not key=value")
    try:
        return key, orjson.loads(raw)
    except orjson.JSONDecodeError:
        return key, raw  # a bare word is a string


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``trail``, ``export`` and ``replay``."""
    p = subparsers.add_parser("trail", help="a workflow's decision trail as Markdown")
    p.add_argument("workflow")
    p.add_argument("--checkpoint", help="a CheckpointMarked id, an event id or an offset")
    p.set_defaults(run=trail)

    p = subparsers.add_parser(
        "export", help="a workflow's history as JSON lines, or (no WORKFLOW) a range with chain values"
    )
    p.add_argument("workflow", nargs="?", help="the workflow (omit it to export a range: --since …)")
    p.add_argument("--checkpoint", help="a CheckpointMarked id, an event id or an offset")
    p.add_argument("--out", help="file to write (default: stdout)")
    p.add_argument(
        "--otlp",
        metavar="URL",
        help="send it as OpenTelemetry GenAI spans to this OTLP/HTTP endpoint instead "
        "(e.g. http://127.0.0.1:4318/v1/traces; needs the otlp extra)",
    )
    add_range_options(p)
    p.set_defaults(run=export)

    p = subparsers.add_parser(
        "replay", help="replay a recorded workflow: strict, simulated or counterfactual"
    )
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
    p.set_defaults(run=replay)


def _delta(name: str, value: Any) -> str:
    """A replay delta for people: money as :func:`format_amount` shows it, others as they are."""
    from projections.metrics import format_amount

    if value is None:
        return f"{name} n/a"
    if isinstance(value, Decimal):
        return f"{name} {format_amount(value, sign=True)}"
    return f"{name} {value:+}"


def load_object(spec: str) -> Any:
    """Import ``module:attr`` (the orchestrator or tool registry given on the command line)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"'{spec}' is not module:attribute (e.g. replay.examples:TicketAgent)")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"cannot load '{spec}': {exc}") from None
    return obj() if isinstance(obj, type) else obj


@contextlib.contextmanager
def _recorded() -> Iterator[None]:
    """A workflow or checkpoint that does not exist is a bad argument (exit 2), never exit 1.

    Exit 1 means the command ran and found a problem (a replay diverged): a script must be able
    to tell a typo from a divergence.
    """
    from replay import CheckpointNotFoundError, WorkflowNotFoundError

    try:
        yield
    except (WorkflowNotFoundError, CheckpointNotFoundError) as exc:
        raise ValueError(f"not found: {exc}") from None


def trail(args: argparse.Namespace, out: Output) -> int:
    """Print a workflow's decision trail as Markdown (and record the MTTE measurement).

    A workflow or checkpoint that does not exist is a bad argument (exit 2, "not found" on
    stderr) and records nothing: there was nothing to explain.
    """
    from replay import DecisionTrailBuilder

    with open_db(args) as ledger:
        builder = DecisionTrailBuilder(ledger)
        with _recorded():
            trail = builder.build(args.workflow, args.checkpoint)
        out.write(builder.explain(trail), end="")
    return EXIT_OK


def export(args: argparse.Namespace, out: Output) -> int:
    """Write a workflow's history as JSON lines (to replay it elsewhere); not found is exit 2.

    Without a WORKFLOW, a range of the ledger with its chain values (``transfer.export_range``).

    With ``--otlp URL`` the history is sent as GenAI spans instead; exit 1 when the endpoint
    rejected some of them.
    """
    if args.workflow is None:
        if args.checkpoint or args.otlp:
            raise ValueError("--checkpoint and --otlp export one WORKFLOW: name it")
        return export_range(args, out)
    given = [f"--{o.replace('_filter', '').replace('_', '-')}" for o in RANGE_OPTIONS if getattr(args, o)]
    if given:
        raise ValueError(f"{', '.join(given)} export a range: leave out WORKFLOW (or use --workflow)")
    from replay import History

    with open_db(args) as ledger, _recorded():
        history = History.load(ledger, args.workflow, args.checkpoint)
    if args.otlp:
        return _export_otlp(history, args.otlp, out)
    data = history.to_jsonl()
    if args.out:
        with open(args.out, "wb") as f:
            f.write(data)
        out.error(f"wrote {len(history)} event(s) of {args.workflow} to {args.out}")
    else:
        out.write_bytes(data)
    return EXIT_OK


def _export_otlp(history: History, url: str, out: Output) -> int:
    from reliability.service.otlp import encode_spans, send_otlp, trace_id_of, workflow_spans

    spans = workflow_spans(history.workflow_id, [r.event for r in history.events])
    sent = send_otlp(url, encode_spans(spans))
    out.write(
        f"sent {len(spans)} span(s) of {history.workflow_id} ({len(history)} event(s)) to {url} "
        f"as trace {trace_id_of(history.workflow_id)}"
    )
    if sent.rejected_spans:
        out.error(f"the endpoint rejected {sent.rejected_spans} span(s): {sent.error_message}")
        return EXIT_FAILED
    return EXIT_OK


def replay(args: argparse.Namespace, out: Output) -> int:
    """Replay a recorded workflow strictly, simulated or counterfactually; exit 1 if it diverged.

    A workflow, checkpoint or ``--history`` file that does not exist is exit 2 (a bad argument).
    """
    import asyncio  # not at module level: ``rledger --help`` imports this module

    from replay import History, Replayer, build_trail

    orchestrator = load_object(args.orchestrator)
    tools = load_object(args.tools) if args.tools else None
    settings = dict(args.set or [])
    with open_db(args) as ledger, _recorded():
        if args.history:
            recorded = build_trail(History.read(input_file(args.history)))
        else:
            recorded = build_trail(History.load(ledger, args.workflow, args.checkpoint), ledger=ledger)
        replayer = Replayer(recorded, ledger=ledger)
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
        out.json_line(
            {
                "mode": result.mode.value,
                "success": result.success,
                "exact_match": result.is_exact_match(),
                "replay_workflow_id": result.replay_workflow_id,
                "outcome": result.outcome,
                "original_outcome": result.original_outcome,
                "error": result.error,
                "deltas": result.deltas,
                "differences": result.differences,  # Difference dataclasses, field by field
                "not_comparable": result.not_comparable,
            },
            indent=True,
        )
        return EXIT_OK if result.success else EXIT_FAILED
    if result.mode.value == "counterfactual":
        verdict = "completed" if result.success else "FAILED"
    elif result.is_exact_match():
        verdict = "exact match"
    else:
        verdict = "reproduced" if result.success else "DIVERGED"
    out.write(
        f"{result.mode.value} replay of {recorded.workflow_id} as {result.replay_workflow_id}: {verdict}"
    )
    if result.error:
        out.write(f"  error: {result.error}")
    if result.differences:
        out.write(
            table(
                [(d.location, d.field, d.significance, d.description) for d in result.differences],
                ("where", "field", "significance", "difference"),
            )
        )
    if result.not_comparable:
        out.write(f"not comparable (redacted when recorded): {len(result.not_comparable)}")
        out.write(
            table(
                [(n.location, n.path, n.action) for n in result.not_comparable],
                ("where", "path", "redacted"),
            )
        )
    if result.deltas:
        out.write("deltas: " + ", ".join(_delta(k, v) for k, v in result.deltas.items()))
    return EXIT_OK if result.success else EXIT_FAILED
