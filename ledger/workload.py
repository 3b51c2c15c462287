"""Seeded, deterministic synthetic agent traffic: the workload every benchmark replays.

:func:`generate` streams validated events for about ``active_workflows`` concurrently running
workflows whose events arrive interleaved, as in production. Each workflow has 20-200 events: a
start, then steps (a few percent failing, some compensated, some needing a human, some run in
another mode than declared), tool calls with latencies and 100-1650-byte results, evidence graded
verified / claimed / inferred (inferred evidence cites earlier evidence of its workflow), LLM
costs for several models (one unpriced), replans, and a completion. Encoded events measure about
200-2000 bytes with a median near 400: ``docs/performance.md`` asks for a median of ~300, but the stored
encoding writes every default field, so a step without any free text is already ~310 bytes and a
cost entry ~410.

Breaker transitions are not generated: ``ledger.events`` has no breaker event type yet.

The same ``seed`` always yields the same events, ids and times included: everything comes from
one ``random.Random(seed)`` and a simulated clock, never from the wall clock or ``os.urandom``.
Memory is bounded by the number of active workflows, not by ``n_events``. The simulated clock and
workflows are in :mod:`ledger.workload_traffic`, the world's vocabulary in
:mod:`ledger.workload_vocab`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from ledger.codec import encode
from ledger.event_base import LedgerEvent
from ledger.workload_traffic import IdFactory, Made, Shape, TrafficGenerator
from ledger.workload_vocab import DEFAULT_START, PRICE_VERSION, PRICES, UNPRICED_MODEL

__all__ = [
    "DEFAULT_START",
    "PRICES",
    "PRICE_VERSION",
    "UNPRICED_MODEL",
    "generate",
    "generate_dicts",
    "iter_jsonl",
    "write_jsonl",
]


def _fields(
    n_events: int,
    *,
    seed: int,
    active: int,
    start: datetime | None,
    uuid_version: Literal[4, 7],
    as_id: IdFactory,
    span: timedelta | None = None,
) -> Iterator[Made]:
    if n_events < 0:
        raise ValueError("n_events must not be negative")
    if span is not None and span <= timedelta(0):
        raise ValueError("span must be positive")
    if n_events == 0:
        return
    shape = None
    if span is not None:
        shape = Shape(n_events, span // timedelta(microseconds=1), start or DEFAULT_START)
        # Where the random arrivals end depends on the daily pattern's phase (hours either way
        # over a week), so it is measured: a first dry run sets the pace the shape decides by,
        # a second (the same draws as the real run) where it ends, and the times written are
        # scaled to end on the span's end exactly.
        for measure in (True, False):
            dry = TrafficGenerator(seed, active, start, uuid_version, as_id, shape)
            for _ in itertools.islice(dry, n_events):
                pass
            if measure:
                shape.pace = shape.span_us / max(dry.now_us, 1)
            else:
                shape.fit(dry.now_us)
    made = TrafficGenerator(seed, active, start, uuid_version, as_id, shape)
    for count, item in enumerate(made, start=1):
        yield item
        if count >= n_events:
            return


def _id_bytes(value: int) -> bytes:
    # pydantic builds the UUID from 16 bytes in Rust, cheaper than uuid.UUID(int=...) in Python.
    return value.to_bytes(16, "big")


def _id_uuid(value: int) -> UUID:
    return UUID(int=value)


def generate(
    n_events: int,
    *,
    seed: int = 0,
    active_workflows: int = 200,
    start: datetime | None = None,
    uuid_version: Literal[4, 7] = 7,
    span: timedelta | None = None,
) -> Iterator[LedgerEvent]:
    """Yield ``n_events`` validated events of interleaved synthetic agent traffic.

    Args:
        n_events: how many events to yield (the last workflows are left running).
        seed: the same seed always yields the same events, ids and times included.
        active_workflows: how many workflows run concurrently (their events interleave).
        start: the simulated clock's start (aware; default 2026-01-01T00:00Z).
        uuid_version: 7 for time-ordered ids like the ledger's own default, 4 for random ids.
        span: spread the events over this long from ``start``, busier by day than by night,
            with one degrading agent and one incident (see :class:`ledger.workload_traffic.Shape`;
            the demo's traffic). ``None`` (the benchmarks'): ~200 events/s, constant rates.

    Raises:
        ValueError: ``n_events`` is negative, ``active_workflows`` is below 1 or ``span`` is
            not positive.
    """
    for cls, fields in _fields(
        n_events,
        seed=seed,
        active=active_workflows,
        start=start,
        uuid_version=uuid_version,
        as_id=_id_bytes,
        span=span,
    ):
        yield cls.__pydantic_validator__.validate_python(fields)


def generate_dicts(
    n_events: int,
    *,
    seed: int = 0,
    active_workflows: int = 200,
    start: datetime | None = None,
    uuid_version: Literal[4, 7] = 7,
) -> Iterator[dict[str, Any]]:
    """Yield the same events as :func:`generate` as unvalidated mappings with a ``"type"`` key.

    Values are Python objects (UUID, datetime, Decimal), as an in-process orchestrator would
    pass them to ``Ledger.append``; use :func:`iter_jsonl` for the JSON wire form.
    """
    for cls, fields in _fields(
        n_events,
        seed=seed,
        active=active_workflows,
        start=start,
        uuid_version=uuid_version,
        as_id=_id_uuid,
    ):
        fields["type"] = cls.model_fields["type"].default
        yield fields


def iter_jsonl(n_events: int, *, seed: int = 0, **options: Any) -> Iterator[bytes]:
    """Yield the events of :func:`generate` as JSON lines (the stored encoding plus ``\\n``)."""
    for event in generate(n_events, seed=seed, **options):
        yield encode(event) + b"\n"


def write_jsonl(path: str | Path, n_events: int, *, seed: int = 0, **options: Any) -> int:
    """Write the events of :func:`generate` to ``path`` as JSON lines; return bytes written."""
    written = 0
    with open(path, "wb") as out:
        for line in iter_jsonl(n_events, seed=seed, **options):
            written += out.write(line)
    return written
