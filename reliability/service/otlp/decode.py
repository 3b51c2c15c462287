"""Decode an OTLP/HTTP trace export body — protobuf or JSON, gzip-encoded or not — into span records.

The JSON form has hex trace and span ids, 64-bit integers as strings and integer enums;
``google.protobuf.json_format.Parse`` would read the hex ids as base64 (silently wrong ids), so
JSON is walked here and every id decoded by hand. A span whose ids are wrong is rejected on its
own (a :class:`~reliability.service.otlp.spans.BadSpan`); a body that is not an export request
at all raises :class:`~reliability.service.otlp.errors.UndecodableBodyError`.
"""

from __future__ import annotations

import base64
import binascii
import math
import zlib
from collections.abc import Mapping
from typing import Any, Literal

import orjson

from reliability.service.otlp import proto
from reliability.service.otlp.errors import (
    BodyTooLargeError,
    UndecodableBodyError,
    UnsupportedMediaTypeError,
)
from reliability.service.otlp.spans import BadSpan, SpanRecord, span_label

Format = Literal["protobuf", "json"]
DEFAULT_MAX_DECODED_BYTES = 64 * 1024 * 1024
"""The most a gzip body may inflate to: a small body must not be able to fill memory."""

_MEDIA_TYPES: dict[str, Format] = {
    "application/x-protobuf": "protobuf",
    "application/protobuf": "protobuf",
    "application/json": "json",
}


