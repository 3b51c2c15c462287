"""``rledger events``: stored events in offset order, filtered, as a table or JSON lines."""

from __future__ import annotations

import argparse
from typing import Any

from reliability.commands.options import check_window, event_type, non_negative, open_db, parse_time, table
from reliability.commands.output import EXIT_OK, Output

HEADERS = ("offset", "occurred_at", "type", "workflow", "agent", "detail")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``events``."""
    p = subparsers.add_parser("events", help="list stored events")
    p.add_argument("--workflow", help="only this workflow")
    p.add_argument("--agent", help="only this agent")
    p.add_argument("--type", type=event_type, action="append", help="only this event type (repeatable)")
    p.add_argument("--since", type=parse_time, help="occurred at or after (ISO 8601; naive = UTC)")
    p.add_argument("--until", type=parse_time, help="occurred before (ISO 8601; naive = UTC)")
    p.add_argument("--after", type=non_negative, default=0, metavar="OFFSET", help="only offsets after this")
    p.add_argument("--limit", type=non_negative, help="at most this many events")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    """Print stored events in offset order, filtered."""
    check_window(args)
    with open_db(args) as ledger:
        records = ledger.read(
            after=args.after,
            limit=args.limit,
            workflow_id=args.workflow,
            agent=args.agent,
            types=args.type or None,
            since=args.since,
            until=args.until,
        )
        if args.format == "json":
            for rec in records:
                out.json_line(rec.to_json_dict())
            return EXIT_OK
        rows = [
            (
                rec.offset,
                rec.event.occurred_at.isoformat(timespec="seconds"),
                rec.event.type,
                rec.event.workflow_id or "",
                rec.event.agent or "",
                summary(rec.event),
            )
            for rec in records
        ]
        out.write(table(rows, HEADERS))
    return EXIT_OK


def summary(event: Any) -> str:
    """One event's detail column: what happened, in a few words."""
    t = event.type
    if t == "StepRecorded":
        s = "ok" if event.success else f"FAILED {event.error or ''}".strip()
        if event.mode or event.declared_mode:
            s += f" mode={event.mode}/{event.declared_mode}"
        return s
    if t == "ToolCalled":
        return f"{event.tool} {'ok' if event.success else 'FAILED'} {event.duration_ms or 0:.0f}ms"
    if t == "CostIncurred":
        from projections.metrics import format_amount

        amount = f"{format_amount(event.amount)} {event.currency}" if event.amount is not None else "unpriced"
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
