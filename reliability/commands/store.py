"""``rledger verify``, ``stats``, ``schema`` and ``prune``: commands on the store itself."""

from __future__ import annotations

import argparse
import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from reliability.commands.options import open_db, table
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from ledger import VerifyReport

STATS_KEYS = (
    "url",
    "events",
    "latest_offset",
    "streams",
    "first_recorded_at",
    "last_recorded_at",
    "size_bytes",
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``verify``, ``schema``, ``stats`` and ``prune``."""
    p = subparsers.add_parser(
        "verify", help="check the hash chain, every stored column and index, and signed anchors"
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument(
        "--anchor",
        metavar="FILE|DIR",
        help="signed heads (rledger anchor): the ledger must still extend every one",
    )
    p.add_argument(
        "--trusted-key",
        metavar="PUBFILE",
        help="the public key the anchors must be signed with (KEYFILE.pub); without it, each "
        "anchor's own key (proves the file whole, not who signed it)",
    )
    p.add_argument(
        "--since-anchor",
        action="store_true",
        help="check only the events after the latest anchor (needs --anchor)",
    )
    p.set_defaults(run=verify)

    p = subparsers.add_parser("schema", help="print the JSON Schema of the events")
    p.set_defaults(run=schema)

    p = subparsers.add_parser("stats", help="counts for the whole ledger")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=stats)

    p = subparsers.add_parser("prune", help="remove old events (stored projections keep their totals)")
    p.add_argument(
        "--older-than", type=float, required=True, metavar="DAYS", help="remove events recorded before then"
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="remove them even if a stored projection has not folded them (or none is stored)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=prune)


def verify_document(report: VerifyReport) -> dict[str, Any]:
    """A verify report as the one JSON document ``verify --format json`` prints (and the server serves)."""
    return {
        "ok": report.ok,
        "events_checked": report.events_checked,
        "first_offset": report.first_offset,
        "last_offset": report.last_offset,
        "head_offset": report.head_offset,
        "checkpoints_checked": report.checkpoints_checked,
        "anchors_checked": report.anchors_checked,
        "pruned_through": report.pruned_through,
        "pruned_events": report.pruned_events,
        "problems": [dataclasses.asdict(p) for p in report.problems],  # kind, offset, detail
    }


def verify(args: argparse.Namespace, out: Output) -> int:
    """Recompute the hash chain, check columns, indexes and anchors; exit 1 when anything fails."""
    from ledger import load_public_key, read_anchors

    if args.since_anchor and not args.anchor:
        raise ValueError("--since-anchor needs --anchor FILE|DIR")
    anchors = read_anchors(args.anchor) if args.anchor else []
    if args.anchor and not anchors:
        raise FileNotFoundError(f"no anchor (*.json) in {args.anchor}")
    public_key = load_public_key(args.trusted_key) if args.trusted_key else None
    with open_db(args) as ledger:
        report = ledger.verify(anchors=anchors, public_key=public_key, since_anchor=args.since_anchor)
    if args.format == "json":
        out.json_line(verify_document(report))
    else:
        verdict = "OK" if report.ok else "FAILED"
        since = f" after offset {report.first_offset}" if report.first_offset > report.pruned_through else ""
        out.write(
            f"verify {verdict}: {report.events_checked} event(s) checked{since} up to offset "
            f"{report.last_offset}; head at {report.head_offset}; "
            f"{report.checkpoints_checked} checkpoint(s) matched"
        )
        if anchors:
            trust = (
                "the trusted key"
                if public_key is not None
                else "their own keys (pass --trusted-key to pin one)"
            )
            out.write(f"  {report.anchors_checked} anchored head(s) checked; signatures checked with {trust}")
        if report.pruned:
            out.write(f"  {report.pruned} (retention); the chain is checked from there")
        for p in report.problems:
            out.write(f"  offset {p.offset}: {p.kind}: {p.detail}")
    return EXIT_OK if report.ok else EXIT_FAILED


def schema(args: argparse.Namespace, out: Output) -> int:
    """Print the JSON Schema of the event union (the file the package ships; no models built)."""
    from ledger import stored_event_schema

    del args
    out.write_bytes(stored_event_schema())
    return EXIT_OK


def stats(args: argparse.Namespace, out: Output) -> int:
    """Print counts for the whole ledger, with what its events record as redacted."""
    from ledger import count_redactions

    with open_db(args) as ledger:
        counts = ledger.stats()
        # Read from the stored records (one pass; only encodings naming redactions are parsed).
        counts["redactions"] = count_redactions(row[3] for row in ledger.scan(after=ledger.pruned_through()))
    if args.format == "json":
        out.json_line(counts)
        return EXIT_OK
    for key in STATS_KEYS:
        out.write(f"{key:18} {counts[key]}")
    if counts["by_type"]:
        out.write()
        out.write(table(sorted(counts["by_type"].items()), ("type", "events")))
    red = counts["redactions"]
    if red["events"]:
        out.write()
        out.write(f"{'redacted events':18} {red['events']}")
        out.write(f"{'redactions':18} {red['redactions']}")
        rows = [
            (kind, name, n)
            for kind, key in (("action", "by_action"), ("rule", "by_rule"), ("detector", "by_detector"))
            for name, n in red[key].items()
        ]
        out.write(table(rows, ("by", "name", "redactions")))
    return EXIT_OK


def prune(args: argparse.Namespace, out: Output) -> int:
    """Remove events recorded more than ``--older-than`` days ago (that stored projections folded)."""
    if args.older_than <= 0:
        raise ValueError(f"--older-than must be a positive number of days, got {args.older_than}")
    with open_db(args) as ledger:
        before = ledger.clock() - timedelta(days=args.older_than)
        result = ledger.prune(before, force=args.force)
    if args.format == "json":
        out.json_line({**dataclasses.asdict(result), "before": before.isoformat()})
        return EXIT_OK
    out.write(f"prune of events recorded before {before.isoformat()}: {result}")
    return EXIT_OK
