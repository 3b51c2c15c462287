"""Verify benchmark: events/s of ``Ledger.verify()`` against a plain SHA-256 chain loop, same rows.

Subject: ``ledger.verify()`` — every link recomputed and compared, every stored column (type,
event id, agent, event time, stream, commit-time order) checked against the chained bytes, and on
Redis the id, stream, agent and type indexes checked against the rows. Floor: read each row's
offset, stream, version, bytes and chain value with the raw driver (``sqlite3`` / ``psycopg``
binary cursor / Redis ``HMGET`` pages) and recompute and compare the SHA-256 link, nothing else.
Both run alternately in one process (``docs/performance.md``); the ledger is filled once per
backend with the seeded workload (not timed). Also measured: ``verify --since-anchor`` from an
anchor 10 000 events back, which checks only what is new — and, from the measured rates, the
projected full verify of a 100M-event ledger and a daily verify of a day's million new events.

Run ``python -m bench.verify --help``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import sqlite3
import struct
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

import psycopg
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from bench.common import alternate, format_table, result_row, write_results
from bench.rebuild import PG_URL, REDIS_URL, log, pg_ledger, redis_ledger, sqlite_ledger
from ledger import Anchor, open_ledger, sign_head
from ledger.backends.redis.layout import Keys

_U64 = struct.Struct(">Q").pack
_HEADER = struct.Struct(">qqq16s32sIHi")  # a packed Redis row's header (bench reads it raw)


def subject(url: str) -> float:
    """Run a full ``verify``; return events/s (it must pass: a failed verify is not a figure)."""
    with open_ledger(url) as ledger:
        start = time.perf_counter()
        report = ledger.verify()
        elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"verify failed on the benchmark ledger: {report.problems[:3]}")
    return report.events_checked / elapsed


NEW_EVENTS = 10_000
"""Events appended after the anchor that ``verify --since-anchor`` checks."""


def since_anchor(url: str, anchor: Anchor) -> tuple[float, int]:
    """Verify only the rows after ``anchor`` (``verify --since-anchor``); return (seconds, events)."""
    with open_ledger(url) as ledger:
        start = time.perf_counter()
        report = ledger.verify(anchors=[anchor], since_anchor=True)
        elapsed = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"verify since the anchor failed: {report.problems[:3]}")
    return elapsed, report.events_checked


def anchor_at(url: str, offset: int, key: Ed25519PrivateKey) -> Anchor:
    """An anchor of the head as it was at ``offset`` (the chain value stored there), signed."""
    with open_ledger(url) as ledger:
        (row,) = ledger.backend.verify_scan(offset - 1, 1)
        head = sign_head(ledger.backend, key, datetime.now(UTC))
    unsigned = dataclasses.replace(head, offset=offset, chain=row[9], recorded_at=None, signature=b"")
    return dataclasses.replace(unsigned, signature=key.sign(unsigned.message()))


def _chain_loop(rows: Iterable[tuple[int, str, int, bytes, bytes]]) -> int:
    """The floor's work: recompute each link and compare it with the stored one."""
    sha256, join, pack = hashlib.sha256, b"".join, _U64
    previous = bytes(32)
    n = 0
    for offset, stream, version, state, chain in rows:
        previous = sha256(
            join((previous, pack(offset), stream.encode(), b"\x00", pack(version), state))
        ).digest()
        if previous != chain:
            raise SystemExit(f"floor: link mismatch at offset {offset}")
        n += 1
    return n


def floor_sqlite(path: str) -> float:
    """The chain loop over rows read with ``sqlite3`` in pages of 5000; events/s."""
    conn = sqlite3.connect(path)
    try:
        start = time.perf_counter()
        cur = conn.execute(
            "SELECT notification_id, originator_id, originator_version, state, chain "
            "FROM ledger_events ORDER BY notification_id"
        )

        def rows() -> Iterable[tuple[int, str, int, bytes, bytes]]:
            while page := cur.fetchmany(5000):
                yield from page

        n = _chain_loop(rows())
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return n / elapsed


def floor_pg(pg_url: str, schema: str) -> float:
    """The chain loop over rows read with a binary server-side cursor; events/s."""
    with psycopg.connect(pg_url) as conn:
        start = time.perf_counter()
        with conn.cursor(name="floor", binary=True) as cur:
            cur.itersize = 5000
            cur.execute(
                sql.SQL(
                    "SELECT notification_id, originator_id, originator_version, state, chain "
                    "FROM {}.ledger_events ORDER BY notification_id"
                ).format(sql.Identifier(schema))
            )
            n = _chain_loop(cur)
        elapsed = time.perf_counter() - start
    return n / elapsed


def floor_redis(redis_url: str, prefix: str) -> float:
    """The chain loop over rows read with ``HMGET`` pages of 5000, headers unpacked raw; events/s."""
    client = redis.Redis.from_url(redis_url)
    keys = Keys(prefix)
    size = _HEADER.size
    try:
        start = time.perf_counter()
        last = int(client.hget(keys.head, "offset") or 0)

        def rows() -> Iterable[tuple[int, str, int, bytes, bytes]]:
            for first in range(1, last + 1, 5000):
                offsets = list(range(first, min(first + 5000, last + 1)))
                for offset, data in zip(offsets, client.hmget(keys.rows, offsets), strict=True):
                    assert isinstance(data, bytes)
                    version, _o, _r, _i, chain, n_stream, n_topic, n_agent = _HEADER.unpack_from(data)
                    stream = data[size : size + n_stream].decode()
                    yield offset, stream, version, data[size + n_stream + n_topic + max(n_agent, 0) :], chain

        n = _chain_loop(rows())
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    return n / elapsed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the verify benchmark; print a table and write ``bench/results/verify.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.verify", description=__doc__.splitlines()[0])
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
    incremental: dict[str, dict[str, float]] = {}
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
            anchor = anchor_at(url, args.events - NEW_EVENTS, Ed25519PrivateKey.generate())
            timings = sorted(since_anchor(url, anchor) for _ in range(args.runs))
            seconds, new = timings[len(timings) // 2]
        rate = spreads["subject"].median
        incremental[backend] = {
            "ledger_events": args.events,
            "new_events": new,
            "since_anchor_seconds": round(seconds, 4),
            "since_anchor_events_per_s": round(new / seconds),
            "full_verify_events_per_s": round(rate),
            "projected_full_verify_of_100M_minutes": round(100_000_000 / rate / 60, 1),
            "projected_since_anchor_verify_of_a_day_of_1M_new_events_s": round(1_000_000 * seconds / new, 1),
        }
        log(f"  since an anchor {new} events back: {seconds * 1000:.1f} ms")
        rows.append(
            result_row(
                "verify (chain + columns + indexes)",
                backend,
                spreads["subject"],
                spreads["floor"],
                "read + SHA-256 chain loop floor",
                target=">= 0.7 x floor",
            )
        )
    print(format_table(rows))
    for backend, figures in incremental.items():
        print(f"{backend}: {figures}")
    if not args.no_write:
        path = write_results(
            "verify",
            args.events,
            rows,
            since_anchor=incremental,
            settings={"seed": args.seed, "runs": args.runs},
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
