"""OTLP ingest benchmark: GenAI spans/s through ``ingest_otlp`` (protobuf) against appending the same events.

Subject: ``await ingest_otlp(ledger, body, content_type="application/x-protobuf")`` for every
request in turn — decoding, mapping, pricing, validation and the append (group commit). Each
request is an export as the SDK's batch span processor sends it (up to 510 spans: 85 agent runs
of a root ``invoke_agent``, a sub-agent, two ``execute_tool`` and two ``chat`` spans, 7 ledger
events a run). Baseline: the very same events (mapped beforehand, untimed, as models) appended
in process with ``await ledger.append_async(events)``, one batch per request — what a Python
orchestrator would pay. The ratio is the share of the in-process rate the OTLP path keeps. Both
run on fresh ledgers (a new SQLite file, or PostgreSQL schema), in one process, alternating.
Run ``python -m bench.otlp --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from bench.common import alternate, format_table, pg_schema, provenance, result_row, write_results
from ledger import Ledger, LedgerEvent, open_ledger
from reliability.service.otlp import ingest_otlp, ingest_otlp_sync

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
RUNS_PER_REQUEST = 85
SPANS_PER_RUN = 6
PB = "application/x-protobuf"
T0 = 1_767_225_600_000_000_000


def log(message: str) -> None:
    """Progress on stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def _kv(key: str, value: str | int) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value
    return kv


def _add(
    scope: Any,
    trace: bytes,
    conv: KeyValue,
    start: int,
    n: int,
    name: str,
    parent: int | None,
    *attrs: KeyValue,
) -> None:
    """Add span ``n`` of one run (ends nest: a parent ends after its children)."""
    span = scope.spans.add(
        trace_id=trace,
        span_id=(n + 1).to_bytes(8, "big"),
        name=name,
        start_time_unix_nano=start + n * 1_000_000,
        end_time_unix_nano=start + 1_000_000_000 - n * 1_000_000,
    )
    if parent is not None:
        span.parent_span_id = (parent + 1).to_bytes(8, "big")
    span.attributes.extend([conv, *attrs])


