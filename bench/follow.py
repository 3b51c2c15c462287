"""Follow benchmark: how far stored projections lag behind a live ingest on PostgreSQL.

Subject: ``rledger follow``'s engine — a :class:`projections.ProjectionRunner` over every core
projection in its own process, woken by LISTEN/NOTIFY, folding new events and saving the
states (``follow(on_batch=…)`` reports each saved position). Baseline: the least any follower
can do — a process woken the same way that only reads the new rows (no decoding, folding or
saving). Meanwhile this process appends the seeded workload at a fixed rate (``--rate``,
batches of ``--batch``), after ``--prefill`` events written beforehand so the states are not
trivially small.

Lag of an appended batch = the time its ``append`` returned (committed) to the first moment the
follower reported a position at or past its last offset: for the subject, the moment the saved
projections include it. Both processes read ``CLOCK_MONOTONIC`` (one clock per machine on
Linux). Batches in the first ``--warmup`` seconds are not counted. Each run uses a fresh
schema; subject and baseline runs alternate.

Run ``python -m bench.follow --help``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from bench.common import Spread, format_table, provenance, result_row, wait_for_quiet, write_results
from bench.explain import pg_ledger
from ledger import LedgerEvent, open_ledger
from ledger.workload import generate
from projections import CORE_PROJECTIONS, ProjectionRunner

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
TARGET_P99_MS = 1000.0
FOLLOWER = "import sys; from bench.follow import follower; follower(*sys.argv[1:])"


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


# -- the follower process ------------------------------------------------------------------------


def follower(url: str, mode: str) -> None:
    """Follow the ledger at ``url`` until a line arrives on stdin; print (position, ns) pairs.

    ``mode`` is ``runner`` (fold and save every core projection) or ``raw`` (read new rows).
    Prints ``ready`` once caught up with what is already there, then, at the end, one JSON
    list of ``[position, monotonic_ns]`` — one entry per wake-up.
    """
    records: list[tuple[int, int]] = []
    stop = threading.Event()
    with open_ledger(url) as ledger:
        runner: ProjectionRunner | None = None
        if mode == "runner":
            runner = ProjectionRunner(ledger, CORE_PROJECTIONS)
            runner.acquire()
            runner.catch_up()
        position = ledger.latest_offset()
        print("ready", flush=True)

        def wait_for_stop() -> None:
            sys.stdin.readline()
            stop.set()
            if runner is not None:
                runner.stop()

        threading.Thread(target=wait_for_stop, daemon=True).start()
        if runner is not None:
            runner.follow(idle_timeout=0.2, on_batch=lambda pos: records.append((pos, time.monotonic_ns())))
            runner.release()
        else:
            while not stop.is_set():
                for page in ledger.scan_pages(after=position):
                    position = page[-1][0]
                records.append((position, time.monotonic_ns()))
                ledger.backend.wait_for_events(position, 0.2)
    print(orjson.dumps(records).decode(), flush=True)


# -- the producer (this process) -----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One run's lags (ms, counted batches only) and what the producer achieved."""

    lags_ms: np.ndarray[Any, np.dtype[np.float64]]
    unreached: int
    achieved_rate: float
    wakeups: int


