"""Server benchmark: events/s through ``rledger serve`` against the in-process ``Ledger`` on the same backend.

Cases (issue #14), each round on a fresh database (a SQLite file, a PostgreSQL schema):

* **HTTP ingest, batches of 1000**: 4 clients POST 1000-event JSON arrays (events pre-encoded,
  unique ids) to a server started for the round; baseline: the same events appended in this
  process with ``Ledger.append`` in batches of 1000. Target >= 0.5.
* **64 concurrent single-event POSTs**: 64 clients each POST one event per request (group
  commit in the server); baseline: one ``Ledger.append`` per event, one transaction each, in
  this process. Target >= 10; p99 latency reported.

The load generator is :mod:`bench.http_load` (raw asyncio HTTP/1.1 keep-alive on uvloop) in a
process of its own; the JSON records its CPU and the server's, in cores. The server is the real
``python -m cli serve`` with a token (auth included). Run ``python -m bench.serve --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from bench.common import alternate, format_table, pg_schema, provenance, result_row, write_results
from bench.http_load import build_request, run_in_child
from bench.serve_frameworks import free_port, process_cpu_seconds, wait_listening
from ledger import generate_workload, open_ledger
from reliability.service import create_token

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
REPO = Path(__file__).resolve().parent.parent
EXTRA: dict[str, dict[str, list[float]]] = {}


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def fresh_db(backend: str) -> Iterator[str]:
    """A URL of a new, empty ledger database, removed afterwards."""
    if backend == "sqlite":
        folder = tempfile.mkdtemp(prefix="bench-serve-")
        try:
            yield f"sqlite:///{folder}/l.db"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    else:
        with pg_schema(PG_URL) as schema:
            yield f"{PG_URL}?schema={schema}"


class Events:
    """Unique events for every measurement (ids never repeat across rounds)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed

    def take(self, n: int) -> list[dict[str, Any]]:
        """``n`` new events as JSON-ready dicts."""
        self._seed += 1
        return [e.model_dump(mode="json") for e in generate_workload(n, seed=self._seed)]


@contextlib.contextmanager
def server(db: str, tokens: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``rledger serve`` on a free port, killed afterwards."""
    port = free_port()
    command = [sys.executable, "-m", "cli", "--db", db, "serve", "--port", str(port), "--tokens", str(tokens)]
    proc = subprocess.Popen([*command, "--log-level", "warning"], cwd=REPO)
    try:
        wait_listening(port)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(30)


def http_case(
    backend: str, events: Events, tokens: Path, token: str, n: int, per_request: int, clients: int, key: str
) -> Callable[[], float]:
    """Events/s of ``n`` events POSTed ``per_request`` at a time by ``clients`` clients."""

    def measure() -> float:
        bodies = [orjson.dumps(chunk) for chunk in _chunks(events.take(n), per_request)]
        with fresh_db(backend) as db, server(db, tokens) as (proc, port):
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
            requests = [build_request("127.0.0.1", port, "POST", "/v1/events", b, headers) for b in bodies]
            # Warm up (not timed): the first request checks the token with scrypt, then it is cached.
            warm = build_request("127.0.0.1", port, "POST", "/v1/events", b"[]", headers)
            run_in_child("127.0.0.1", port, [warm], clients=clients, seconds=30, per_client=2)
            cpu0 = process_cpu_seconds(proc.pid)
            per_client = -(-len(requests) // clients)
            result = run_in_child(
                "127.0.0.1", port, requests, clients=clients, seconds=300, per_client=per_client
            )
            server_cpu = process_cpu_seconds(proc.pid) - cpu0
            if set(result.statuses) != {200} or result.errors:
                raise RuntimeError(f"{key}: statuses {result.statuses}, errors {result.errors[:3]}")
            with open_ledger(db, create=False) as ledger:
                stored = ledger.latest_offset()
            if stored != n:
                raise RuntimeError(f"{key}: {stored} events stored, {n} sent")
        extra = EXTRA.setdefault(key, {"p99_ms": [], "p50_ms": [], "client_cpu": [], "server_cpu": []})
        extra["p99_ms"].append(round(result.percentile(0.99) * 1000, 2))
        extra["p50_ms"].append(round(result.percentile(0.5) * 1000, 2))
        extra["client_cpu"].append(round(result.cpu_seconds / result.seconds, 2))
        extra["server_cpu"].append(round(server_cpu / result.seconds, 2))
        return n / result.seconds

    return measure


def inprocess_case(backend: str, events: Events, n: int, per_append: int) -> Callable[[], float]:
    """Events/s of ``n`` events through ``Ledger.append``, ``per_append`` at a time, in this process."""

    def measure() -> float:
        chunks = list(_chunks(events.take(n), per_append))
        with fresh_db(backend) as db, open_ledger(db) as ledger:
            started = time.perf_counter()
            for chunk in chunks:
                ledger.append(chunk)
            elapsed = time.perf_counter() - started
        return n / elapsed

    return measure


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def main() -> None:
    """Run the cases on each backend, alternating subject and baseline; write bench/results/serve.json."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--backend", action="append", choices=("sqlite", "postgres"))
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--batch-events", type=int, default=20_000, help="events per batch-ingest measurement")
    p.add_argument("--single-events", type=int, default=6_400, help="events per single-POST measurement")
    p.add_argument("--serial-events", type=int, default=1_500, help="events per one-per-transaction baseline")
    args = p.parse_args()
    start = provenance()
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-tokens-"))
    _, token = create_token(folder / "tokens.json", "ingest", "bench")
    events = Events(seed=1000)
    rows = []
    try:
        for backend in args.backend or ["sqlite", "postgres"]:
            batch_key, single_key = f"batch-{backend}", f"single-{backend}"
            cases = {
                "http batches": http_case(
                    backend, events, folder / "tokens.json", token, args.batch_events, 1000, 4, batch_key
                ),
                "in-process batches": inprocess_case(backend, events, args.batch_events, 1000),
                "http single": http_case(
                    backend, events, folder / "tokens.json", token, args.single_events, 1, 64, single_key
                ),
                "one per transaction": inprocess_case(backend, events, args.serial_events, 1),
            }
            log(f"{backend}:")
            spreads = alternate(cases, args.runs, log=lambda s: log(f"  {s}"))
            for case, subject, baseline, name, target, key in (
                ("HTTP ingest, batches of 1000, 4 clients", "http batches", "in-process batches",
                 "in-process Ledger.append, batches of 1000", ">= 0.5", batch_key),
                ("64 concurrent clients, single-event POSTs", "http single", "one per transaction",
                 "in-process Ledger.append, one event per transaction", ">= 10", single_key),
            ):  # fmt: skip
                e = EXTRA[key]
                note = (
                    f"p50 ms {e['p50_ms']}; p99 ms {e['p99_ms']}; server CPU (cores) {e['server_cpu']}; "
                    f"load generator CPU (cores) {e['client_cpu']}"
                )
                row = result_row(
                    case, backend, spreads[subject], spreads[baseline], name, target=target, note=note
                )
                rows.append(row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(format_table(rows))
    path = write_results(
        "serve",
        args.batch_events,
        rows,
        start=start,
        load_generator="bench.http_load: raw asyncio HTTP/1.1 keep-alive client on uvloop, own process",
        settings={k: v for k, v in vars(args).items() if k != "backend"},
        note="2-core machine shared with other engineers' test runs; server, load generator and database "
        "on the same machine",
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
