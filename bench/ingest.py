"""Ingest benchmark: events/s through the public append API against raw and naive baselines.

Cases (``docs/performance.md``, "The benchmarks and their targets"):

* **ingest**, batches of 1000, SQLite file and PostgreSQL. Subject:
  ``open_ledger(url).append(batch)`` with events pre-generated as models. Floor: the same rows
  (same offsets, streams, versions, encoded states and chain values, computed before the timer;
  on SQLite also the stream numbers, with the ``ledger_streams`` rows of the streams each batch
  starts) inserted raw into the ledger's own ``ledger_events`` table, 1000 rows per transaction, with
  ``executemany`` on SQLite and binary ``COPY`` on PostgreSQL. Naive: an eventsourcing
  ``Application`` with one ``Aggregate`` per workflow, one ``save`` per 100 events, on the
  library's own SQLite / PostgreSQL recorders.
* **ingest on Redis**, batches of 1000: the same subject; floor: the same rows written raw into
  the ledger's own key layout (rows and ids hashes, stream/agent/type indexes, versions, head),
  one ``MULTI``/``EXEC`` per batch, without the commit script's checks. There is no naive
  baseline: eventsourcing has no Redis recorder.
* **concurrent ingest**, PostgreSQL: 64 asyncio producers each awaiting
  ``ledger.append_async(event)`` one event at a time (group commit), taking events from one
  shared queue, against the same events appended sequentially with ``ledger.append(event)``,
  one transaction per event. A second row splits the events by workflow instead (uneven
  queues; no target).

Every run gets a fresh database (a new SQLite file in a temporary directory, a new PostgreSQL
schema, a new Redis key prefix; removed afterwards); opening it is not timed.
Run ``python -m bench.ingest --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import redis
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg import sql

from bench.common import (
    alternate,
    format_table,
    pg_schema,
    provenance,
    result_row,
    timed,
    wait_for_quiet,
    write_results,
)
from ledger import LedgerEvent, open_ledger
from ledger.backends.base import StoredRow
from ledger.backends.packed_rows import pack_row
from ledger.backends.redis.layout import Keys
from ledger.chain import link
from ledger.codec import encode
from ledger.timeutil import to_epoch_us
from ledger.url import open_backend
from ledger.workload import generate

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
TABLE = "ledger_events"
COLUMNS = (
    "notification_id",
    "originator_id",
    "originator_version",
    "topic",
    "event_id",
    "agent",
    "occurred_at",
    "recorded_at",
    "state",
    "chain",
)
PG_TYPES = (
    *("int8", "text", "int8", "text", "uuid", "text"),
    *("timestamptz", "timestamptz", "bytea", "bytea"),
)
NAIVE_SAVE_EVERY = 100

Row = tuple[Any, ...]


def log(message: str) -> None:
    """Progress goes to stderr so stdout carries only the table."""
    print(message, file=sys.stderr, flush=True)


# -- the workload, prepared before any timer ----------------------------------------------


class Workload:
    """The events and every pre-computed form the cases need, built outside the timers."""

    def __init__(self, n_events: int, seed: int, batch: int) -> None:
        started = time.perf_counter()
        self.events: list[LedgerEvent] = list(generate(n_events, seed=seed))
        self.generate_seconds = time.perf_counter() - started
        self.batch = batch
        self.batches = [self.events[i : i + batch] for i in range(0, n_events, batch)]
        self.rows = self._stored_rows()
        self.sqlite_rows, self.sqlite_streams = self._sqlite_layout(self.rows)
        self.naive = [(e.workflow_id or "", e.type, e.model_dump(mode="json")) for e in self.events]  # type: ignore[attr-defined]

    def _stored_rows(self) -> list[Row]:
        """The rows the ledger stores for these events: offsets, versions, states, chain."""
        versions: Counter[str] = Counter()
        recorded_at = datetime.now(UTC)
        chain = bytes(32)
        rows: list[Row] = []
        for offset, e in enumerate(self.events, start=1):
            stream = e.stream
            versions[stream] += 1
            state = encode(e)
            chain = link(chain, offset, stream, versions[stream], state)
            rows.append(
                (
                    offset,
                    stream,
                    versions[stream],
                    e.type,  # type: ignore[attr-defined]
                    e.event_id,
                    e.agent,
                    e.occurred_at,
                    recorded_at,
                    state,
                    chain,
                )
            )
        return rows

    def _sqlite_layout(self, rows: list[Row]) -> tuple[list[Row], list[list[tuple[str, int]]]]:
        """SQLite's rows (ids as bytes, times as microseconds, the stream's number last) and,
        per batch, the ``ledger_streams`` rows of the streams it starts."""

        numbers: dict[str, int] = {}
        out: list[Row] = []
        started: list[list[tuple[str, int]]] = []
        for start in range(0, len(rows), self.batch):
            new: list[tuple[str, int]] = []
            for r in rows[start : start + self.batch]:
                if r[1] not in numbers:
                    numbers[r[1]] = len(numbers) + 1  # streams are numbered in creation order
                    new.append((r[1], numbers[r[1]]))
                # Blobs as bytearray, as the ledger binds them: Python 3.11's sqlite3 binds bytes
                # only after a failed adapter look-up (bench/README.md), which the floor should not pay.
                blobs = bytearray(r[4].bytes), bytearray(r[8]), bytearray(r[9])
                out.append(
                    (
                        *r[:4],
                        blobs[0],
                        r[5],
                        to_epoch_us(r[6]),
                        to_epoch_us(r[7]),
                        blobs[1],
                        blobs[2],
                        numbers[r[1]],
                    )
                )
            started.append(new)
        return out, started

    def chunks(self, rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
        """Yield ``rows`` in transactions of ``batch`` rows."""
        for i in range(0, len(rows), self.batch):
            yield rows[i : i + self.batch]

    def describe(self) -> dict[str, Any]:
        """Sizes, mix and interleaving of the workload, for the results file."""
        sizes = sorted(len(r[8]) for r in self.rows)
        q = statistics.quantiles(sizes, n=100)
        streams = [len({e.stream for e in b}) for b in self.batches]
        return {
            "generator": "ledger.workload.generate(seed=..., active_workflows=200)",
            "generate_events_per_s": round(len(self.events) / self.generate_seconds),
            "encoded_bytes": {
                "min": sizes[0],
                "p10": q[9],
                "median": statistics.median(sizes),
                "p90": q[89],
                "p99": q[98],
                "max": sizes[-1],
            },
            "types": dict(Counter(e.type for e in self.events).most_common()),  # type: ignore[attr-defined]
            "streams_per_batch_mean": round(statistics.mean(streams), 1),
        }


# -- fresh databases ------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite_file(base: str | None) -> Iterator[str]:
    """Yield the path of a new SQLite file in a new directory, removed afterwards."""
    directory = tempfile.mkdtemp(prefix="rledger-bench-", dir=base)
    try:
        yield os.path.join(directory, "ledger.db")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _pg_count(pg_url: str, schema: str, table: str) -> int:
    with psycopg.connect(pg_url) as conn:
        q = sql.SQL("SELECT COUNT(*) FROM {0}.{1}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(q).fetchone()
    return int(row[0]) if row else 0


def _sqlite_count(path: str, table: str) -> int:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


@contextlib.contextmanager
def redis_prefix(redis_url: str) -> Iterator[str]:
    """Yield a new ledger key prefix on Redis; every key under it is deleted afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        client = redis.Redis.from_url(redis_url)
        try:
            doomed = list(client.scan_iter(match=f"{Keys(name).base}:*", count=1000))
            for i in range(0, len(doomed), 1000):
                client.unlink(*doomed[i : i + 1000])
        finally:
            client.close()


