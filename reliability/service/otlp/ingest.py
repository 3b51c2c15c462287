"""``ingest_otlp``: one OTLP/HTTP trace export in, its GenAI spans appended as one atomic batch.

The body is decoded (gzip, protobuf or JSON), each span mapped (:mod:`.genai`), and every
accepted span's events appended together — idempotently, since their ids derive from the
spans — through ``Ledger.append_async`` (group commit: concurrent requests share
transactions). Events are appended in time order (a workflow's start first, its completion
last among events at one instant), so a reader sees a run in the order it happened. A span
whose event conflicts with a stored one (same id, other content) is rejected, the rest written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from ledger import AppendResult, BatchRejectedError, DuplicateEventError, Ledger, LedgerEvent
from projections import PriceTable
from reliability.service.otlp.answer import OtlpAnswer, failure, success
from reliability.service.otlp.decode import (
    DEFAULT_MAX_DECODED_BYTES,
    Format,
    decode_body,
    inflate,
    media_format,
)
from reliability.service.otlp.errors import OtlpError, UnsupportedMediaTypeError
from reliability.service.otlp.genai import ROLE_ORDER, SpanOutcome, map_spans
from reliability.service.otlp.spans import BadSpan, SpanRecord

_T = TypeVar("_T")
OFFLOAD_BYTES = 64 * 1024
"""Bodies larger than this are decoded and mapped in a worker thread, off the event loop."""
_DEFAULT_PRICES = PriceTable()


class _Plan:
    """A decoded request: what each span became, and the batch to append."""

    def __init__(
        self,
        body: bytes,
        content_type: str,
        content_encoding: str | None,
        prices: PriceTable | None,
        max_decoded_bytes: int,
    ) -> None:
        self.fmt: Format = media_format(content_type)
        spans, self.rejected = decode_body(inflate(body, content_encoding, limit=max_decoded_bytes), self.fmt)
        self.outcomes = {o.index: o for o in map_spans(spans, prices or _DEFAULT_PRICES)}
        self.rejected += [BadSpan(o.index, o.problem) for o in self.outcomes.values() if o.problem]
        self.spans: Sequence[SpanRecord] = spans

    def batch(self) -> tuple[list[LedgerEvent], list[int]]:
        """The events of every span still accepted, in time order, and the span of each."""
        rows: list[tuple[int, int, int, LedgerEvent]] = []
        seen = set()
        for span in self.spans:
            outcome = self.outcomes.get(span.index)
            if outcome is None or outcome.problem is not None:
                continue
            for role, event in outcome.events:
                if event.event_id in seen:
                    continue  # the same span twice in one request: one event
                seen.add(event.event_id)
                rows.append((_ns(event), ROLE_ORDER.get(role, 1), span.index, event))
        rows.sort(key=lambda r: r[:3])
        return [r[3] for r in rows], [r[2] for r in rows]

    def reject(self, index: int, message: str) -> None:
        self.outcomes[index] = SpanOutcome(index, problem=message)
        self.rejected.append(BadSpan(index, message))

    def answer(self, written: int) -> OtlpAnswer:
        taken = [o for o in self.outcomes.values() if o.problem is None]
        return success(
            self.fmt,
            accepted=sum(1 for o in taken if not o.skipped),
            skipped=sum(1 for o in taken if o.skipped),
            rejected=self.rejected,
            written=written,
        )


def _ns(event: LedgerEvent) -> int:
    at = event.occurred_at
    return int(at.timestamp()) * 1_000_000 + at.microsecond


async def ingest_otlp(
    ledger: Ledger,
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None,
    prices: PriceTable | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> OtlpAnswer:
    """Take one OTLP/HTTP ``ExportTraceServiceRequest`` (``POST /v1/traces``) into the ledger.

    Args:
        ledger: where the events go.
        body: the request body as received.
        content_type: ``application/x-protobuf`` or ``application/json``.
        content_encoding: ``gzip`` or ``None``.
        prices: the price table costs are priced with (default: the built-in one).
        max_decoded_bytes: the largest body taken, after gzip is undone (413 past it).

    Returns:
        The answer to send: 200 with an ``ExportTraceServiceResponse`` (``partial_success``
        counting rejected spans), 400 for an undecodable body, 413 for one too large, 415 for
        another content type; nothing is written unless the answer is 200.
    """
    args = (body, content_type, content_encoding, prices, max_decoded_bytes)
    # Decoding and mapping is CPU work (~0.1 ms a span): a large export goes to a worker thread,
    # so the event loop keeps serving other requests meanwhile (the GIL still shares one core).
    plan = await asyncio.to_thread(_plan, *args) if len(body) > OFFLOAD_BYTES else _plan(*args)
    if isinstance(plan, OtlpAnswer):
        return plan
    return await _commit(plan, ledger.append_async)


def ingest_otlp_sync(
    ledger: Ledger,
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None = None,
    prices: PriceTable | None = None,
    max_decoded_bytes: int = DEFAULT_MAX_DECODED_BYTES,
) -> OtlpAnswer:
    """:func:`ingest_otlp` for callers without an event loop (``Ledger.append``, one transaction)."""

    async def append(events: list[LedgerEvent]) -> AppendResult:
        return ledger.append(events)

    plan = _plan(body, content_type, content_encoding, prices, max_decoded_bytes)
    if isinstance(plan, OtlpAnswer):
        return plan
    return _run_to_completion(_commit(plan, append))


def _run_to_completion(coro: Awaitable[_T]) -> _T:
    """Run a coroutine that never suspends (its awaits are all synchronous) without a loop."""
    gen = coro.__await__()
    try:
        gen.send(None)
    except StopIteration as done:
        result: _T = done.value
        return result
    raise RuntimeError("ingest_otlp_sync awaited something asynchronous")


def _plan(
    body: bytes,
    content_type: str,
    content_encoding: str | None,
    prices: PriceTable | None,
    max_decoded_bytes: int,
) -> _Plan | OtlpAnswer:
    """The decoded and mapped request, or the error answer for a request that cannot be taken."""
    try:
        return _Plan(body, content_type, content_encoding, prices, max_decoded_bytes)
    except UnsupportedMediaTypeError as exc:
        return failure(exc.status, exc.message, "json")
    except OtlpError as exc:
        return failure(exc.status, exc.message, media_format(content_type))


async def _commit(plan: _Plan, append: Callable[[list[LedgerEvent]], Awaitable[AppendResult]]) -> OtlpAnswer:
    """Append the accepted spans' events as one batch; a span whose event conflicts is rejected."""
    written = 0
    for _ in range(len(plan.spans) + 1):
        events, owners = plan.batch()
        if not events:
            break
        try:
            written = (await append(events)).written
        except DuplicateEventError as exc:
            if exc.index is None:
                raise
            span = owners[exc.index]
            plan.reject(span, f"span {span}: event {exc.event_id} is stored already with other content")
            continue
        except BatchRejectedError as exc:
            # Each event was validated alone; what fails here is batch-level (an event's size).
            for problem in exc.problems:
                if problem.index is not None:
                    span = owners[problem.index]
                    plan.reject(span, f"span {span}: {problem.reason}")
            continue
        break
    return plan.answer(written)
