"""Explain benchmark (MTTE): p95 to build and explain one 1 000-event workflow's trail in a big ledger.

Subject: ``DecisionTrailBuilder.build(workflow)`` then ``.explain(trail)`` — read the workflow's
events from the ledger, fold them into a trail, render the Markdown, and append the
``ExplanationRecorded`` event the library records for every explanation (MTTE). Baseline: read
that workflow's rows with the raw driver (``sqlite3`` / ``psycopg`` binary cursor,
``SELECT state … WHERE originator_id = ? ORDER BY notification_id``; on SQLite the stream is
found by its number, ``WHERE stream_no = (SELECT no FROM ledger_streams WHERE name = ?) ORDER BY
originator_version``, the same rows in the same order along the stream index), nothing else
(``docs/performance.md``). Subject and baseline samples alternate; each run takes ``--reps`` samples
of each and reports their p50 and p95; the table shows the median of the runs' percentiles with
their min and max.

The ledger holds ``--events`` events of the seeded workload plus one workflow of exactly 1 000
events recorded through a :class:`replay.RunContext` (329 tool calls, 329 steps, 329 evidence
items, 9 LLM costs, a replan, a checkpoint, start and completion). The workflow's events are
interleaved with ~200 000 background events (its tool calls let other workflows write, as ~200
concurrently active workflows would), in the middle of the ledger, so its rows are spread over the
table as they would be in production. Filling is not timed.

Run ``python -m bench.explain --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import numpy as np
import psycopg
from psycopg import sql

from bench.common import (
    Spread,
    format_table,
    pg_schema,
    provenance,
    result_row,
    wait_for_quiet,
    write_results,
)
from ledger import Ledger, LedgerEvent, open_ledger
from ledger.workload import generate
from projections import SLOTracker
from replay import DecisionTrailBuilder, RunContext, ToolRegistry, run_workflow

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WORKFLOW_ID = "bench-long-workflow"
WORKFLOW_EVENTS = 1000
INTERLEAVED = 200_000
"""Background events written while the measured workflow runs (about 200 active workflows)."""


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


class TickingClock:
    """A deterministic clock for the recorded workflow: one millisecond later at every reading."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


class Background:
    """The seeded workload, appended in batches of 1 000 on demand (not timed)."""

    def __init__(self, ledger: Ledger, events: int, seed: int) -> None:
        self.ledger = ledger
        self._events: Iterator[LedgerEvent] = generate(events, seed=seed)

    def pump(self, count: int) -> None:
        """Append the next ``count`` background events (fewer when the workload runs out)."""
        batch: list[LedgerEvent] = []
        for event in self._events:
            batch.append(event)
            if len(batch) == 1000:
                self.ledger.append(batch)
                batch = []
            count -= 1
            if count <= 0:
                break
        if batch:
            self.ledger.append(batch)

    def rest(self) -> None:
        """Append whatever is left of the workload."""
        self.pump(1 << 62)


def tool_result(rng: random.Random, i: int) -> dict[str, Any]:
    """A search-like tool result of roughly 300-1 000 bytes."""
    words = ("refund", "order", "shipping", "invoice", "account", "policy", "warranty", "support")
    rows = [{"id": rng.randrange(10**6), "score": round(rng.random(), 4)} for _ in range(rng.randint(2, 12))]
    summary = " ".join(rng.choice(words) for _ in range(rng.randint(20, 60)))
    return {"i": i, "summary": summary, "rows": rows}


@dataclass
class LongWorkflow:
    """An orchestrator that calls ``fetch`` ``tool_calls`` times, with a step and evidence for each.

    With ``extras`` it also records an LLM cost every 33 calls, a replan and a checkpoint, so
    329 calls make exactly 1 000 events. ``between_calls`` runs before each call (the benchmark
    lets other workflows write there).
    """

    tool_calls: int = 329
    extras: bool = True
    between_calls: Callable[[int], None] | None = None
    evidence: bool = True

    async def run(self, ctx: RunContext, inputs: dict[str, Any]) -> dict[str, Any]:
        """Run the calls; the outcome counts them."""
        verified: UUID | None = None
        for i in range(self.tool_calls):
            if self.between_calls is not None:
                self.between_calls(i)
            result = await ctx.call_tool("fetch", query=f"{inputs['topic']} #{i}", page=i)
            ctx.record_step(
                True, agent="researcher", mode="explore", declared_mode="explore" if i % 50 else "execute"
            )
            if self.evidence:
                if i % 10 == 8 and verified is not None:
                    ctx.collect_evidence(
                        "inference", "analyst", f"pattern {i}", confidence="inferred", based_on=(verified,)
                    )
                elif i % 10 == 9:
                    ctx.collect_evidence("claim", "writer", result["summary"][:80], confidence="claimed")
                else:
                    verified = ctx.collect_evidence("tool_result", "fetch", result)
            if self.extras and i % 33 == 0 and i > 0:
                ctx.record_llm_cost("gpt-4o-mini", 1200 + i, 300 + i, agent="writer")
            if self.extras and i == self.tool_calls // 2:
                ctx.mark_checkpoint("halfway", label="half of the calls done")
        if self.extras:
            ctx.revise_plan("enough evidence: write the answer")
        return {"calls": self.tool_calls}


