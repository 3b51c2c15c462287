"""``rledger export`` of a range (no WORKFLOW) and ``rledger import``: move events with their chain values.

``rledger export WORKFLOW`` (a workflow's history, for replay) stays in
:mod:`reliability.commands.replays`; given no WORKFLOW, ``export`` writes a range of the ledger
here (:mod:`ledger.export`). ``import --check FILE`` verifies an export on its own; ``import FILE``
checks it, then appends it idempotently into the ``--db`` ledger.
"""

from __future__ import annotations

import argparse

from reliability.commands.options import (
    check_window,
    event_type,
    non_negative,
    open_db,
    parse_time,
)
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output

RANGE_OPTIONS = ("since", "until", "after", "before_offset", "type", "agent", "workflow_filter", "format")
"""The ``export`` options that only a range export takes."""


def add_range_options(p: argparse.ArgumentParser) -> None:
    """Add the range export's options to the ``export`` parser."""
    g = p.add_argument_group("range export (no WORKFLOW): events with their chain values")
    g.add_argument("--since", type=parse_time, help="events at or after this time (occurred_at)")
    g.add_argument("--until", type=parse_time, help="events before this time (occurred_at)")
    g.add_argument("--after", type=non_negative, metavar="OFFSET", help="offsets above this one")
    g.add_argument("--before-offset", type=non_negative, metavar="OFFSET", help="offsets below this one")
    g.add_argument("--type", type=event_type, action="append", help="only this event type (repeatable)")
    g.add_argument("--agent", help="only this agent's events")
    g.add_argument(
        "--workflow", dest="workflow_filter", metavar="WORKFLOW", help="only this workflow's events"
    )
    g.add_argument("--format", choices=("jsonl", "parquet"), help="file format (default jsonl)")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``import``."""
    p = subparsers.add_parser("import", help="check an export, or append it into this ledger (idempotent)")
    # Not checked while parsing: a missing file is FileNotFoundError when read (exit 2).
    p.add_argument("file", help="a file `rledger export` wrote (JSON lines or Parquet)")
    p.add_argument("--check", action="store_true", help="only verify the export on its own; import nothing")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=import_file)


def export_range(args: argparse.Namespace, out: Output) -> int:
    """Write a range of the ledger (``--since/--until/--after/--before-offset`` and filters) to ``--out``."""
    from ledger import ExportRange, export_records, write_export

    if not args.out:
        raise ValueError("a range export needs --out FILE")
    check_window(args)
    where = ExportRange(
        after=args.after or 0,
        before_offset=args.before_offset,
        since=args.since,
        until=args.until,
        types=tuple(args.type or ()),
        workflow=args.workflow_filter,
        agent=args.agent,
    )
    fmt = args.format or "jsonl"
    with open_db(args) as ledger:
        count = write_export(export_records(ledger, where, redaction=ledger.redaction), args.out, fmt)
    out.error(f"exported {count} event(s) to {args.out} ({fmt})")
    return EXIT_OK


def import_file(args: argparse.Namespace, out: Output) -> int:
    """Verify an export; unless ``--check``, append it. Exit 1 when the check finds a problem."""
    from ledger import check_export, import_records, read_export

    report = check_export(read_export(args.file))
    summary = {
        "ok": report.ok,
        "records": report.records,
        "verified": report.verified,
        "links": report.links,
        "gaps": report.gaps,
        "unverifiable": report.unverifiable,
        "first_offset": report.first_offset,
        "last_offset": report.last_offset,
        "problems": [vars(p) for p in report.problems[:100]],
    }
    if report.ok and not args.check:
        with open_db(args, create=True) as ledger:
            result = import_records(ledger, read_export(args.file))
        summary["written"], summary["duplicates"] = result.written, result.duplicates
    if args.format == "json":
        out.json_line(summary)
    else:
        _write_summary(summary, args.check, out)
    return EXIT_OK if report.ok else EXIT_FAILED


def _write_summary(summary: dict[str, object], check_only: bool, out: Output) -> None:
    verdict = "intact" if summary["ok"] else "PROBLEMS FOUND"
    out.write(
        f"{summary['records']} record(s), offsets {summary['first_offset']}..{summary['last_offset']}: "
        f"{verdict} "
        f"({summary['verified']} verified, {summary['links']} link(s), {summary['gaps']} gap(s), "
        f"{summary['unverifiable']} redacted on export)"
    )
    problems = summary["problems"]
    assert isinstance(problems, list)
    for p in problems:
        out.write(f"  {p['where']} (offset {p['offset']}): {p['kind']}: {p['detail']}")
    if check_only:
        return
    if not summary["ok"]:
        out.write("nothing imported")
    else:
        out.write(f"imported: {summary['written']} written, {summary['duplicates']} already stored")
