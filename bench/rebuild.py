"""Rebuild benchmark: events/s to rebuild every core projection from offset 0, and peak RSS.

Subject: ``ProjectionRunner(ledger, CORE_PROJECTIONS).rebuild()`` — read every event, fold the
reliability, SLO and cost projections, save the states (shadow, then switch-over). Floor: read
every stored event's bytes with the raw driver (``sqlite3`` / ``psycopg`` binary cursor) and
``orjson.loads`` each, nothing else (``docs/performance.md``). The ledger is filled once per backend
with the seeded workload (not timed). Peak RSS is measured in a fresh child process that opens
the ledger and rebuilds, so earlier runs do not inflate it.

Run ``python -m bench.rebuild --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence

import orjson
import psycopg
import redis
from psycopg import sql

from bench.common import alternate, format_table, pg_schema, result_row, write_results
from ledger import open_ledger
from ledger.backends.redis.layout import Keys
from ledger.workload import generate
from projections import CORE_PROJECTIONS, ProjectionRunner

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def fill(url: str, events: int, seed: int) -> None:
    """Append the seeded workload in batches of 1000 (not timed)."""
    with open_ledger(url) as ledger:
        batch = []
        for event in generate(events, seed=seed):
            batch.append(event)
            if len(batch) == 1000:
                ledger.append(batch)
                batch = []
        if batch:
            ledger.append(batch)


def subject(url: str) -> float:
    """Rebuild every core projection; return events/s."""
    with open_ledger(url) as ledger:
        total = ledger.latest_offset()
        runner = ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=max(total, 1))
        runner.acquire()
        try:
            start = time.perf_counter()
            runner.rebuild()
            elapsed = time.perf_counter() - start
        finally:
            runner.release()
    return total / elapsed


def floor_sqlite(path: str) -> float:
    """Read every row's bytes with sqlite3 and decode them; return events/s."""
    conn = sqlite3.connect(path)
    try:
        start = time.perf_counter()
        n = 0
        loads = orjson.loads
        cur = conn.execute("SELECT state FROM ledger_events ORDER BY notification_id")
        while rows := cur.fetchmany(5000):
            for (state,) in rows:
                loads(state)
            n += len(rows)
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return n / elapsed


def floor_pg(pg_url: str, schema: str) -> float:
    """Read every row's bytes with a binary server-side cursor and decode them; return events/s."""
    with psycopg.connect(pg_url) as conn:
        start = time.perf_counter()
        n = 0
        loads = orjson.loads
        with conn.cursor(name="floor", binary=True) as cur:
            cur.itersize = 5000
            cur.execute(
                sql.SQL("SELECT state FROM {}.ledger_events ORDER BY notification_id").format(
                    sql.Identifier(schema)
                )
            )
            for (state,) in cur:
                loads(state)
                n += 1
        elapsed = time.perf_counter() - start
    return n / elapsed


_ROW_LENGTHS = struct.Struct(">IHi")  # stream, topic and agent lengths at byte 72 of a packed row


def floor_redis(redis_url: str, prefix: str) -> float:
    """Read every row with ``HMGET`` pages, cut out the event bytes and decode them; events/s."""
    client = redis.Redis.from_url(redis_url)
    rows_key = Keys(prefix).rows
    try:
        start = time.perf_counter()
        n = 0
        loads = orjson.loads
        last = int(client.hget(Keys(prefix).head, "offset") or 0)
        for first in range(1, last + 1, 5000):
            for data in client.hmget(rows_key, list(range(first, min(first + 5000, last + 1)))):
                assert isinstance(data, bytes)
                n_stream, n_topic, n_agent = _ROW_LENGTHS.unpack_from(data, 72)
                loads(data[82 + n_stream + n_topic + max(n_agent, 0) :])
                n += 1
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return n / elapsed


def peak_rss_mb(url: str) -> float:
    """Rebuild in a fresh child process; return its peak resident set size in MB."""
    code = (
        "import resource,sys\n"
        "from bench.rebuild import subject\n"
        "subject(sys.argv[1])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, check=True, timeout=3600
    )
    return int(done.stdout.strip().splitlines()[-1]) / 1024  # ru_maxrss is in KiB on Linux


@contextlib.contextmanager
def sqlite_ledger(events: int, seed: int, base: str | None) -> Iterator[tuple[str, str]]:
    """A filled SQLite ledger file: yields (url, path)."""
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        path = os.path.join(tmp, "rebuild.db")
        url = f"sqlite:///{path}"
        fill(url, events, seed)
        yield url, path


@contextlib.contextmanager
def pg_ledger(events: int, seed: int, pg_url: str) -> Iterator[tuple[str, str]]:
    """A filled PostgreSQL ledger in a fresh schema: yields (url, schema); dropped afterwards."""
    with pg_schema(pg_url) as schema:
        url = f"{pg_url}?schema={schema}"
        fill(url, events, seed)
        yield url, schema


@contextlib.contextmanager
def redis_ledger(events: int, seed: int, redis_url: str) -> Iterator[tuple[str, str]]:
    """A filled Redis ledger under a fresh key prefix: yields (url, prefix); deleted afterwards."""
    prefix = f"bench_{uuid.uuid4().hex[:10]}"
    url = f"{redis_url}?prefix={prefix}"
    try:
        fill(url, events, seed)
        yield url, prefix
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            doomed = list(client.scan_iter(match=f"{Keys(prefix).base}:*", count=1000))
            for i in range(0, len(doomed), 1000):
                client.unlink(*doomed[i : i + 1000])
        finally:
            client.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the rebuild benchmark; print a table and write ``bench/results/rebuild.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.rebuild", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--backend", choices=("sqlite", "postgres", "redis", "all"), default="all")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--redis-url", default=REDIS_URL)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)

    rows = []
    rss: dict[str, float] = {}
    backends = ["sqlite", "postgres", "redis"] if args.backend == "all" else [args.backend]
    for backend in backends:
        log(f"{backend}: filling {args.events:,} events")
        ctx = (
            sqlite_ledger(args.events, args.seed, args.tmp_dir)
            if backend == "sqlite"
            else redis_ledger(args.events, args.seed, args.redis_url)
            if backend == "redis"
            else pg_ledger(args.events, args.seed, args.pg_url)
        )
        with ctx as (url, where):

            def floor(where: str = where, backend: str = backend) -> float:
                if backend == "sqlite":
                    return floor_sqlite(where)
                if backend == "redis":
                    return floor_redis(args.redis_url, where)
                return floor_pg(args.pg_url, where)

            run_subject = functools.partial(subject, url)
            spreads = alternate(
                {"subject": run_subject, "floor": floor},
                args.runs,
                warmup={"subject": run_subject, "floor": floor},
                log=log,
            )
            rss[backend] = peak_rss_mb(url)
            log(f"  peak RSS of a rebuild: {rss[backend]:.0f} MB")
        rows.append(
            result_row(
                "rebuild all core projections",
                backend,
                spreads["subject"],
                spreads["floor"],
                "read + orjson.loads floor",
                target=">= 0.4 x floor",
                note=f"peak RSS {rss[backend]:.0f} MB (target < 300 MB at 1M events)",
            )
        )
    print(format_table(rows))
    for backend, mb in rss.items():
        print(f"peak RSS ({backend}, {args.events:,} events): {mb:.0f} MB")
    if not args.no_write:
        path = write_results(
            "rebuild",
            args.events,
            rows,
            peak_rss_mb=rss,
            settings={"seed": args.seed, "runs": args.runs},
            note="disks here look host-cached: cold rebuilds on a real SSD or cloud volume read slower",
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