def fetch_tool(seed: int) -> ToolRegistry:
    """The ``fetch`` tool: a deterministic result per ``page`` (so strict replays reproduce it)."""

    def fetch(query: str, page: int) -> dict[str, Any]:
        return tool_result(random.Random(seed * 1_000_003 + page), page)

    return ToolRegistry({"fetch": fetch})


def record_long_workflow(
    ledger: Ledger,
    workflow_id: str,
    orchestrator: LongWorkflow,
    *,
    seed: int = 0,
    buffered: bool = False,
) -> int:
    """Record ``orchestrator`` as ``workflow_id`` through a run context; return its event count."""
    clock = TickingClock()
    inputs = {"topic": "refund policy"}
    ctx = RunContext(
        ledger,
        workflow_id,
        tools=fetch_tool(seed),
        clock=clock,
        buffered=buffered,
        goal="answer from many sources",
        inputs=inputs,
    )
    asyncio.run(run_workflow(orchestrator, ctx, inputs))
    return ledger.stream_version(f"wf:{workflow_id}")


def fill_with_workflow(ledger: Ledger, events: int, seed: int) -> None:
    """Background workload around one 1 000-event workflow interleaved with ~200k of it."""
    background = Background(ledger, events, seed)
    span = min(INTERLEAVED, events)
    background.pump((events - span) // 2)
    calls = 329
    per_call = span // calls
    orchestrator = LongWorkflow(calls, between_calls=lambda i: background.pump(per_call))
    count = record_long_workflow(ledger, WORKFLOW_ID, orchestrator, seed=seed)
    if count != WORKFLOW_EVENTS:
        raise RuntimeError(f"the measured workflow has {count} events, not {WORKFLOW_EVENTS}")
    background.rest()


# -- subject and baselines --------------------------------------------------------------------


def explain_once(builder: DecisionTrailBuilder) -> float:
    """Build and explain the workflow's trail (recording its MTTE); return milliseconds."""
    start = time.perf_counter()
    trail = builder.build(WORKFLOW_ID)
    text = builder.explain(trail)
    elapsed = (time.perf_counter() - start) * 1000
    if len(trail.history) != WORKFLOW_EVENTS or not text:
        raise RuntimeError("the trail is not the workflow's")
    return elapsed


class RawReader:
    """Reads the workflow's rows with the raw driver: the floor for any trail."""

    def __init__(self, backend: str, where: str, pg_url: str) -> None:
        self.backend = backend
        self.stream = f"wf:{WORKFLOW_ID}"
        self._sqlite: sqlite3.Connection | None = None
        self._pg: psycopg.Connection[Any] | None = None
        if backend == "sqlite":
            self._sqlite = sqlite3.connect(where)
        else:
            self._pg = psycopg.connect(pg_url, autocommit=True)
            self._query = sql.SQL(
                "SELECT state FROM {}.ledger_events WHERE originator_id = %s ORDER BY notification_id"
            ).format(sql.Identifier(where))

    def read(self) -> float:
        """Fetch every row's stored bytes; return milliseconds."""
        start = time.perf_counter()
        if self._sqlite is not None:
            rows = self._sqlite.execute(
                "SELECT state FROM ledger_events WHERE stream_no = "
                "(SELECT no FROM ledger_streams WHERE name = ?) ORDER BY originator_version",
                (self.stream,),
            ).fetchall()
        else:
            assert self._pg is not None
            with self._pg.cursor(binary=True) as cur:
                cur.execute(self._query, (self.stream,))
                rows = cur.fetchall()
        elapsed = (time.perf_counter() - start) * 1000
        if len(rows) != WORKFLOW_EVENTS:
            raise RuntimeError(f"raw read found {len(rows)} rows")
        return elapsed

    def close(self) -> None:
        """Close the driver connection."""
        if self._sqlite is not None:
            self._sqlite.close()
        if self._pg is not None:
            self._pg.close()


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (numpy's default), as ``docs/semantics.md`` asks."""
    return float(np.percentile(np.asarray(values), q))


@dataclass(frozen=True)
class Measured:
    """Per-run percentiles of subject and baseline samples."""

    subject_p50: Spread
    subject_p95: Spread
    baseline_p50: Spread
    baseline_p95: Spread


def measure(subject: Callable[[], float], baseline: Callable[[], float], runs: int, reps: int) -> Measured:
    """``runs`` runs of ``reps`` alternating samples (after one discarded warm-up run)."""
    per_run: dict[str, list[float]] = {"s50": [], "s95": [], "b50": [], "b95": []}
    for run in range(runs + 1):
        s: list[float] = []
        b: list[float] = []
        for rep in range(reps):
            if (run + rep) % 2:
                s.append(subject())
                b.append(baseline())
            else:
                b.append(baseline())
                s.append(subject())
        if run == 0:
            log(f"  warm-up: subject p95 {percentile(s, 95):.2f} ms, baseline p95 {percentile(b, 95):.2f} ms")
            continue
        per_run["s50"].append(percentile(s, 50))
        per_run["s95"].append(percentile(s, 95))
        per_run["b50"].append(percentile(b, 50))
        per_run["b95"].append(percentile(b, 95))
        log(
            f"  run {run}/{runs}: subject p50 {per_run['s50'][-1]:.2f} p95 {per_run['s95'][-1]:.2f} ms; "
            f"baseline p50 {per_run['b50'][-1]:.2f} p95 {per_run['b95'][-1]:.2f} ms"
        )
    return Measured(
        Spread(tuple(per_run["s50"])),
        Spread(tuple(per_run["s95"])),
        Spread(tuple(per_run["b50"])),
        Spread(tuple(per_run["b95"])),
    )


def row(
    case: str,
    backend: str,
    subject: Spread,
    baseline: Spread,
    baseline_name: str,
    target: str,
    note: str = "",
) -> dict[str, Any]:
    """One results row in milliseconds, kept to 3 decimals."""
    return result_row(
        case, backend, subject, baseline, baseline_name, unit="ms", target=target, note=note, digits=3
    )


def format_ms_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a Markdown table with milliseconds to two decimals."""
    return format_table(rows, digits=2)


# -- ledgers ----------------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_ledger(base: str | None) -> Iterator[tuple[str, str]]:
    """An empty SQLite ledger file: yields (url, path); removed afterwards."""
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = os.path.join(tmp, "bench.db")
        yield f"sqlite:///{path}", path


@contextlib.contextmanager
def pg_ledger(pg_url: str) -> Iterator[tuple[str, str]]:
    """An empty PostgreSQL ledger in a fresh schema: yields (url, schema); dropped afterwards."""
    with pg_schema(pg_url) as schema:
        yield f"{pg_url}?schema={schema}", schema


TARGETS = {"sqlite": ("p95 <= 20 ms", 20.0), "postgres": ("p95 <= 30 ms", 30.0)}


def run_backend(backend: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fill one backend, measure, and return its rows and facts."""
    where_cm = sqlite_ledger(args.tmp_dir) if backend == "sqlite" else pg_ledger(args.pg_url)
    with where_cm as (url, where):
        started = time.perf_counter()
        with open_ledger(url) as ledger:
            fill_with_workflow(ledger, args.events, args.seed)
            total = ledger.latest_offset()
        fill_s = time.perf_counter() - started
        log(f"{backend}: filled {total:,} events in {fill_s:.0f} s")
        wait_for_quiet(args.max_load, args.quiet_timeout, log)
        with open_ledger(url) as ledger:
            builder = DecisionTrailBuilder(ledger)
            reader = RawReader(backend, where, args.pg_url)
            try:
                measured = measure(lambda: explain_once(builder), reader.read, args.runs, args.reps)
            finally:
                reader.close()
            recorded = SLOTracker(ledger=ledger).report()
    target, _ = TARGETS[backend]
    facts = {
        "ledger_events": total,
        "fill_seconds": round(fill_s, 1),
        "library_recorded_mtte_p95_ms": recorded.mtte_p95_ms,
        "library_recorded_explanations": recorded.explanations,
    }
    rows = [
        row(
            "build_trail + explain, p95 of a 1000-event workflow",
            backend,
            measured.subject_p95,
            measured.baseline_p95,
            "raw driver read of the workflow's rows (p95)",
            target,
            note=f"{args.reps} samples per run; ledger of {total:,} events",
        ),
        row(
            "build_trail + explain, p50 of a 1000-event workflow",
            backend,
            measured.subject_p50,
            measured.baseline_p50,
            "raw driver read of the workflow's rows (p50)",
            "",
        ),
    ]
    return rows, facts


def main(argv: Sequence[str] | None = None) -> int:
    """Run the explain benchmark; print a table and write ``bench/results/explain.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.explain", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000, help="background events (default 1M)")
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--reps", type=int, default=100, help="samples of each per run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--max-load", type=float, default=1.5, help="wait for this 1-minute load average")
    p.add_argument("--quiet-timeout", type=float, default=60.0)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)

    start = provenance()
    rows: list[dict[str, Any]] = []
    facts: dict[str, Any] = {}
    for backend in ["sqlite", "postgres"] if args.backend == "all" else [args.backend]:
        backend_rows, facts[backend] = run_backend(backend, args)
        rows += backend_rows
    print(format_ms_table(rows))
    for r in rows:
        if r["target"]:
            limit = TARGETS[r["backend"]][1]
            verdict = "meets" if r["subject"] <= limit else "MISSES"
            print(f"{r['backend']}: p95 {r['subject']:.2f} ms {verdict} the target ({r['target']})")
    if not args.no_write:
        path = write_results(
            "explain",
            args.events,
            rows,
            start=start,
            settings={
                "seed": args.seed,
                "runs": args.runs,
                "reps": args.reps,
                "workflow_events": WORKFLOW_EVENTS,
            },
            backends=facts,
            note=(
                "subject includes appending the ExplanationRecorded event (one durable write per sample); "
                "disks here look host-cached (fsync ~110-175 us)"
            ),
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
