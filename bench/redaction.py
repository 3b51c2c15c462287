"""Redaction benchmark: ingest of the demo workload with and without the default-detector policy.

Subject: ``open_ledger(url, redaction={"detectors": [every detector]}).append(batch)``; baseline:
the same events, the same batches, ``open_ledger(url).append(batch)`` — in the same run, the two
cases alternating within each round (rotating which goes first), so both see the same drift of
a shared machine. Events are the demo workload (``ledger.workload.generate``), pre-generated as
models, in batches of 1000; every run gets a fresh SQLite file or PostgreSQL schema. A second
pair of rows puts an e-mail address into 5 % of the tool calls' arguments (so the redacting path
itself is measured, not only the pre-check). The issue's target: the policy costs at most 25 %
of ingest throughput (ratio >= 0.75). Run ``python -m bench.redaction --help``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bench.common import alternate, format_table, pg_schema, provenance, result_row, timed, write_results
from bench.ingest import PG_URL, TABLE, _expect, _pg_count, _sqlite_count, sqlite_file
from ledger import LedgerEvent, ToolCalled, open_ledger
from ledger.redaction import DETECTORS
from ledger.workload import generate

POLICY: dict[str, Any] = {"detectors": list(DETECTORS)}


def log(message: str) -> None:
    """Progress goes to stderr so stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)


def workload(n: int, seed: int, batch: int, *, secrets: float = 0.0) -> list[list[LedgerEvent]]:
    """The demo workload in batches; ``secrets`` of the tool calls carry an e-mail address."""
    events: list[LedgerEvent] = list(generate(n, seed=seed))
    if secrets:
        every = round(1 / secrets)
        calls = [i for i, e in enumerate(events) if isinstance(e, ToolCalled)]
        for k in calls[::every]:
            e = events[k]
            assert isinstance(e, ToolCalled)
            events[k] = e.model_copy(
                update={"arguments": {**e.arguments, "reply_to": f"user{k}@example.com"}}
            )
    return [events[i : i + batch] for i in range(0, n, batch)]


def ingest(
    url_of: Callable[[], Any], batches: list[list[LedgerEvent]], policy: Mapping[str, Any] | None
) -> float:
    """Events/s of appending every batch to a fresh ledger (with ``policy``, if any)."""
    n = sum(map(len, batches))
    with url_of() as (url, count):
        ledger = open_ledger(url, redaction=policy)
        try:
            elapsed = timed(lambda: [ledger.append(b) for b in batches])
        finally:
            ledger.close()
        _expect("redaction bench", count(), n)
    return n / elapsed


def sqlite_url(base: str | None) -> Any:
    """A context manager yielding a fresh SQLite ledger URL and a row counter."""
    import contextlib

    @contextlib.contextmanager
    def cm() -> Any:
        with sqlite_file(base) as path:
            yield f"sqlite:///{path}", lambda: _sqlite_count(path, TABLE)

    return cm


def pg_url(base: str) -> Any:
    """A context manager yielding a fresh PostgreSQL schema's ledger URL and a row counter."""
    import contextlib

    @contextlib.contextmanager
    def cm() -> Any:
        with pg_schema(base) as schema:
            yield f"{base}?schema={schema}", lambda: _pg_count(base, schema, TABLE)

    return cm


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print a table; write ``bench/results/redaction.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.redaction", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=50_000)
    p.add_argument("--runs", type=int, default=5, help="rounds (each runs every case once)")
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="all")
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    start = provenance()
    load_before = os.getloadavg()
    plain = workload(args.events, args.seed, args.batch)
    with_secrets = workload(args.events, args.seed, args.batch, secrets=0.05)
    warm = workload(min(args.events, 10_000), args.seed + 1, args.batch)
    gc.collect()
    gc.freeze()
    rows: list[dict[str, Any]] = []
    backends = ("sqlite", "postgres") if args.backend == "all" else (args.backend,)
    for backend in backends:
        url_of = sqlite_url(args.tmp_dir) if backend == "sqlite" else pg_url(args.pg_url)
        cases = {
            "without": functools.partial(ingest, url_of, plain, None),
            "with": functools.partial(ingest, url_of, plain, POLICY),
            "secrets without": functools.partial(ingest, url_of, with_secrets, None),
            "secrets with": functools.partial(ingest, url_of, with_secrets, POLICY),
        }
        log(f"{backend}: {args.runs} rounds of {args.events:,} events")
        spreads = alternate(
            cases,
            args.runs,
            warmup={"without": functools.partial(ingest, url_of, warm, None)},
            log=log,
        )
        rows.append(
            result_row(
                "ingest, demo workload, default-detector policy",
                backend,
                spreads["with"],
                spreads["without"],
                "same, no policy",
                target=">= 0.75",
            )
        )
        rows.append(
            result_row(
                "ingest, 5% of tool calls with an e-mail, default-detector policy",
                backend,
                spreads["secrets with"],
                spreads["secrets without"],
                "same, no policy",
                target="",
            )
        )
    load_after = os.getloadavg()
    print(format_table(rows))
    if not args.no_write:
        path = write_results(
            "redaction",
            args.events,
            rows,
            start=start,
            settings={"batch": args.batch, "runs": args.runs, "seed": args.seed, "policy": POLICY},
            load_average={"before": load_before, "after": load_after},
            note="the machine is shared (2 cores): cases alternate within each round; medians reported",
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