def _redis_count(redis_url: str, prefix: str) -> int:
    client = redis.Redis.from_url(redis_url)
    try:
        return int(client.hlen(Keys(prefix).rows))
    finally:
        client.close()


def _redis_ledger_bytes(redis_url: str, prefix: str) -> int:
    """Memory the server reports for every key of one ledger (``MEMORY USAGE … SAMPLES 0``)."""
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{Keys(prefix).base}:*", count=1000))
        return sum(int(client.memory_usage(key, samples=0) or 0) for key in keys)
    finally:
        client.close()


REDIS_BYTES_PER_EVENT: list[float] = []
"""Server memory per stored event (all of a ledger's keys), after each Redis subject run."""


def _expect(what: str, found: int, wanted: int) -> None:
    if found != wanted:
        raise RuntimeError(f"{what}: {found} rows stored, expected {wanted}")


# -- subject: the public append API -------------------------------------------------------


def subject_sqlite(w: Workload, base: str | None) -> float:
    """Events/s of ``open_ledger("sqlite:///…").append(batch)``."""
    with sqlite_file(base) as path:
        ledger = open_ledger(f"sqlite:///{path}")
        try:
            elapsed = timed(lambda: [ledger.append(b) for b in w.batches])
        finally:
            ledger.close()
        _expect("subject sqlite", _sqlite_count(path, TABLE), len(w.events))
    return len(w.events) / elapsed


