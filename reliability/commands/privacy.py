"""``rledger forget``: crypto-shred a data subject (destroy its keys, record who, when and why)."""

from __future__ import annotations

import argparse

from reliability.commands.options import open_db
from reliability.commands.output import EXIT_OK, Output


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``forget``."""
    p = subparsers.add_parser(
        "forget",
        help="destroy a data subject's keys: its events' personal fields read as erased from then on",
    )
    p.add_argument("subject", help="the subject id events were appended with, or its pseudonym (sub:…)")
    p.add_argument("--reason", required=True, help="why (a request reference): recorded in the ledger")
    p.add_argument("--by", help="who asks for it: recorded in the ledger")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(run=forget)


def forget(args: argparse.Namespace, out: Output) -> int:
    """Destroy the subject's keys and append a ``SubjectForgotten`` (no personal data in it)."""
    with open_db(args) as ledger:
        result = ledger.forget(args.subject, reason=args.reason, by=args.by)
    if args.format == "json":
        out.json_line(
            {
                "subject_ref": result.subject_ref,
                "keys_destroyed": result.keys_destroyed,
                "offset": result.offset,
            }
        )
        return EXIT_OK
    what = f"{result.keys_destroyed} key(s) destroyed" if result.keys_destroyed else "no key was left"
    out.write(
        f"forgot {result.subject_ref}: {what}; its events' personal fields read as erased; "
        f"recorded at offset {result.offset}"
    )
    return EXIT_OK