def one_run(
    mode: str, prefill: Sequence[LedgerEvent], live: Sequence[LedgerEvent], args: argparse.Namespace
) -> Run:
    """Prefill a fresh ledger, start a follower, ingest ``live`` at the rate; measure lags."""
    with pg_ledger(args.pg_url) as (url, _), open_ledger(url) as ledger:
        for i in range(0, len(prefill), 1000):
            ledger.append(prefill[i : i + 1000])
        child = subprocess.Popen(
            [sys.executable, "-c", FOLLOWER, url, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"the {mode} follower did not start")
            commits: list[tuple[int, int]] = []
            start = time.monotonic()
            for n, i in enumerate(range(0, len(live), args.batch)):
                delay = start + n * args.batch / args.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                result = ledger.append(live[i : i + args.batch])
                assert result.last_offset is not None
                commits.append((result.last_offset, time.monotonic_ns()))
            elapsed = time.monotonic() - start
            time.sleep(args.grace)
            out, _ = child.communicate("stop\n", timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
    records = orjson.loads(out.strip().splitlines()[-1])
    positions = np.array([p for p, _ in records], dtype=np.int64)
    times = np.array([t for _, t in records], dtype=np.int64)
    # Positions only grow; the first record at or past each commit's offset is when it was seen.
    seen_at = np.maximum.accumulate(positions)
    warm_ns = int(args.warmup * 1e9)
    first_ns = commits[0][1]
    lags: list[float] = []
    unreached = 0
    for offset, committed_ns in commits:
        if committed_ns - first_ns < warm_ns:
            continue
        i = int(np.searchsorted(seen_at, offset, side="left"))
        if i == len(seen_at):
            unreached += 1
            continue
        # A wake-up recorded before the commit returned can still cover it (the follower saw
        # the rows before the producer got its reply): that is no lag, not a negative one.
        lags.append(max(0.0, (times[i] - committed_ns) / 1e6))
    return Run(np.array(lags), unreached, len(live) / elapsed, len(records))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the follow benchmark; print a table and write ``bench/results/follow.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.follow", description=__doc__.splitlines()[0])
    p.add_argument("--rate", type=float, default=20_000, help="events/s appended while following")
    p.add_argument("--seconds", type=float, default=20.0, help="how long each run appends")
    p.add_argument("--batch", type=int, default=200, help="events per append")
    p.add_argument("--prefill", type=int, default=200_000, help="events written before following")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of each run not counted")
    p.add_argument("--grace", type=float, default=5.0, help="seconds to wait for the follower at the end")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--max-load", type=float, default=1.5)
    p.add_argument("--quiet-timeout", type=float, default=60.0)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)

    live_events = int(args.rate * args.seconds)
    log(f"generating {args.prefill:,} + {live_events:,} events")
    events = list(generate(args.prefill + live_events, seed=args.seed))
    prefill, live = events[: args.prefill], events[args.prefill :]
    wait_for_quiet(args.max_load, args.quiet_timeout, log)
    start = provenance()
    runs: dict[str, list[Run]] = {"runner": [], "raw": []}
    for n in range(args.runs):
        for mode in ("runner", "raw") if n % 2 == 0 else ("raw", "runner"):
            run = one_run(mode, prefill, live, args)
            runs[mode].append(run)
            log(
                f"  run {n + 1}/{args.runs} {mode}: p50 {np.percentile(run.lags_ms, 50):.1f} "
                f"p99 {np.percentile(run.lags_ms, 99):.1f} max {run.lags_ms.max():.1f} ms; "
                f"unreached {run.unreached}; ingest {run.achieved_rate:,.0f} events/s; "
                f"{run.wakeups} wake-ups"
            )

    def spread(mode: str, q: float) -> Spread:
        return Spread(tuple(float(np.percentile(r.lags_ms, q)) for r in runs[mode]))

    note = (
        f"{args.prefill:,} events before, then {live_events:,} at {args.rate:,.0f}/s in batches of "
        f"{args.batch}; achieved "
        + ", ".join(f"{r.achieved_rate:,.0f}" for r in runs["runner"])
        + " events/s; batches never seen within the grace period: "
        + ", ".join(str(r.unreached) for r in runs["runner"])
    )
    rows = [
        result_row(
            f"projection lag p{q}, core projections saved",
            "postgres",
            spread("runner", q),
            spread("raw", q),
            f"a follower that only reads the new rows (p{q})",
            unit="ms",
            target="p99 < 1000 ms" if q == 99 else "",
            note=note if q == 99 else "",
            digits=3,
        )
        for q in (50, 95, 99)
    ]
    print(format_table(rows, digits=1))
    p99 = rows[2]["subject"]
    unreached = sum(r.unreached for r in runs["runner"])
    verdict = "meets" if p99 < TARGET_P99_MS and unreached == 0 else "MISSES"
    print(f"postgres: p99 lag {p99:.1f} ms {verdict} the target (p99 < 1000 ms, every batch seen)")
    if not args.no_write:
        path = write_results(
            "follow",
            args.prefill + live_events,
            rows,
            start=start,
            settings={
                "rate": args.rate,
                "seconds": args.seconds,
                "batch": args.batch,
                "prefill": args.prefill,
                "warmup_s": args.warmup,
                "grace_s": args.grace,
                "runs": args.runs,
                "seed": args.seed,
            },
            runs={
                mode: [
                    {
                        "p50_ms": float(np.percentile(r.lags_ms, 50)),
                        "p99_ms": float(np.percentile(r.lags_ms, 99)),
                        "max_ms": float(r.lags_ms.max()),
                        "unreached": r.unreached,
                        "achieved_rate": round(r.achieved_rate),
                        "wakeups": r.wakeups,
                    }
                    for r in rs
                ]
                for mode, rs in runs.items()
            },
            notes=["PostgreSQL, the producer and the follower share one 2-core VM."],
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