def subject_pg(w: Workload, pg_url: str) -> float:
    """Events/s of ``open_ledger("postgresql://…").append(batch)``."""
    with pg_schema(pg_url) as schema:
        ledger = open_ledger(f"{pg_url}?schema={schema}")
        try:
            elapsed = timed(lambda: [ledger.append(b) for b in w.batches])
        finally:
            ledger.close()
        _expect("subject postgres", _pg_count(pg_url, schema, TABLE), len(w.events))
    return len(w.events) / elapsed


def subject_redis(w: Workload, redis_url: str) -> float:
    """Events/s of ``open_ledger("redis://…").append(batch)``."""
    with redis_prefix(redis_url) as prefix:
        ledger = open_ledger(f"{redis_url}?prefix={prefix}")
        try:
            elapsed = timed(lambda: [ledger.append(b) for b in w.batches])
        finally:
            ledger.close()
        _expect("subject redis", _redis_count(redis_url, prefix), len(w.events))
        REDIS_BYTES_PER_EVENT.append(_redis_ledger_bytes(redis_url, prefix) / len(w.events))
    return len(w.events) / elapsed


# -- floor: the same rows inserted raw into the same table ---------------------------------


def floor_sqlite(w: Workload, base: str | None) -> float:
    """Events/s of raw ``executemany`` of the pre-encoded rows, one transaction per batch."""
    with sqlite_file(base) as path:
        open_backend(f"sqlite:///{path}").close()  # the ledger's own DDL and WAL mode
        insert = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}, stream_no) VALUES ({','.join('?' * 11)})"
        insert_streams = "INSERT INTO ledger_streams (name, no) VALUES (?, ?)"
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:

            def run() -> None:
                for chunk, streams in zip(w.chunks(w.sqlite_rows), w.sqlite_streams, strict=True):
                    conn.execute("BEGIN IMMEDIATE")
                    conn.executemany(insert_streams, streams)
                    conn.executemany(insert, chunk)
                    conn.execute("COMMIT")

            elapsed = timed(run)
        _expect("floor sqlite", _sqlite_count(path, TABLE), len(w.events))
    return len(w.events) / elapsed


def floor_pg(w: Workload, pg_url: str) -> float:
    """Events/s of binary ``COPY`` of the pre-encoded rows, one transaction per batch."""
    with pg_schema(pg_url) as schema:
        open_backend(f"{pg_url}?schema={schema}").close()  # the ledger's own DDL
        copy_sql = sql.SQL("COPY {0}.{1} ({2}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(schema),
            sql.Identifier(TABLE),
            sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        )
        with psycopg.connect(pg_url) as conn:

            def run() -> None:
                for chunk in w.chunks(w.rows):
                    with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                        copy.set_types(PG_TYPES)
                        for row in chunk:
                            copy.write_row(row)

            elapsed = timed(run)
        _expect("floor postgres", _pg_count(pg_url, schema, TABLE), len(w.events))
    return len(w.events) / elapsed