def media_format(content_type: str | None) -> Format:
    """The wire format a ``Content-Type`` names (parameters such as ``charset`` are ignored).

    Raises:
        UnsupportedMediaTypeError: it is neither OTLP protobuf nor OTLP JSON.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    try:
        return _MEDIA_TYPES[media]
    except KeyError:
        raise UnsupportedMediaTypeError(
            f"content type {content_type!r} is not OTLP: send application/x-protobuf or application/json"
        ) from None


def inflate(body: bytes, content_encoding: str | None, *, limit: int = DEFAULT_MAX_DECODED_BYTES) -> bytes:
    """The body with its ``Content-Encoding`` (``gzip`` or none) undone, at most ``limit`` bytes.

    Raises:
        UndecodableBodyError: the encoding is unknown or the gzip data is broken.
        BodyTooLargeError: it is, or inflates to, more than ``limit`` bytes.
    """
    encoding = (content_encoding or "identity").strip().lower()
    if encoding == "identity":
        if len(body) > limit:
            raise BodyTooLargeError(f"the body has {len(body)} bytes, over the limit of {limit}")
        return body
    if encoding not in ("gzip", "x-gzip"):
        raise UndecodableBodyError(f"content encoding {content_encoding!r} is not supported: use gzip")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise UndecodableBodyError(f"the gzip body cannot be decompressed: {exc}") from None
    if len(data) > limit:
        raise BodyTooLargeError(f"the gzip body inflates to more than {limit} bytes")
    if not inflater.eof:
        raise UndecodableBodyError("the gzip body is truncated")
    return data


def decode_body(data: bytes, fmt: Format) -> tuple[list[SpanRecord], list[BadSpan]]:
    """Every span of an ``ExportTraceServiceRequest``, and the ones that cannot be taken.

    Raises:
        UndecodableBodyError: ``data`` is not an export request in that format.
    """
    return _decode_protobuf(data) if fmt == "protobuf" else _decode_json(data)


# -- protobuf ------------------------------------------------------------------------------------


def _decode_protobuf(data: bytes) -> tuple[list[SpanRecord], list[BadSpan]]:
    decode_error = proto.decode_error()
    try:
        request = proto.parse_request(data)
    except decode_error as exc:
        raise UndecodableBodyError(f"the body is not a protobuf ExportTraceServiceRequest: {exc}") from None
    spans: list[SpanRecord] = []
    bad: list[BadSpan] = []
    index = 0
    for resource_spans in request.resource_spans:
        resource = _pb_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                problem = _id_problem(span.trace_id, 16, "trace_id") or _id_problem(
                    span.span_id, 8, "span_id"
                )
                if problem is None and span.parent_span_id and len(span.parent_span_id) != 8:
                    problem = f"parent_span_id has {len(span.parent_span_id)} bytes, not 8"
                if problem is not None:
                    bad.append(BadSpan(index, f"{span_label(index, span.name)}: {problem}"))
                else:
                    spans.append(
                        SpanRecord(
                            index=index,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_span_id=span.parent_span_id.hex() or None,
                            name=span.name,
                            start_ns=span.start_time_unix_nano,
                            end_ns=span.end_time_unix_nano,
                            status_code=span.status.code,
                            status_message=span.status.message,
                            attributes=_pb_attributes(span.attributes),
                            resource=resource,
                        )
                    )
                index += 1
    return spans, bad


def _id_problem(raw: bytes, size: int, name: str) -> str | None:
    if len(raw) != size:
        return f"{name} has {len(raw)} bytes, not {size}"
    if not any(raw):
        return f"{name} is all zeros (an invalid id)"
    return None


def _pb_attributes(pairs: Any) -> dict[str, Any]:
    return {kv.key: _pb_value(kv.value) for kv in pairs}


def _pb_value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_pb_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return _pb_attributes(value.kvlist_value.values)
    return getattr(value, kind)


# -- JSON ----------------------------------------------------------------------------------------


def _get(obj: Mapping[str, Any], camel: str, default: Any = None) -> Any:
    """A field by its lowerCamelCase name (OTLP/JSON), or its snake_case proto name."""
    if camel in obj:
        return obj[camel]
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)
    return obj.get(snake, default)


def _list(obj: Mapping[str, Any], camel: str, where: str) -> list[Any]:
    value = _get(obj, camel, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise UndecodableBodyError(f"{where}.{camel} is not a list")
    return value


def _decode_json(data: bytes) -> tuple[list[SpanRecord], list[BadSpan]]:
    try:
        request = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UndecodableBodyError(f"the body is not JSON: {exc}") from None
    if not isinstance(request, dict):
        raise UndecodableBodyError("the body is not an OTLP ExportTraceServiceRequest object")
    spans: list[SpanRecord] = []
    bad: list[BadSpan] = []
    index = 0
    for r, resource_spans in enumerate(_list(request, "resourceSpans", "request")):
        where = f"resourceSpans[{r}]"
        if not isinstance(resource_spans, dict):
            raise UndecodableBodyError(f"{where} is not an object")
        resource_obj = _get(resource_spans, "resource") or {}
        try:
            resource = (
                _json_attributes(resource_obj, f"{where}.resource") if isinstance(resource_obj, dict) else {}
            )
        except ValueError as exc:
            raise UndecodableBodyError(str(exc)) from None
        for s, scope_spans in enumerate(_list(resource_spans, "scopeSpans", where)):
            if not isinstance(scope_spans, dict):
                raise UndecodableBodyError(f"{where}.scopeSpans[{s}] is not an object")
            for span in _list(scope_spans, "spans", f"{where}.scopeSpans[{s}]"):
                try:
                    spans.append(_json_span(span, index, resource))
                except ValueError as exc:
                    name = span.get("name") if isinstance(span, dict) else None
                    bad.append(BadSpan(index, f"{span_label(index, name)}: {exc}"))
                index += 1
    return spans, bad


def _json_span(span: Any, index: int, resource: dict[str, Any]) -> SpanRecord:
    if not isinstance(span, dict):
        raise ValueError("is not an object")
    parent = _get(span, "parentSpanId") or None
    status = _get(span, "status") or {}
    if not isinstance(status, dict):
        raise ValueError("status is not an object")
    name = _get(span, "name", "")
    if not isinstance(name, str):
        raise ValueError("name is not a string")
    message = status.get("message", "")
    return SpanRecord(
        index=index,
        trace_id=_hex_id(_get(span, "traceId"), 16, "traceId"),
        span_id=_hex_id(_get(span, "spanId"), 8, "spanId"),
        parent_span_id=None if parent is None else _hex_id(parent, 8, "parentSpanId"),
        name=name,
        start_ns=_uint64(_get(span, "startTimeUnixNano", 0), "startTimeUnixNano"),
        end_ns=_uint64(_get(span, "endTimeUnixNano", 0), "endTimeUnixNano"),
        status_code=_status_code(status.get("code", 0)),
        status_message=message if isinstance(message, str) else str(message),
        attributes=_json_attributes(span, "span"),
        resource=resource,
    )


def _hex_id(value: Any, size: int, name: str) -> str:
    """A JSON id: ``2 * size`` hex digits (either case), not all zeros."""
    if not isinstance(value, str):
        raise ValueError(f"{name} is missing or not a string")
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        raw = b""
    if len(raw) != size or len(value) != 2 * size:
        raise ValueError(f"{name} {value[:40]!r} is not {2 * size} hex digits")
    if not any(raw):
        raise ValueError(f"{name} is all zeros (an invalid id)")
    return raw.hex()


def _uint64(value: Any, name: str) -> int:
    """A 64-bit unsigned integer, given as a JSON number or (as OTLP/JSON does) a decimal string."""
    if isinstance(value, bool):
        raise ValueError(f"{name} is not an integer")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not 0 <= value < 2**64:
        raise ValueError(f"{name} {value!r} is not an unsigned 64-bit integer")
    return value


_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}


def _status_code(value: Any) -> int:
    if isinstance(value, str) and value in _STATUS_NAMES:
        return _STATUS_NAMES[value]
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1, 2):
        return value
    raise ValueError(f"status.code {value!r} is not 0, 1 or 2")


def _json_attributes(obj: Mapping[str, Any], where: str) -> dict[str, Any]:
    pairs = _get(obj, "attributes", []) or []
    if not isinstance(pairs, list):
        raise ValueError(f"{where}.attributes is not a list")
    out: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, dict) or not isinstance(pair.get("key"), str):
            raise ValueError(f"{where}.attributes has an entry without a string key")
        out[pair["key"]] = _json_value(pair.get("value"), pair["key"])
    return out


def _json_value(value: Any, key: str) -> Any:
    """An OTLP/JSON ``AnyValue`` as a plain value."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError(f"attribute {key!r} is not an AnyValue")
    ((kind, inner),) = value.items()
    if kind in ("stringValue", "string_value") and isinstance(inner, str):
        return inner
    if kind in ("boolValue", "bool_value") and isinstance(inner, bool):
        return inner
    if kind in ("intValue", "int_value"):
        if isinstance(inner, str) and inner.lstrip("-").isdigit():
            inner = int(inner)
        if isinstance(inner, int) and not isinstance(inner, bool) and -(2**63) <= inner < 2**63:
            return inner
    finite_number = isinstance(inner, int | float) and not isinstance(inner, bool) and math.isfinite(inner)
    if kind in ("doubleValue", "double_value") and finite_number:
        return float(inner)
    if kind in ("arrayValue", "array_value") and isinstance(inner, dict):
        values = inner.get("values", [])
        if isinstance(values, list):
            return [_json_value(v, key) for v in values]
    if kind in ("kvlistValue", "kvlist_value") and isinstance(inner, dict):
        return _json_attributes(inner, f"attribute {key!r}")
    if kind in ("bytesValue", "bytes_value") and isinstance(inner, str):
        try:
            return base64.b64decode(inner, validate=True)
        except binascii.Error:
            pass
    raise ValueError(f"attribute {key!r}: {kind} {inner!r} is not a valid value of that kind")
