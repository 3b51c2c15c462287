"""Hand-built OTLP trace exports for the tests: one span list, as protobuf or as OTLP/JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z in nanoseconds
TRACE = "0af7651916cd43dd8448eb211c80319c"


@dataclass
class Span:
    """One span to send (ids as hex; times in ns)."""

    span_id: str
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    parent: str | None = None
    start: int = T0
    end: int = T0 + 1_000_000_000
    status: int = 0
    message: str = ""
    trace_id: str = TRACE


def _set(value: AnyValue, v: Any) -> None:
    if isinstance(v, bool):
        value.bool_value = v
    elif isinstance(v, int):
        value.int_value = v
    elif isinstance(v, float):
        value.double_value = v
    elif isinstance(v, list):
        for item in v:
            _set(value.array_value.values.add(), item)
    else:
        value.string_value = v


def protobuf(spans: list[Span], *, resource: dict[str, Any] | None = None) -> bytes:
    """The spans as a protobuf ``ExportTraceServiceRequest``."""
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    for k, v in (resource or {"service.name": "test-agent"}).items():
        _set(rs.resource.attributes.add(key=k).value, v)
    ss = rs.scope_spans.add()
    for s in spans:
        span = ss.spans.add(
            trace_id=bytes.fromhex(s.trace_id),
            span_id=bytes.fromhex(s.span_id),
            name=s.name,
            start_time_unix_nano=s.start,
            end_time_unix_nano=s.end,
        )
        if s.parent:
            span.parent_span_id = bytes.fromhex(s.parent)
        span.status.code = s.status  # type: ignore[assignment]
        span.status.message = s.message
        for k, v in s.attributes.items():
            _set(span.attributes.add(key=k).value, v)
    return request.SerializeToString()


def _json_value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}  # OTLP/JSON: 64-bit integers as decimal strings
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_json_value(i) for i in v]}}
    return {"stringValue": v}


def json_doc(spans: list[Span]) -> dict[str, Any]:
    """The spans as an OTLP/JSON document (hex ids, integer enums, strings for 64-bit ints)."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "test-agent"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "tests"},
                        "spans": [
                            {
                                "traceId": s.trace_id,
                                "spanId": s.span_id,
                                **({"parentSpanId": s.parent} if s.parent else {}),
                                "name": s.name,
                                "kind": 1,
                                "startTimeUnixNano": str(s.start),
                                "endTimeUnixNano": str(s.end),
                                "attributes": [
                                    {"key": k, "value": _json_value(v)} for k, v in s.attributes.items()
                                ],
                                "status": {"code": s.status, "message": s.message},
                            }
                            for s in spans
                        ],
                    }
                ],
            }
        ]
    }


def json_body(spans: list[Span]) -> bytes:
    """:func:`json_doc` encoded."""
    return orjson.dumps(json_doc(spans))


def agent_run(conversation: str | None = "conv-1") -> list[Span]:
    """An agent run as the GenAI conventions shape it: root agent, a sub-agent, a tool, a chat."""
    conv = {"gen_ai.conversation.id": conversation} if conversation else {}
    return [
        Span(
            "1000000000000001",
            "invoke_agent triage",
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "triage", **conv},
            end=T0 + 5_000_000_000,
        ),
        Span(
            "1000000000000002",
            "invoke_agent researcher",
            {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher", **conv},
            parent="1000000000000001",
            start=T0 + 1_000_000_000,
            end=T0 + 4_000_000_000,
        ),
        Span(
            "1000000000000003",
            "execute_tool search",
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "search",
                "gen_ai.tool.call.id": "call_1",
                "gen_ai.tool.call.arguments": '{"q": "refund policy"}',
                "gen_ai.tool.call.result": '{"hits": 3}',
                **conv,
            },
            parent="1000000000000002",
            start=T0 + 2_000_000_000,
            end=T0 + 2_120_000_000,
        ),
        Span(
            "1000000000000004",
            "chat gpt-4o",
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.response.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 200,
                "gen_ai.usage.cache_read.input_tokens": 400,
                **conv,
            },
            parent="1000000000000002",
            start=T0 + 2_500_000_000,
            end=T0 + 3_500_000_000,
        ),
    ]