def _redis_batches(w: Workload, k: Keys) -> list[list[tuple[str, Any, dict[Any, Any]]]]:
    """Per batch, the bulk commands that store its rows: one per key, every member at once."""
    batches = []
    for chunk in w.chunks(w.rows):
        members: dict[str, dict[int, int]] = {}
        versions: dict[str, int] = {}
        for r in chunk:
            offset, stream, version, topic, agent = r[0], r[1], r[2], r[3], r[5]
            keys = [k.stream(stream), k.topic(topic)] + ([k.agent(agent)] if agent is not None else [])
            for key in keys:
                members.setdefault(key, {})[offset] = offset
            versions[stream] = version
        last = chunk[-1]
        commands: list[tuple[str, Any, dict[Any, Any]]] = [
            ("hset", k.rows, {r[0]: pack_row(StoredRow(*r)) for r in chunk}),
            ("hset", k.ids, {r[4].bytes: r[0] for r in chunk}),
            *(("zadd", key, m) for key, m in members.items()),
            ("hset", k.versions, versions),
            ("hset", k.head, {"offset": last[0], "chain": last[9], "recorded_us": 0}),
        ]
        batches.append(commands)
    return batches


def floor_redis(w: Workload, redis_url: str) -> float:
    """Events/s of the pre-packed rows written raw into the ledger's keys: bulk commands, one
    ``MULTI``/``EXEC`` per batch, no checks (commands grouped by key before the timer)."""
    with redis_prefix(redis_url) as prefix:
        open_backend(f"{redis_url}?prefix={prefix}").close()  # the ledger's own meta key
        batches = _redis_batches(w, Keys(prefix))
        client = redis.Redis.from_url(redis_url)

        def run() -> None:
            for commands in batches:
                pipe = client.pipeline(transaction=True)
                for command, key, values in commands:
                    if command == "zadd":
                        pipe.zadd(key, values)
                    else:
                        pipe.hset(key, mapping=values)
                pipe.execute()

        try:
            elapsed = timed(run)
        finally:
            client.close()
        _expect("floor redis", _redis_count(redis_url, prefix), len(w.events))
    return len(w.events) / elapsed


# -- naive: eventsourcing Application + Aggregate ------------------------------------------


class AgentRun(Aggregate):
    """One workflow as a library aggregate: each ledger event becomes one aggregate event."""

    @staticmethod
    def create_id(workflow_id: str) -> uuid.UUID:
        """Derive the aggregate id from the workflow id."""
        return uuid.uuid5(uuid.NAMESPACE_URL, workflow_id)

    @event("Started")
    def __init__(self, workflow_id: str, data: dict[str, Any]) -> None:
        self.workflow_id = workflow_id

    @event("Recorded")
    def record(self, data: dict[str, Any]) -> None:
        """Record one event of the workflow (its JSON form, pre-computed)."""


def _naive_ingest(app: Application[Any], items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
    runs: dict[str, AgentRun] = {}
    touched: dict[str, AgentRun] = {}
    for count, (workflow_id, kind, data) in enumerate(items, start=1):
        if kind == "WorkflowStarted":
            run = runs[workflow_id] = AgentRun(workflow_id, data)
        else:
            run = runs[workflow_id]
            run.record(data)
        touched[workflow_id] = run
        if kind == "WorkflowCompleted":
            del runs[workflow_id]
        if count % NAIVE_SAVE_EVERY == 0:
            app.save(*touched.values())
            touched.clear()
    if touched:
        app.save(*touched.values())


def _naive(env: dict[str, str], w: Workload, what: str) -> float:
    if os.environ.get("POSTGRES_ENABLE_DB_FUNCTIONS"):
        raise RuntimeError("unset POSTGRES_ENABLE_DB_FUNCTIONS (it skips the table lock)")
    app: Application[Any] = Application(env=env)
    try:
        elapsed = timed(lambda: _naive_ingest(app, w.naive))
        _expect(what, app.recorder.max_notification_id() or 0, len(w.events))
    finally:
        app.close()
    return len(w.events) / elapsed


def naive_sqlite(w: Workload, base: str | None) -> float:
    """Events/s of an eventsourcing Application on its SQLite recorder, a save per 100."""
    with sqlite_file(base) as path:
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path}
        return _naive(env, w, "naive sqlite")


