"""``POST /v1/events`` (a JSON array or NDJSON, atomic and idempotent) and ``POST /v1/traces`` (OTLP).

Events go through :meth:`ledger.Ledger.append_async`, so concurrent requests share
transactions (group commit) and validation, atomicity and idempotency are the library's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ledger import BatchRejectedError, LedgerError, validate_lines
from reliability.service.limits import read_body, split_lines
from reliability.service.problems import ApiError, ApiProblem, from_ledger_error
from reliability.service.state import require

__all__ = ["post_events", "post_traces"]

ExpectedVersion = int | dict[str, int] | None

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def media_type(request: Request) -> str:
    """The request's media type, lower case, without parameters (``charset``)."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _expected_from_query(request: Request) -> ExpectedVersion:
    raw = request.query_params.get("expected_version")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ApiError(
            422,
            f"expected_version '{raw}' is not a whole number of 0 or more",
            [ApiProblem(message="not a whole number of 0 or more", field="expected_version")],
        )
    return value


def _expected_from_body(value: Any) -> ExpectedVersion:
    bad = ApiError(
        422,
        "expected_version must be a whole number (the batch's one stream) or an object of stream to version",
        [ApiProblem(message="not a version or a mapping of stream to version", field="expected_version")],
    )
    if value is None:
        return None
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int):
        if value < 0:
            raise bad
        return value
    if isinstance(value, Mapping) and all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value.values()
    ):
        return dict(value)
    raise bad


def _json_events(body: bytes) -> tuple[list[Any], ExpectedVersion]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"the body is not JSON: {exc}; nothing written") from None
    if isinstance(document, list):
        return document, None
    if isinstance(document, dict) and isinstance(document.get("events"), list):
        unknown = sorted(set(document) - {"events", "expected_version"})
        if unknown:
            raise ApiError(
                422,
                f"unknown field(s) {', '.join(unknown)}: the body is an array of events, or "
                "{'events': [...], 'expected_version': …}",
                [ApiProblem(message="unknown field", field=name) for name in unknown],
            )
        return document["events"], _expected_from_body(document.get("expected_version"))
    raise ApiError(
        422,
        "the body must be a JSON array of events, or an object {'events': [...], 'expected_version': …}",
        [ApiProblem(message=f"got a JSON {type(document).__name__}")],
    )


def _ndjson_events(lines: list[bytes]) -> list[Any]:
    events, problems, _ = validate_lines(lines)
    if problems:
        raise from_ledger_error(BatchRejectedError(problems, sum(1 for line in lines if line.strip())))
    return events


async def post_events(request: Request) -> Response:
    """Append a batch of events atomically; answer their offsets and how many were written."""
    state = require(request, "ingest")
    config = state.config
    kind = media_type(request)
    if kind not in JSON_TYPES + NDJSON_TYPES:
        raise ApiError(
            415,
            f"unsupported Content-Type '{kind or '(none)'}': send application/json (an array of "
            "events) or application/x-ndjson (one event per line)",
        )
    body = await read_body(request, config)
    expected = _expected_from_query(request)
    if kind in NDJSON_TYPES:
        events: list[Any] = _ndjson_events(split_lines(body, config))
    else:
        events, in_body = _json_events(body)
        if in_body is not None:
            if expected is not None:
                raise ApiError(422, "expected_version is given twice (query and body)")
            expected = in_body
    if len(events) > config.max_events:
        raise ApiError(
            413,
            f"{len(events)} events in one request, over the limit of {config.max_events}; nothing written",
        )
    if not events:
        empty = {"offsets": [], "written": 0, "duplicates": 0, "last_offset": None}
        return Response(orjson.dumps(empty), media_type="application/json")
    try:
        result = await state.ledger.append_async(events, expected_version=expected)
    except LedgerError as exc:
        raise from_ledger_error(exc) from None
    except ValueError as exc:  # an int expected_version for a batch spanning several streams
        raise ApiError(
            422, f"{exc}; nothing written", [ApiProblem(message=str(exc), field="expected_version")]
        ) from None
    state.metrics.record_ingest(result.written, result.duplicates)
    if result.last_offset is not None:
        state.watcher.advance(result.last_offset)
    answer = {
        "offsets": list(result.offsets),
        "written": result.written,
        "duplicates": result.duplicates,
        "last_offset": result.last_offset,
    }
    return Response(orjson.dumps(answer), media_type="application/json")


async def post_traces(request: Request) -> Response:
    """Receive OTLP/HTTP traces (the receiver is :mod:`reliability.service.otlp`)."""
    state = require(request, "ingest")
    body = await read_body(request, state.config)
    try:
        # Imported here: the receiver (and protobuf) load only when traces arrive.
        from reliability.service.otlp import ingest_otlp

        answer = await ingest_otlp(
            state.ledger,
            body,
            content_type=media_type(request),
            content_encoding=request.headers.get("content-encoding"),
        )
    except ImportError as exc:  # the otlp extra (opentelemetry-proto) is not installed
        raise ApiError(501, f"the OTLP receiver cannot run in this install: {exc}") from None
    except LedgerError as exc:
        raise from_ledger_error(exc) from None
    state.metrics.record_otlp(answer)
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)
