"""``GET /v1/events`` (filtered, paged by offset, NDJSON) and ``GET /v1/events/stream`` (SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ledger import LedgerError
from reliability.service.params import event_types, known_only, whole_number, window
from reliability.service.problems import ApiError, from_ledger_error
from reliability.service.state import require

__all__ = ["get_events", "stream_events"]

FILTERS = ("workflow", "agent", "type", "since", "until", "after", "limit")
DEFAULT_PAGE = 1000
SSE_PAGE = 500


def _page(state: Any, query: dict[str, Any], limit: int) -> list[bytes]:
    records = state.ledger.read(limit=limit, **query)
    return [orjson.dumps(rec.to_json_dict()) for rec in records]


def _read(state: Any, after: int, through: int, query: dict[str, Any]) -> list[Any]:
    return list(state.ledger.read(after=after, through=through, limit=SSE_PAGE, **query))


def _query(request: Request) -> dict[str, Any]:
    since, until = window(request)
    return {
        "workflow_id": request.query_params.get("workflow"),
        "agent": request.query_params.get("agent"),
        "types": event_types(request),
        "since": since,
        "until": until,
    }


async def get_events(request: Request) -> Response:
    """Stored events in offset order as NDJSON, one page; ``X-Next-After`` is the next cursor."""
    state = require(request, "read")
    known_only(request, FILTERS)
    query = _query(request)
    after = whole_number(request, "after", 0) or 0
    limit = whole_number(request, "limit", DEFAULT_PAGE, maximum=state.config.max_page)
    assert limit is not None
    try:
        lines = await run_in_threadpool(_page, state, {**query, "after": after}, limit) if limit else []
    except LedgerError as exc:
        raise from_ledger_error(exc) from None
    headers = {}
    if lines and len(lines) == limit:
        last = orjson.loads(lines[-1])["offset"]
        headers["X-Next-After"] = str(last)
        headers["Link"] = f'<{request.url.include_query_params(after=last)}>; rel="next"'
    body = b"".join(line + b"\n" for line in lines)
    return Response(body, media_type="application/x-ndjson", headers=headers)


def _resume_point(request: Request) -> int:
    """Where a stream starts: after ``Last-Event-ID`` when reconnecting, else ``after``."""
    last_id = request.headers.get("last-event-id")
    if last_id is not None and last_id.strip():
        if not last_id.strip().isdigit():
            raise ApiError(422, f"Last-Event-ID '{last_id}' is not an offset (this stream's ids are offsets)")
        return int(last_id)
    return whole_number(request, "after", 0) or 0


async def stream_events(request: Request) -> Response:
    """Follow new events as Server-Sent Events (``id`` is the offset; resumes from ``Last-Event-ID``)."""
    state = require(request, "read")
    known_only(request, ("after", "workflow", "agent", "type"))
    after = _resume_point(request)
    query = {
        "workflow_id": request.query_params.get("workflow"),
        "agent": request.query_params.get("agent"),
        "types": event_types(request),
    }
    heartbeat = state.config.sse_heartbeat_seconds

    async def events() -> AsyncIterator[bytes]:
        cursor = after
        yield b"retry: 1000\n\n"
        while True:
            head = state.watcher.head
            if head > cursor:
                try:
                    records = await run_in_threadpool(_read, state, cursor, head, query)
                except LedgerError:
                    # The store is down: end the stream; the client reconnects with its Last-Event-ID.
                    return
                for rec in records:
                    data = orjson.dumps(rec.to_json_dict())
                    yield b"id: %d\nevent: %s\ndata: %s\n\n" % (rec.offset, rec.event.type.encode(), data)
                # Filters may match nothing up to the head: move on from what was read, or the head.
                cursor = records[-1].offset if len(records) == SSE_PAGE else head
                continue
            if not await state.watcher.wait_beyond(cursor, heartbeat):
                yield b": keep-alive\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