def naive_pg(w: Workload, pg_url: str) -> float:
    """Events/s of an eventsourcing Application on its PostgreSQL recorder, a save per 100."""
    info = psycopg.conninfo.conninfo_to_dict(pg_url)
    with pg_schema(pg_url) as schema:
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": str(info.get("dbname", "postgres")),
            "POSTGRES_HOST": str(info.get("host", "127.0.0.1")),
            "POSTGRES_PORT": str(info.get("port", "5432")),
            "POSTGRES_USER": str(info.get("user", "postgres")),
            "POSTGRES_PASSWORD": str(info.get("password", "")),
            "POSTGRES_SCHEMA": schema,
        }
        return _naive(env, w, "naive postgres")


# -- concurrent ingest on PostgreSQL ------------------------------------------------------


def producer_queues(events: Sequence[LedgerEvent], producers: int) -> list[list[LedgerEvent]]:
    """Split events among producers by workflow, so each workflow keeps its order."""
    queues: list[list[LedgerEvent]] = [[] for _ in range(producers)]
    for e in events:
        queues[zlib.crc32((e.workflow_id or "").encode()) % producers].append(e)
    return queues


def group_commit_pg(
    events: Sequence[LedgerEvent], producers: int, pg_url: str, *, split: str = "shared"
) -> float:
    """Events/s of ``producers`` asyncio tasks each awaiting ``append_async(event)`` in turn.

    ``split="shared"``: every producer takes the next event from one shared queue, so all of
    them stay busy to the end. Each takes an event and submits it in the same step (nothing
    awaits in between), so events are submitted — and stored — in the workload's order.
    ``split="by-workflow"``: each producer owns whole workflows (:func:`producer_queues`);
    with ~200 workflows of 20-200 events the queues are uneven (0 to ~400 of 10 000 events),
    so the run ends with a long tail of a few producers.
    """

    async def main(ledger: Any) -> float:
        async def produce(queue: Iterable[LedgerEvent]) -> None:
            for e in queue:
                await ledger.append_async(e)

        if split == "shared":
            shared = iter(events)
            queues: list[Iterable[LedgerEvent]] = [shared] * producers
        else:
            queues = list(producer_queues(events, producers))
        gc.collect()
        start = time.perf_counter()
        await asyncio.gather(*(produce(q) for q in queues))
        return time.perf_counter() - start

    with pg_schema(pg_url) as schema:
        ledger = open_ledger(f"{pg_url}?schema={schema}")
        try:
            elapsed = asyncio.run(main(ledger))
            if split == "shared":
                stored = [r.event.event_id for r in ledger.read()]
                if stored != [e.event_id for e in events]:
                    raise RuntimeError("group commit stored the events out of submission order")
        finally:
            ledger.close()
        _expect("group commit", _pg_count(pg_url, schema, TABLE), len(events))
    return len(events) / elapsed


def one_per_transaction_pg(events: Sequence[LedgerEvent], pg_url: str) -> float:
    """Events/s of sequential ``ledger.append(event)``: one transaction per event."""
    with pg_schema(pg_url) as schema:
        ledger = open_ledger(f"{pg_url}?schema={schema}")
        try:
            elapsed = timed(lambda: [ledger.append(e) for e in events])
        finally:
            ledger.close()
        _expect("one per transaction", _pg_count(pg_url, schema, TABLE), len(events))
    return len(events) / elapsed


# -- settings and the command line ----------------------------------------------------------


def pg_settings(pg_url: str) -> dict[str, Any]:
    """The server settings that move these numbers."""
    names = ("server_version", "synchronous_commit", "fsync", "wal_level", "shared_buffers")
    with psycopg.connect(pg_url) as conn:
        found = {n: conn.execute(sql.SQL("SHOW {0}").format(sql.Identifier(n))).fetchone() for n in names}
    return {n: (v[0] if v else None) for n, v in found.items()} | {"host": "127.0.0.1 (same VM)"}


