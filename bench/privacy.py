"""Privacy benchmark: ingest of the demo workload with subjects (sealed fields) vs without; forget latency.

Cases:

* **ingest with subjects**, batches of 1000, SQLite file and PostgreSQL. Subject: the workload of
  ``bench.ingest`` (``ledger.workload.generate``) with every event of a workflow naming one of
  ``--subjects`` data subjects, so its free-form fields are sealed (AES-GCM) before the chain;
  baseline: the same events without a subject, appended the same way. Both run in the same
  process, alternating within each round (rotating which goes first), each on a fresh database.
  Target: the ratio is at least 0.75 (sealing costs at most 25 % of ingest throughput).
* **forget**: ``ledger.forget(subject)`` on the ledger a subjects run filled (milliseconds, median
  over ``--forgets`` subjects): one key row deleted and one event appended, whatever the number of
  the subject's events.

The CPU is shared: the 1-minute load average is recorded before and after.
Run ``python -m bench.privacy --help``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.common import alternate, format_table, pg_schema, provenance, result_row, timed, write_results
from bench.ingest import PG_URL, sqlite_file
from ledger import LedgerEvent, open_ledger
from ledger.keys import ENV_KEY, new_master_key_text
from ledger.workload import generate


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def with_subjects(events: Sequence[LedgerEvent], subjects: int) -> list[LedgerEvent]:
    """The same events, each of a workflow naming the subject of that workflow's customer."""
    out = []
    for e in events:
        key = e.workflow_id or e.agent or "ledger"
        out.append(e.model_copy(update={"subject": f"customer-{hash(key) % subjects}"}))
    return out


def _batches(events: Sequence[LedgerEvent], size: int) -> list[list[LedgerEvent]]:
    return [list(events[i : i + size]) for i in range(0, len(events), size)]


FORGET_MS: dict[str, list[float]] = {}


def _run(url: str, batches: list[list[LedgerEvent]], backend: str, forget: int) -> float:
    ledger = open_ledger(url)
    try:
        elapsed = timed(lambda: [ledger.append(b) for b in batches])
        count = sum(map(len, batches))
        if ledger.latest_offset() != count:
            raise RuntimeError(f"{backend}: {ledger.latest_offset()} events stored, expected {count}")
        for n in range(forget):
            started = time.perf_counter()
            ledger.forget(f"customer-{n}", reason="bench")
            FORGET_MS.setdefault(backend, []).append((time.perf_counter() - started) * 1000)
    finally:
        ledger.close()
    return count / elapsed


def case(
    backend: str, batches: list[list[LedgerEvent]], tmp: str | None, pg_url: str, forget: int
) -> Callable[[], float]:
    """One timed run on a fresh database of ``backend``."""

    def run() -> float:
        if backend == "sqlite":
            with sqlite_file(tmp) as path:
                return _run(f"sqlite:///{path}", batches, backend, forget)
        with pg_schema(pg_url) as schema:
            return _run(f"{pg_url}?schema={schema}", batches, backend, forget)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Run the privacy benchmark; print a table; write ``bench/results/privacy.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.privacy", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000, help="events per ingest run")
    p.add_argument("--subjects", type=int, default=500, help="distinct data subjects")
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--forgets", type=int, default=20, help="subjects forgotten after each subjects run")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault(ENV_KEY, new_master_key_text())
    start = provenance()
    load_before = os.getloadavg()
    plain = list(generate(args.events, seed=args.seed))
    sealed = with_subjects(plain, args.subjects)
    plain_b, sealed_b = _batches(plain, args.batch), _batches(sealed, args.batch)
    warm = list(generate(min(args.events, 10_000), seed=args.seed + 1))
    gc.collect()
    gc.freeze()
    rows: list[dict[str, Any]] = []
    backends = ("sqlite", "postgres") if args.backend == "all" else (args.backend,)
    for backend in backends:
        log(f"ingest on {backend}: {args.runs} rounds of {args.events:,} events, with and without subjects")
        spreads = alternate(
            {
                "with subjects": case(backend, sealed_b, args.tmp_dir, args.pg_url, args.forgets),
                "without": case(backend, plain_b, args.tmp_dir, args.pg_url, 0),
            },
            args.runs,
            warmup={
                "with subjects": case(
                    backend,
                    _batches(with_subjects(warm, args.subjects), args.batch),
                    args.tmp_dir,
                    args.pg_url,
                    0,
                ),
                "without": case(backend, _batches(warm, args.batch), args.tmp_dir, args.pg_url, 0),
            },
            log=log,
        )
        rows.append(
            result_row(
                "ingest with subjects (sealed fields)",
                backend,
                spreads["with subjects"],
                spreads["without"],
                "the same events without a subject",
                target="ratio >= 0.75",
            )
        )
    load_after = os.getloadavg()
    forget = {
        b: {"median_ms": round(statistics.median(v), 3), "max_ms": round(max(v), 3), "count": len(v)}
        for b, v in FORGET_MS.items()
    }
    print(format_table(rows))
    for b, f in forget.items():
        print(f"forget on {b}: median {f['median_ms']} ms, max {f['max_ms']} ms over {f['count']} subjects")
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
    if not args.no_write:
        path = write_results(
            "privacy",
            args.events,
            rows,
            start=start,
            forget=forget,
            subjects=args.subjects,
            sealed_events=sum(1 for e in sealed if e.subject is not None),
            load_average={"before": load_before, "after": load_after},
            settings={
                "batch": args.batch,
                "runs": args.runs,
                "seed": args.seed,
                "order": "alternating rounds",
            },
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
