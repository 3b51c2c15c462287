"""The real OpenTelemetry SDK and OTLP/HTTP exporter send GenAI spans to the receiver over loopback.

Spans are shaped as the OpenAI Agents SDK's instrumentation (``invoke_agent``/``execute_tool``/
``chat`` with ``gen_ai.*``) and OpenLLMetry (``traceloop.span.kind``, ``llm.request.type``, the
older usage names) emit them; the ledger is read back through a second handle on its file.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
import orjson
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from ledger import open_ledger


@pytest.fixture
def captured() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


def record(exporter: Any, shape: str) -> None:
    """Run one instrumented agent run of ``shape`` through a tracer that exports to ``exporter``."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"{shape}-app"}))
    # The batch processor, as deployed: a run's spans go out together, so a chat span's agent is
    # found through its parent (a span exported alone names its agent only by gen_ai.agent.name).
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("tests")
    if shape == "openai-agents":
        conv = {"gen_ai.conversation.id": "thread-7"}
        with (
            tracer.start_as_current_span(
                "invoke_agent Triage",
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Triage", **conv},
            ),
            tracer.start_as_current_span(
                "invoke_agent Refunds",
                attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Refunds", **conv},
            ),
        ):
            with tracer.start_as_current_span(
                "chat gpt-4o",
                attributes={
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": "openai",
                    "gen_ai.request.model": "gpt-4o",
                    "gen_ai.usage.input_tokens": 2000,
                    "gen_ai.usage.output_tokens": 100,
                    "gen_ai.usage.cache_read.input_tokens": 1500,
                    **conv,
                },
            ):
                pass
            with tracer.start_as_current_span(
                "execute_tool issue_refund",
                attributes={
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": "issue_refund",
                    "gen_ai.tool.call.id": "call_abc",
                    **conv,
                },
            ) as tool:
                tool.set_status(Status(StatusCode.ERROR, "card declined"))
    else:  # OpenLLMetry
        with tracer.start_as_current_span(
            "support.workflow",
            attributes={"traceloop.span.kind": "workflow", "traceloop.entity.name": "support"},
        ):
            with tracer.start_as_current_span(
                "openai.chat",
                attributes={
                    "llm.request.type": "chat",
                    "gen_ai.system": "openai",
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.response.model": "gpt-4o-mini",
                    "gen_ai.usage.prompt_tokens": 500,
                    "gen_ai.usage.completion_tokens": 40,
                    "llm.usage.total_tokens": 540,
                },
            ):
                pass
            with tracer.start_as_current_span(
                "GET https://api.example.com", attributes={"http.method": "GET"}
            ):
                pass
    provider.shutdown()


def read_back(url: str) -> list[dict[str, Any]]:
    with open_ledger(url, create=False) as ledger:
        return [r.event.model_dump(mode="json") for r in ledger.read()]


def by_type(events: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        out.setdefault(e["type"], []).append(e)
    return out


def test_the_otlp_exporter_sends_an_openai_agents_run(otlp_endpoint: str, otlp_db: str) -> None:
    record(OTLPSpanExporter(endpoint=otlp_endpoint), "openai-agents")

    events = by_type(read_back(otlp_db))
    assert {t: len(v) for t, v in events.items()} == {
        "WorkflowStarted": 1,
        "WorkflowCompleted": 1,
        "StepRecorded": 1,
        "CostIncurred": 1,
        "ToolCalled": 1,
    }
    assert {e["workflow_id"] for v in events.values() for e in v} == {"thread-7"}
    (cost,) = events["CostIncurred"]
    # 500 fresh input at $2.50/M, 1500 cached at $1.25/M, 100 output at $10/M.
    assert (cost["agent"], cost["cached_tokens"], cost["amount"]) == ("Refunds", 1500, "0.00412500")
    (tool,) = events["ToolCalled"]
    assert (tool["success"], tool["error"], tool["call_id"]) == (False, "card declined", "call_abc")
    assert events["WorkflowStarted"][0]["agent"] == "Triage"


def test_openllmetry_spans_arrive_gzip_encoded_and_http_spans_are_skipped(
    otlp_endpoint: str, otlp_db: str
) -> None:
    record(OTLPSpanExporter(endpoint=otlp_endpoint, compression=Compression.Gzip), "openllmetry")

    events = by_type(read_back(otlp_db))
    assert sorted(events) == ["CostIncurred", "WorkflowCompleted", "WorkflowStarted"]
    (cost,) = events["CostIncurred"]
    assert (cost["provider"], cost["model"], cost["prompt_tokens"], cost["completion_tokens"]) == (
        "openai",
        "gpt-4o-mini",
        500,
        40,
    )
    assert cost["status"] == "priced"


def test_the_same_spans_exported_twice_give_the_same_ledger(
    otlp_endpoint: str, otlp_db: str, captured: InMemorySpanExporter
) -> None:
    record(captured, "openai-agents")
    spans = captured.get_finished_spans()
    exporter = OTLPSpanExporter(endpoint=otlp_endpoint)

    assert exporter.export(spans) == SpanExportResult.SUCCESS
    once = read_back(otlp_db)
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # an OTLP retry
    exporter.shutdown()

    assert len(once) == 5 and read_back(otlp_db) == once


def otlp_json(spans: Sequence[ReadableSpan]) -> bytes:
    """The SDK's spans as OTLP/JSON: the protobuf message's JSON form with ids in hex, as the spec has it."""
    doc = MessageToDict(encode_spans(spans))

    def hex_ids(node: Any) -> None:
        if isinstance(node, dict):
            for key in ("traceId", "spanId", "parentSpanId"):
                if key in node:
                    node[key] = base64.b64decode(node[key]).hex()
            for value in node.values():
                hex_ids(value)
        elif isinstance(node, list):
            for value in node:
                hex_ids(value)

    hex_ids(doc)
    return orjson.dumps(doc)


def test_a_json_body_of_the_same_spans_gives_the_same_events_as_protobuf(
    otlp_endpoint: str, otlp_db: str, captured: InMemorySpanExporter, tmp_path: Any
) -> None:
    record(captured, "openai-agents")
    spans = captured.get_finished_spans()

    response = httpx.post(
        otlp_endpoint, content=otlp_json(spans), headers={"Content-Type": "application/json"}
    )
    assert (response.status_code, response.json()) == (200, {})
    from_json = read_back(otlp_db)
    exporter = OTLPSpanExporter(endpoint=otlp_endpoint)
    assert exporter.export(spans) == SpanExportResult.SUCCESS  # the same spans, as protobuf
    exporter.shutdown()

    assert len(from_json) == 5 and read_back(otlp_db) == from_json


def test_bad_requests_over_http_get_their_status_and_write_nothing(otlp_endpoint: str, otlp_db: str) -> None:
    truncated = httpx.post(
        otlp_endpoint, content=b"\x0a\x05\x0a\x03", headers={"Content-Type": "application/x-protobuf"}
    )
    wrong_type = httpx.post(otlp_endpoint, content=b"{}", headers={"Content-Type": "text/csv"})

    assert (truncated.status_code, wrong_type.status_code) == (400, 415)
    assert truncated.headers["content-type"] == "application/x-protobuf"
    assert "text/csv" in wrong_type.json()["error"]
    assert read_back(otlp_db) == []
