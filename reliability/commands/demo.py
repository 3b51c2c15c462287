"""``rledger demo``: append a seeded week of agent traffic, a few replayable runs, and summarise it.

The workload spans the last ``--days`` days, its last event on the last hour before now
(busier by day than by night, one degrading agent, one incident: :func:`ledger.generate_workload`
with ``span``), so budgets, trends and windows have something to show. A few support tickets
are run through the run context (``replay.examples``'s ``TicketAgent``) so ``rledger trail``
and ``rledger replay`` work on them out of the box.

Running it again with the same seed writes nothing twice: the workload starts on the hour its
first run started on (found in the ledger), so its events and ids come out the same and are
deduplicated; a ticket run already in the ledger is not run again.
"""

from __future__ import annotations

import argparse
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from reliability.commands.options import open_db, table
from reliability.commands.output import EXIT_FAILED, EXIT_OK, Output
from reliability.commands.replays import load_object
from reliability.commands.report import full_report, write_report

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from ledger import Ledger


BATCH = 1000
ACTIVE = 4
"""Workflows running at once: few enough that a workflow takes hours, not the whole week."""

TICKETS = (
    {"customer_id": "c-1", "question": "Where is my refund?"},
    {"customer_id": "c-2", "question": "How fast is shipping to Lisbon?"},
    {"customer_id": "c-1", "question": "Is my warranty still valid?"},
    {"customer_id": "c-2", "question": "Can I get a refund for shipping?"},
    {"customer_id": "c-1", "question": "Do you price-match?"},
)
"""The support tickets run through the run context (replayable)."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``demo``."""
    p = subparsers.add_parser("demo", help="append a seeded week of agent traffic and summarise it")
    p.add_argument("--events", type=int, default=20_000, help="events to generate (default 20000)")
    p.add_argument("--seed", type=int, default=0, help="workload seed (default 0)")
    p.add_argument("--days", type=float, default=7.0, help="days the workload spans, ending now (default 7)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _workload(args: argparse.Namespace, start: datetime) -> Any:
    from ledger import generate_workload

    return generate_workload(
        args.events, seed=args.seed, active_workflows=ACTIVE, start=start, span=timedelta(days=args.days)
    )


def workload_start(ledger: Ledger, args: argparse.Namespace, now: datetime) -> datetime:
    """The hour the workload starts: the one an earlier run with this seed used, else ``days`` ago.

    Workflow ids do not depend on the start, so the first workflow's id is found by generating
    one event; its recorded start, on the hour, is where that earlier run began.
    """
    first = next(iter(_workload(args, now)), None)
    if first is not None:
        for rec in ledger.read(workflow_id=first.workflow_id, types=["WorkflowStarted"], limit=1):
            return rec.event.occurred_at.replace(minute=0, second=0, microsecond=0)
    return (now - timedelta(days=args.days)).replace(minute=0, second=0, microsecond=0)


def _ticking(at: datetime) -> Callable[[], datetime]:
    """A clock from ``at`` that moves a second per reading (a run takes a few seconds)."""
    state = [at]

    def clock() -> datetime:
        state[0] += timedelta(seconds=1)
        return state[0]

    return clock


def record_tickets(ledger: Ledger, seed: int, start: datetime, days: float) -> list[str]:
    """Run the tickets through the run context, spread over the span; return their workflow ids."""
    import asyncio  # not at module level: ``rledger --help`` imports this module

    from replay import RunContext, run_workflow

    agent, tools = load_object("replay.examples:TicketAgent"), load_object("replay.examples:TOOLS")
    ids = []
    for i, inputs in enumerate(TICKETS):
        workflow_id = f"ticket-{seed}-{i + 1}"
        ids.append(workflow_id)
        if next(ledger.read(workflow_id=workflow_id, limit=1), None) is not None:
            continue  # recorded by an earlier run with this seed
        at = start + timedelta(days=days) * (i + 0.5) / len(TICKETS)
        ctx = RunContext(
            ledger, workflow_id, tools=tools, clock=_ticking(at), goal="answer a ticket", inputs=inputs
        )
        asyncio.run(run_workflow(agent, ctx, inputs))
    return ids


def next_commands(workflow_id: str, db: str | None = None) -> list[str]:
    """The closing lines: what to try next, on a workflow the demo recorded.

    ``db`` is the ledger URL when it is not the one ``rledger`` opens by default, so each line
    runs as printed; a URL with a password is shown as ``"$RLEDGER_URL"`` instead (never echoed).
    """
    rledger = "rledger"
    if db is not None:
        shown = '"$RLEDGER_URL"' if urlsplit(db).password else shlex.quote(db)
        rledger = f"rledger --db {shown}"
    return [
        "Try next:",
        f"  {rledger} trail {workflow_id}",
        f"  {rledger} replay {workflow_id} --mode strict --orchestrator replay.examples:TicketAgent "
        "--tools replay.examples:TOOLS",
        f"  {rledger} trends svr --hours 168",
        f"  {rledger} report --budget daily=10/24",
        f"  {rledger} monitor --once --budget daily=10/24",
    ]


def run(args: argparse.Namespace, out: Output) -> int:
    """Generate a seeded week of agent traffic, append it with a progress bar, and summarise it."""
    from ledger import default_url

    if args.days <= 0:
        raise ValueError(f"--days must be positive, got {args.days}")
    with open_db(args, create=True) as ledger:
        start_offset = ledger.latest_offset()
        start = workload_start(ledger, args, datetime.now(UTC))
        started = time.perf_counter()
        written = done = 0
        batch: list[Any] = []
        with out.progress(args.events, "appending", quiet=args.quiet) as progress:
            for event in _workload(args, start):
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
        before_tickets = ledger.latest_offset()
        tickets = record_tickets(ledger, args.seed, start, args.days)
        end_offset = ledger.latest_offset()
        offsets = (
            f"offsets {start_offset + 1}..{before_tickets}"
            if before_tickets > start_offset
            else "no new offsets"
        )
        out.write(
            f"wrote {written} event(s) to {ledger.url} in {elapsed:.2f}s "
            f"({written / elapsed if elapsed else 0:,.0f} events/s), spanning {args.days:g} day(s) "
            f"from {start.isoformat(timespec='minutes')}; {offsets}"
        )
        out.write(
            f"recorded {end_offset - before_tickets} event(s) of {len(tickets)} replayable "
            f"ticket workflow(s) ({tickets[0]} .. {tickets[-1]})"
            + (f", offsets {before_tickets + 1}..{end_offset}" if end_offset > before_tickets else "")
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
    out.write()
    if urlsplit(args.db).scheme == "memory":
        # The suggestions would open a new, empty ledger: this one ends with the process.
        out.write("A memory:// ledger ends with this process: run the demo on a file or a server to")
        out.write("try the next commands (rledger demo, or --db sqlite:///demo.db).")
        return EXIT_OK if report.ok else EXIT_FAILED
    for line in next_commands(tickets[0], None if args.db == default_url() else args.db):
        out.write(line)
    return EXIT_OK if report.ok else EXIT_FAILED
