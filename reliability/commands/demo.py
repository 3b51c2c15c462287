"""``rledger demo``: append a seeded, realistic agent workload and summarise it."""

from __future__ import annotations

import argparse
import time
from typing import Any

from ledger import generate_workload
from reliability.commands.options import open_db, table
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output
from reliability.commands.report import full_report, write_report

BATCH = 1000


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    p = subparsers.add_parser("demo", help="append a seeded, realistic agent workload and summarise it")
    p.add_argument("--events", type=int, default=20_000, help="events to generate (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args: argparse.Namespace, out: Output) -> int:
    """Generate a seeded agent workload, append it with a progress bar, and summarise it."""
    with open_db(args, create=True) as ledger:
        start_offset = ledger.latest_offset()
        started = time.perf_counter()
        written = done = 0
        batch: list[Any] = []
        with out.progress(args.events, "appending", quiet=args.quiet) as progress:
            for event in generate_workload(args.events, seed=args.seed):
                batch.append(event)
                if len(batch) >= BATCH:
                    written += ledger.append(batch).written
                    done += len(batch)
                    progress(done)
                    batch = []
            if batch:
                written += ledger.append(batch).written
                done += len(batch)
                progress(done)
        elapsed = time.perf_counter() - started
        out.write(
            f"wrote {written} event(s) to {ledger.url} in {elapsed:.2f}s "
            f"({written / elapsed if elapsed else 0:,.0f} events/s); "
            f"offsets {start_offset + 1}..{ledger.latest_offset()}"
        )
        if written < args.events:
            out.write(f"{args.events - written} event(s) were already stored (same seed): not written again")
        stats = ledger.stats()
        out.write()
        out.write(table(sorted(stats["by_type"].items()), ("type", "events")))
        report = ledger.verify()
        out.write()
        out.write(f"hash chain: {'intact' if report.ok else 'BROKEN'} over {report.events_checked} event(s)")
        out.write()
        write_report(full_report(ledger, args), "text", out)
    return EXIT_OK if report.ok else EXIT_FAILED