def make_requests(spans: int) -> list[bytes]:
    """Protobuf export requests holding about ``spans`` GenAI spans, 85 runs to a request."""
    runs = max(spans // SPANS_PER_RUN, 1)
    bodies = []
    for first in range(0, runs, RUNS_PER_REQUEST):
        request = ExportTraceServiceRequest()
        scope = request.resource_spans.add().scope_spans.add()
        for run in range(first, min(first + RUNS_PER_REQUEST, runs)):
            trace = (run + 1).to_bytes(16, "big")  # an all-zero trace id is invalid
            conv = _kv("gen_ai.conversation.id", f"run-{run}")
            start = T0 + run * 10_000_000_000

            _add(
                scope,
                trace,
                conv,
                start,
                0,
                "invoke_agent triage",
                None,
                _kv("gen_ai.operation.name", "invoke_agent"),
                _kv("gen_ai.agent.name", "triage"),
            )
            _add(
                scope,
                trace,
                conv,
                start,
                1,
                "invoke_agent worker",
                0,
                _kv("gen_ai.operation.name", "invoke_agent"),
                _kv("gen_ai.agent.name", "worker"),
            )
            for n, tool in ((2, "search"), (3, "fetch")):
                _add(
                    scope,
                    trace,
                    conv,
                    start,
                    n,
                    f"execute_tool {tool}",
                    1,
                    _kv("gen_ai.operation.name", "execute_tool"),
                    _kv("gen_ai.tool.name", tool),
                    _kv("gen_ai.tool.call.arguments", '{"q": "refund policy"}'),
                )
            for n in (4, 5):
                _add(
                    scope,
                    trace,
                    conv,
                    start,
                    n,
                    "chat gpt-4o",
                    1,
                    _kv("gen_ai.operation.name", "chat"),
                    _kv("gen_ai.provider.name", "openai"),
                    _kv("gen_ai.request.model", "gpt-4o"),
                    _kv("gen_ai.usage.input_tokens", 1200),
                    _kv("gen_ai.usage.output_tokens", 150),
                    _kv("gen_ai.usage.cache_read.input_tokens", 800),
                )
        bodies.append(request.SerializeToString())
    return bodies


def mapped_events(bodies: Sequence[bytes]) -> list[list[LedgerEvent]]:
    """The events each request becomes (mapped once through a memory ledger, not timed)."""
    out: list[list[LedgerEvent]] = []
    with open_ledger("memory://") as ledger:
        for body in bodies:
            after = ledger.backend.max_offset()
            answer = ingest_otlp_sync(ledger, body, content_type=PB)
            assert answer.spans_rejected == 0 and answer.spans_skipped == 0
            events: list[LedgerEvent] = [r.event for r in ledger.read(after=after)]
            out.append(events)
    return out


@contextlib.contextmanager
def fresh_url(backend: str, pg_url: str) -> Iterator[str]:
    """A new, empty ledger URL, removed afterwards."""
    if backend == "postgres":
        with pg_schema(pg_url) as schema:
            yield f"{pg_url}?schema={schema}"
        return
    folder = tempfile.mkdtemp(prefix="bench-otlp-")
    try:
        yield f"sqlite:///{folder}/ledger.db"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _timed_on_fresh(backend: str, pg_url: str, work: Any) -> float:
    with fresh_url(backend, pg_url) as url, open_ledger(url) as ledger:
        ledger.append([])  # open and create the tables before the clock starts
        start = time.perf_counter()
        asyncio.run(work(ledger))
        return time.perf_counter() - start


def run_backend(backend: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Measure one backend; return its result row."""
    bodies = make_requests(args.spans)
    batches = mapped_events(bodies)
    spans = max(args.spans // SPANS_PER_RUN, 1) * SPANS_PER_RUN
    log(f"{backend}: {len(bodies)} requests, {spans} spans, {sum(map(len, batches))} events")

    async def via_otlp(ledger: Ledger) -> None:
        for body in bodies:
            answer = await ingest_otlp(ledger, body, content_type=PB, content_encoding=None)
            assert answer.status == 200 and answer.spans_rejected == 0

    async def in_process(ledger: Ledger) -> None:
        for events in batches:
            await ledger.append_async(events)

    results = alternate(
        {
            "otlp": lambda: spans / _timed_on_fresh(backend, args.pg_url, via_otlp),
            "append": lambda: spans / _timed_on_fresh(backend, args.pg_url, in_process),
        },
        args.runs,
        log=log,
    )
    return [
        result_row(
            f"OTLP ingest, protobuf, {RUNS_PER_REQUEST * SPANS_PER_RUN}-span requests ({spans} spans)",
            backend,
            results["otlp"],
            results["append"],
            "the same events, Ledger.append_async in process",
            unit="spans/s",
        )
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the OTLP ingest benchmark; print a table and write ``bench/results/otlp.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.otlp", description=__doc__.splitlines()[0])
    p.add_argument("--spans", type=int, default=20_400, help="GenAI spans per run (6 a trace)")
    p.add_argument("--backend", choices=("sqlite", "postgres", "all"), default="sqlite")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--pg-url", default=PG_URL)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)

    start = provenance()
    rows: list[dict[str, Any]] = []
    for backend in ["sqlite", "postgres"] if args.backend == "all" else [args.backend]:
        rows += run_backend(backend, args)
    print(format_table(rows))
    if not args.no_write:
        path = write_results(
            "otlp",
            args.spans,
            rows,
            start=start,
            settings={"runs": args.runs, "spans_per_request": RUNS_PER_REQUEST * SPANS_PER_RUN},
            note="events per span: 7/6 (a root span is a workflow's start and completion)",
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
