"""Replay benchmark: simulated replay of a 500-tool-call workflow; projection state as of an offset.

Simulated replay — subject: ``Replayer(trail).simulated_replay(orchestrator)`` end to end: the
orchestrator re-runs with every tool call served from the tape (arguments checked), and the
replay is recorded as its own run (one buffered batch) plus a ``ReplayAttempted`` event. The
trail is built once beforehand (not timed). Baseline: the same orchestrator run against a bare
context that returns the recorded results from a list and records nothing — the orchestrator's
own cost, the floor of any replay. Target: ≤ 200 ms (``docs/performance.md``).

Projection as of the middle offset — subject: ``state_as_of(ledger, ReliabilityProjection, M)``
with ``M`` half the ledger's offsets (reads and folds offsets 1..M). Floor: the same rows
already read into a list, folded in memory (``fold_together``), nothing else.

The ledger holds ``--events`` events of the seeded workload, then the recorded workflow (500
tool calls, 500 steps, 500 evidence items, 15 LLM costs, a checkpoint, a replan, start and
completion: 1 519 events) recorded through a :class:`replay.RunContext`. Filling is not timed. Every simulated
replay sample appends its own run to the ledger, after offset ``M``.

Run ``python -m bench.replay --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID, uuid4

from bench.common import Spread, alternate, provenance, wait_for_quiet, write_results
from bench.explain import (
    Background,
    LongWorkflow,
    format_ms_table,
    pg_ledger,
    record_long_workflow,
    row,
    sqlite_ledger,
)
from ledger import Ledger, ToolCalled, open_ledger
from projections import ReliabilityProjection
from projections.fold import fold_together
from replay import DecisionTrail, DecisionTrailBuilder, Replayer, state_as_of

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
WORKFLOW_ID = "bench-replayed-workflow"
TOOL_CALLS = 500
TARGET_MS = 200.0


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


class BareContext:
    """What an orchestrator needs from a context, serving the tape and recording nothing."""

    def __init__(self, tape: Sequence[ToolCalled]) -> None:
        self.tape = tape
        self.calls = 0

    async def call_tool(self, name: str, /, **arguments: Any) -> Any:
        """Return the recorded result of the next call."""
        taped = self.tape[self.calls]
        self.calls += 1
        return taped.result

    def record_step(self, *args: Any, **kwargs: Any) -> None:
        """Record nothing."""

    def collect_evidence(self, *args: Any, **kwargs: Any) -> UUID:
        """Record nothing; return a fresh id to cite."""
        return uuid4()

    def record_llm_cost(self, *args: Any, **kwargs: Any) -> None:
        """Record nothing."""

    def mark_checkpoint(self, *args: Any, **kwargs: Any) -> None:
        """Record nothing."""

    def revise_plan(self, *args: Any, **kwargs: Any) -> None:
        """Record nothing."""


def simulated_once(trail: DecisionTrail, ledger: Ledger) -> float:
    """One simulated replay, recorded in ``ledger``; return milliseconds."""

    async def replay() -> float:
        replayer = Replayer(trail, ledger=ledger)
        start = time.perf_counter()
        result = await replayer.simulated_replay(LongWorkflow(TOOL_CALLS))
        elapsed = (time.perf_counter() - start) * 1000
        if not result.success or result.differences:
            raise RuntimeError(f"the replay diverged: {result.first_divergence}")
        return elapsed

    gc.collect()
    return asyncio.run(replay())


def bare_once(trail: DecisionTrail) -> float:
    """The orchestrator alone against the tape, recording nothing; return milliseconds."""
    tape = trail.history.tape

    async def run() -> float:
        ctx = BareContext(tape)
        start = time.perf_counter()
        await LongWorkflow(TOOL_CALLS).run(ctx, trail.inputs)  # type: ignore[arg-type]
        elapsed = (time.perf_counter() - start) * 1000
        if ctx.calls != len(tape):
            raise RuntimeError("the bare run did not make the recorded calls")
        return elapsed

    gc.collect()
    return asyncio.run(run())


def as_of_once(ledger: Ledger, offset: int) -> float:
    """``state_as_of`` the reliability projection at ``offset``; return milliseconds."""
    gc.collect()
    start = time.perf_counter()
    state = state_as_of(ledger, ReliabilityProjection, offset)
    elapsed = (time.perf_counter() - start) * 1000
    if state.position != offset:
        raise RuntimeError("state_as_of stopped elsewhere")
    return elapsed


def fold_once(rows: Sequence[Any]) -> float:
    """Fold rows already in memory into a fresh reliability projection; return milliseconds."""
    gc.collect()
    start = time.perf_counter()
    projection = ReliabilityProjection()
    fold_together([projection], rows)
    return (time.perf_counter() - start) * 1000


def run_backend(backend: str, args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Fill one backend, measure both cases, and return the rows and facts."""
    where_cm = sqlite_ledger(args.tmp_dir) if backend == "sqlite" else pg_ledger(args.pg_url)
    with where_cm as (url, _where):
        started = time.perf_counter()
        with open_ledger(url) as ledger:
            Background(ledger, args.events, args.seed).rest()
            events = record_long_workflow(ledger, WORKFLOW_ID, LongWorkflow(TOOL_CALLS), seed=args.seed)
            total = ledger.latest_offset()
        log(f"{backend}: filled {total:,} events in {time.perf_counter() - started:.0f} s")
        middle = total // 2
        wait_for_quiet(args.max_load, args.quiet_timeout, log)
        with open_ledger(url) as ledger:
            trail = DecisionTrailBuilder(ledger, record_mtte=False).build(WORKFLOW_ID)
            if len(trail.tool_calls) != TOOL_CALLS:
                raise RuntimeError("the recorded workflow is not the one measured")
            replay = alternate(
                {"subject": lambda: simulated_once(trail, ledger), "baseline": lambda: bare_once(trail)},
                args.runs,
                warmup={
                    "subject": lambda: simulated_once(trail, ledger),
                    "baseline": lambda: bare_once(trail),
                },
                log=log,
            )
            rows = list(ledger.scan(through=middle))
            check = ReliabilityProjection()
            fold_together([check], rows)
            if check.digest() != state_as_of(ledger, ReliabilityProjection, middle).digest():
                raise RuntimeError("state_as_of and the in-memory fold disagree")
            as_of = alternate(
                {"subject": lambda: as_of_once(ledger, middle), "baseline": lambda: fold_once(rows)},
                args.runs,
                warmup={"subject": lambda: as_of_once(ledger, middle), "baseline": lambda: fold_once(rows)},
                log=log,
            )
    facts = {"ledger_events_before_replays": total, "workflow_events": events, "as_of_offset": middle}
    return [
        _row(
            f"simulated replay, {TOOL_CALLS} tool calls ({events} events)",
            backend,
            replay,
            "orchestrator alone, tape from a list, nothing recorded",
            f"<= {TARGET_MS:.0f} ms",
        ),
        _row(
            f"ReliabilityProjection as of offset {middle:,}",
            backend,
            as_of,
            "fold of the same rows already in memory",
            "",
            note=f"{middle / as_of['subject'].median * 1000:,.0f} events/s read and folded",
        ),
    ], facts


def _row(
    case: str, backend: str, spreads: dict[str, Spread], baseline_name: str, target: str, note: str = ""
) -> dict[str, Any]:
    return row(case, backend, spreads["subject"], spreads["baseline"], baseline_name, target, note)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the replay benchmark; print a table and write ``bench/results/replay.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000, help="background events")
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    p.add_argument("--runs", type=int, default=7)
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
            verdict = "meets" if r["subject"] <= TARGET_MS else "MISSES"
            print(
                f"{r['backend']}: simulated replay {r['subject']:.1f} ms {verdict} the target ({r['target']})"
            )
    if not args.no_write:
        path = write_results(
            "replay",
            args.events,
            rows,
            start=start,
            settings={"seed": args.seed, "runs": args.runs, "tool_calls": TOOL_CALLS},
            backends=facts,
            note="disks here look host-cached (see bench/README.md)",
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
