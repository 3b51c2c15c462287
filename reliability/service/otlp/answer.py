"""The receiver's answer: an ``ExportTraceServiceResponse`` (with ``partial_success``) or an error.

A protobuf request is answered in protobuf, a JSON one in JSON (OTLP/HTTP). Errors carry a
``google.rpc.Status`` (code and message) as the OTLP specification asks; in JSON it also has the
service's ``{"error", "problems"}`` shape. ``google.rpc.Status`` is two fields, encoded here by
hand so the receiver needs no googleapis package.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson

from reliability.service.otlp import proto
from reliability.service.otlp.decode import Format
from reliability.service.otlp.spans import BadSpan

MEDIA_TYPES: dict[Format, str] = {"protobuf": "application/x-protobuf", "json": "application/json"}
MAX_MESSAGES = 20
"""Rejected spans named in ``error_message``; the count covers them all."""
_GRPC_INVALID_ARGUMENT = 3


@dataclass(frozen=True)
class OtlpAnswer:
    """What to send back for one OTLP request.

    Attributes:
        status: the HTTP status (200, 400, 413 or 415).
        body: the encoded response.
        media_type: its content type.
        spans_accepted: spans taken (their events written, or already stored).
        spans_rejected: spans that cannot be taken (``partial_success.rejected_spans``).
        spans_skipped: spans that are not GenAI (or an operation the ledger records no event for).
        events_written: events newly written (a re-sent batch writes none).
    """

    status: int
    body: bytes
    media_type: str
    spans_accepted: int = 0
    spans_rejected: int = 0
    spans_skipped: int = 0
    events_written: int = 0


def success(
    fmt: Format, *, accepted: int, skipped: int, rejected: Sequence[BadSpan], written: int
) -> OtlpAnswer:
    """A 200 answer; ``partial_success`` is set exactly when some spans were rejected."""
    message = rejection_message(rejected)
    if fmt == "protobuf":
        response = proto.export_response()
        if rejected:
            response.partial_success.rejected_spans = len(rejected)
            response.partial_success.error_message = message
        body = response.SerializeToString()
    else:
        doc = {}
        if rejected:
            # OTLP/JSON writes 64-bit integers as decimal strings.
            doc = {"partialSuccess": {"rejectedSpans": str(len(rejected)), "errorMessage": message}}
        body = orjson.dumps(doc)
    return OtlpAnswer(
        200,
        body,
        MEDIA_TYPES[fmt],
        spans_accepted=accepted,
        spans_rejected=len(rejected),
        spans_skipped=skipped,
        events_written=written,
    )


def rejection_message(rejected: Sequence[BadSpan]) -> str:
    """Why spans were rejected: the first :data:`MAX_MESSAGES`, then how many more."""
    lines = [bad.message for bad in sorted(rejected, key=lambda b: b.index)[:MAX_MESSAGES]]
    if len(rejected) > MAX_MESSAGES:
        lines.append(f"… and {len(rejected) - MAX_MESSAGES} more rejected span(s)")
    return "\n".join(lines)


def failure(status: int, message: str, fmt: Format) -> OtlpAnswer:
    """An error answer (nothing was written): ``google.rpc.Status`` in the request's format."""
    if fmt == "protobuf":
        text = message.encode()
        body = bytes([0x08, _GRPC_INVALID_ARGUMENT, 0x12]) + _varint(len(text)) + text
    else:
        body = orjson.dumps(
            {
                "error": message,
                "problems": [{"index": None, "field": None, "message": message}],
                "code": _GRPC_INVALID_ARGUMENT,
                "message": message,
            }
        )
    return OtlpAnswer(status, body, MEDIA_TYPES[fmt])


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)