def sqlite_settings(base: str | None) -> dict[str, Any]:
    """The pragmas the ledger's SQLite connections run with."""
    with sqlite_file(base) as path:
        open_backend(f"sqlite:///{path}").close()
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return {
                "journal_mode": conn.execute("PRAGMA journal_mode").fetchone()[0],
                "synchronous": conn.execute("PRAGMA synchronous").fetchone()[0],
                "directory": base or tempfile.gettempdir(),
            }


def redis_settings(redis_url: str) -> dict[str, Any]:
    """The server settings that decide Redis durability and speed."""
    client = redis.Redis.from_url(redis_url)
    try:
        config = {n: client.config_get(n).get(n) for n in ("appendonly", "appendfsync", "save")}
        info = client.info("server")
    finally:
        client.close()
    return {"redis_version": info.get("redis_version"), **config, "host": "127.0.0.1 (same VM)"}


def ingest_cases(
    backend: str, base: str | None, pg_url: str, redis_url: str = REDIS_URL
) -> tuple[dict[str, Callable[[Workload], float]], str]:
    """Return the floor, subject and naive cases of one backend, and the floor's name."""
    if backend == "redis":
        return {
            "floor": functools.partial(floor_redis, redis_url=redis_url),
            "subject": functools.partial(subject_redis, redis_url=redis_url),
        }, "raw MULTI/EXEC of pre-packed rows into the same keys"
    if backend == "sqlite":
        return {
            "floor": functools.partial(floor_sqlite, base=base),
            "subject": functools.partial(subject_sqlite, base=base),
            "naive": functools.partial(naive_sqlite, base=base),
        }, "raw executemany of pre-encoded rows"
    return {
        "floor": functools.partial(floor_pg, pg_url=pg_url),
        "subject": functools.partial(subject_pg, pg_url=pg_url),
        "naive": functools.partial(naive_pg, pg_url=pg_url),
    }, "raw binary COPY of pre-encoded rows"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ingest benchmark; print a table; write ``bench/results/ingest.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=100_000, help="events per ingest run")
    p.add_argument("--backend", choices=("sqlite", "postgres", "redis", "all"), default="all")
    p.add_argument("--runs", type=int, default=5, help="timed runs of each case (after a warm-up)")
    p.add_argument("--naive-runs", type=int, default=None, help="runs of the naive baseline")
    p.add_argument("--concurrent-events", type=int, default=10_000)
    p.add_argument("--producers", type=int, default=64)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=PG_URL, help="a database where schemas may be created")
    p.add_argument("--redis-url", default=REDIS_URL, help="a Redis database where ledger keys may be made")
    p.add_argument("--tmp-dir", default=None, help="where SQLite files go (a real disk)")
    p.add_argument("--no-write", action="store_true", help="print only; keep the results file")
    p.add_argument(
        "--max-load",
        type=float,
        default=None,
        help="first wait (up to 10 min) until the 1-minute load average is at most this",
    )
    args = p.parse_args(argv)
    if args.max_load is not None:
        wait_for_quiet(args.max_load, 600, log)
    start = provenance()
    naive_runs = args.naive_runs or args.runs
    backends = ("sqlite", "postgres", "redis") if args.backend == "all" else (args.backend,)
    began = time.perf_counter()

    log(f"generating {args.events:,} events (seed {args.seed}) ...")
    w = Workload(args.events, args.seed, args.batch)
    warm = Workload(min(args.events, 20_000), args.seed + 1, args.batch)
    concurrent = w.events[: args.concurrent_events]
    warm_concurrent = warm.events[: min(2000, args.concurrent_events)]
    # The pre-generated data lives for the whole run; freezing it keeps the collector from
    # re-scanning it in every case (a process that appends does not hold 100k events).
    gc.collect()
    gc.freeze()

    rows: list[dict[str, Any]] = []
    settings: dict[str, Any] = {
        "batch": args.batch,
        "runs": args.runs,
        "naive_runs": naive_runs,
        "naive_save_every": NAIVE_SAVE_EVERY,
        "warmup": "one run of every case on 20k other events, discarded",
        "order": "cases alternate within each round, rotating which goes first",
        "seed": args.seed,
    }
    for backend in backends:
        if backend == "sqlite":
            settings["sqlite"] = sqlite_settings(args.tmp_dir)
        elif backend == "redis":
            settings["redis"] = redis_settings(args.redis_url)
        else:
            settings["postgres"] = pg_settings(args.pg_url)
        cases, floor_name = ingest_cases(backend, args.tmp_dir, args.pg_url, args.redis_url)
        log(f"ingest on {backend}: {args.runs} runs (naive {naive_runs}) of {args.events:,}")
        spreads = alternate(
            {name: functools.partial(fn, w) for name, fn in cases.items()},
            args.runs,
            warmup={name: functools.partial(fn, warm) for name, fn in cases.items()},
            runs_of={"naive": naive_runs},
            log=log,
        )
        rows.append(
            result_row(
                "ingest, batches of 1000",
                backend,
                spreads["subject"],
                spreads["floor"],
                floor_name,
                target=">= 0.5",
            )
        )
        if "naive" in spreads:
            rows.append(
                result_row(
                    "ingest, batches of 1000",
                    backend,
                    spreads["subject"],
                    spreads["naive"],
                    "eventsourcing Application + Aggregate, save per 100",
                    target=">= 3",
                    note="the naive case gets each event's JSON dict pre-computed (not timed)",
                )
            )
        if backend == "redis":
            per_event = round(statistics.median(REDIS_BYTES_PER_EVENT))
            settings["redis"]["memory_usage_bytes_per_event"] = per_event
            log(f"  redis: the ledger's keys take {per_event} bytes per event (MEMORY USAGE)")

    if "postgres" in backends and args.concurrent_events > 0:
        log(
            f"concurrent ingest on postgres: {args.producers} producers, "
            f"{len(concurrent):,} events, {args.runs} runs"
        )
        spreads = alternate(
            {
                "one per transaction": lambda: one_per_transaction_pg(concurrent, args.pg_url),
                "group commit": lambda: group_commit_pg(concurrent, args.producers, args.pg_url),
                "group commit, by workflow": lambda: group_commit_pg(
                    concurrent, args.producers, args.pg_url, split="by-workflow"
                ),
            },
            args.runs,
            warmup={
                "one per transaction": lambda: one_per_transaction_pg(warm_concurrent, args.pg_url),
                "group commit": lambda: group_commit_pg(warm_concurrent, args.producers, args.pg_url),
                "group commit, by workflow": lambda: group_commit_pg(
                    warm_concurrent, args.producers, args.pg_url, split="by-workflow"
                ),
            },
            log=log,
        )
        sizes = sorted(len(q) for q in producer_queues(concurrent, args.producers))
        rows.append(
            result_row(
                f"concurrent ingest, {args.producers} asyncio producers, append_async",
                "postgres",
                spreads["group commit"],
                spreads["one per transaction"],
                "sequential ledger.append(event), one transaction per event",
                target=">= 15",
                note=f"{len(concurrent):,} events per run; producers take the next event from one queue",
            )
        )
        rows.append(
            result_row(
                f"concurrent ingest, {args.producers} producers each owning whole workflows",
                "postgres",
                spreads["group commit, by workflow"],
                spreads["one per transaction"],
                "sequential ledger.append(event), one transaction per event",
                target="",
                note=(
                    f"uneven queues: {sizes[0]}-{sizes[-1]} events per producer, so the run ends "
                    "with few producers left"
                ),
            )
        )
        settings["concurrent_events"] = len(concurrent)
        settings["producers"] = args.producers

    print(format_table(rows))
    settings["duration_s"] = round(time.perf_counter() - began, 1)
    if not args.no_write:
        path = write_results(
            "ingest",
            args.events,
            rows,
            start=start,
            settings=settings,
            workload=w.describe(),
            notes=[
                "Disks here look host-cached (fsync ~110-175 us); per-transaction costs will "
                "be higher on a real SSD or cloud volume.",
                "PostgreSQL runs on the same 2-core VM as the benchmark client.",
            ],
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
