"""GenAI spans → ledger events: workflows, steps, tools, costs; ids from the spans; others skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from ledger import Ledger, open_ledger
from reliability.service.otlp import event_id, ingest_otlp, ingest_otlp_sync
from reliability.service.otlp.ingest import OFFLOAD_BYTES
from tests.reliability.service.otlp.build import T0, TRACE, Span, agent_run, json_body, protobuf

PB = "application/x-protobuf"


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with open_ledger("memory://") as opened:
        yield opened


def events(ledger: Ledger) -> list[dict[str, object]]:
    return [
        {"type": r.event.type, **r.event.model_dump(mode="json", exclude_defaults=True)}
        for r in ledger.read()
    ]


def test_an_agent_run_becomes_a_workflow_with_its_step_tool_call_and_cost(ledger: Ledger) -> None:
    answer = ingest_otlp_sync(ledger, protobuf(agent_run()), content_type=PB)

    assert (answer.spans_accepted, answer.spans_skipped, answer.spans_rejected) == (4, 0, 0)
    started, tool, cost, step, completed = events(ledger)  # in time order
    assert started == {
        "type": "WorkflowStarted",
        "event_id": str(event_id(TRACE, "1000000000000001", "started")),
        "occurred_at": "2026-01-01T00:00:00Z",
        "workflow_id": "conv-1",
        "agent": "triage",
    }
    assert tool == {
        "type": "ToolCalled",
        "event_id": str(event_id(TRACE, "1000000000000003", "tool")),
        "occurred_at": "2026-01-01T00:00:02.120000Z",
        "workflow_id": "conv-1",
        "agent": "researcher",  # the nearest invoke_agent span above it
        "tool": "search",
        "arguments": {"q": "refund policy"},
        "result": {"hits": 3},
        "duration_ms": 120.0,
        "call_id": "call_1",
    }
    assert (cost["type"], cost["agent"], cost["amount"]) == ("CostIncurred", "researcher", "0.00400000")
    assert step == {
        "type": "StepRecorded",
        "event_id": str(event_id(TRACE, "1000000000000002", "step")),
        "occurred_at": "2026-01-01T00:00:04Z",
        "workflow_id": "conv-1",
        "agent": "researcher",
        "success": True,
    }
    assert completed["type"] == "WorkflowCompleted"
    assert (completed["duration_ms"], completed["occurred_at"]) == (5000.0, "2026-01-01T00:00:05Z")
    assert completed.get("success", True) is True


def test_the_same_spans_sent_again_write_nothing(ledger: Ledger) -> None:
    first = ingest_otlp_sync(ledger, protobuf(agent_run()), content_type=PB)
    before = events(ledger)
    again = ingest_otlp_sync(ledger, json_body(agent_run()), content_type="application/json")

    assert (first.events_written, again.events_written) == (5, 0)
    assert again.spans_accepted == 4 and events(ledger) == before


def test_failures_come_from_the_span_status_and_error_type(ledger: Ledger) -> None:
    spans = agent_run()
    spans[0].status, spans[0].message = 2, "gave up"
    spans[1].attributes["error.type"] = "RateLimitError"
    spans[2].status = 2

    ingest_otlp_sync(ledger, protobuf(spans), content_type=PB)

    by_type = {e["type"]: e for e in events(ledger)}
    assert (by_type["WorkflowCompleted"]["success"], by_type["WorkflowCompleted"]["outcome"]) == (
        False,
        {"error": "gave up"},
    )
    assert (by_type["StepRecorded"]["success"], by_type["StepRecorded"]["error"]) == (False, "RateLimitError")
    assert (by_type["ToolCalled"]["success"], by_type["ToolCalled"]["error"]) == (False, "error")


def test_without_a_conversation_id_the_workflow_is_the_trace(ledger: Ledger) -> None:
    spans = agent_run(conversation=None)
    spans[3].attributes["gen_ai.conversation.id"] = "conv-9"  # one span of the trace names it

    ingest_otlp_sync(ledger, protobuf(spans), content_type=PB)
    other_trace = agent_run(conversation=None)
    for s in other_trace:
        s.trace_id = "1" * 32
    ingest_otlp_sync(ledger, protobuf(other_trace), content_type=PB)

    assert {e["workflow_id"] for e in events(ledger)} == {"conv-9", "1" * 32}


def test_spans_that_are_not_genai_are_counted_and_skipped(ledger: Ledger) -> None:
    others = [
        Span("3000000000000001", "GET /v1/answer", {"http.request.method": "GET"}),
        Span("3000000000000002", "SELECT orders", {"db.system.name": "postgresql"}),
        Span("3000000000000003", "create_agent helper", {"gen_ai.operation.name": "create_agent"}),
    ]

    answer = ingest_otlp_sync(ledger, protobuf([*others, *agent_run()]), content_type=PB)

    assert (answer.spans_accepted, answer.spans_skipped, answer.spans_rejected) == (4, 3, 0)
    assert ExportTraceServiceResponse.FromString(answer.body).HasField("partial_success") is False
    assert len(events(ledger)) == 5


def test_partial_success_counts_every_rejected_span_and_the_rest_is_written(ledger: Ledger) -> None:
    bad = [
        Span(f"400000000000000{i}", "execute_tool", {"gen_ai.operation.name": "execute_tool"})
        for i in range(3)
    ]

    answer = ingest_otlp_sync(ledger, protobuf([*agent_run(), *bad]), content_type=PB)

    partial = ExportTraceServiceResponse.FromString(answer.body).partial_success
    assert (partial.rejected_spans, answer.spans_rejected, answer.events_written) == (3, 3, 5)
    assert partial.error_message.count("needs gen_ai.tool.name") == 3


def test_a_span_resent_with_other_content_is_rejected_and_the_others_written(ledger: Ledger) -> None:
    ingest_otlp_sync(ledger, protobuf(agent_run()[2:3]), content_type=PB)
    changed = agent_run()
    changed[2].attributes["gen_ai.tool.call.result"] = '{"hits": 0}'

    answer = ingest_otlp_sync(ledger, protobuf(changed), content_type=PB)

    assert (answer.spans_rejected, answer.events_written) == (1, 4)
    message = ExportTraceServiceResponse.FromString(answer.body).partial_success.error_message
    assert "is stored already with other content" in message
    (tool,) = [e for e in events(ledger) if e["type"] == "ToolCalled"]
    assert tool["result"] == {"hits": 3}


def test_openllmetry_shaped_spans_map_too(ledger: Ledger) -> None:
    # OpenLLMetry (traceloop): workflow/agent/tool kinds, llm.request.type, gen_ai.system, old usage names.
    spans = [
        Span(
            "5000000000000001",
            "support.workflow",
            {"traceloop.span.kind": "workflow", "traceloop.entity.name": "support"},
            end=T0 + 9_000_000_000,
        ),
        Span(
            "5000000000000002",
            "planner.agent",
            {"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"},
            parent="5000000000000001",
        ),
        Span(
            "5000000000000003",
            "lookup.tool",
            {"traceloop.span.kind": "tool", "traceloop.entity.name": "lookup"},
            parent="5000000000000002",
        ),
        Span(
            "5000000000000004",
            "openai.chat",
            {
                "llm.request.type": "chat",
                "gen_ai.system": "openai",
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.prompt_tokens": 300,
                "gen_ai.usage.completion_tokens": 20,
                "gen_ai.usage.cache_read_input_tokens": 100,
                "llm.usage.total_tokens": 320,
            },
            parent="5000000000000002",
        ),
    ]

    answer = ingest_otlp_sync(ledger, protobuf(spans), content_type=PB)

    assert answer.spans_accepted == 4
    by_type = {e["type"]: e for e in events(ledger)}
    assert set(by_type) == {
        "WorkflowStarted",
        "WorkflowCompleted",
        "StepRecorded",
        "ToolCalled",
        "CostIncurred",
    }
    assert (by_type["StepRecorded"]["agent"], by_type["ToolCalled"]["tool"]) == ("planner", "lookup")
    cost = by_type["CostIncurred"]
    assert (cost["provider"], cost["prompt_tokens"], cost["cached_tokens"]) == ("openai", 300, 100)
    assert cost["usage_attributes"] == [
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.cache_read_input_tokens",
    ]


def test_a_bad_rledger_overlay_rejects_its_span(ledger: Ledger) -> None:
    span = agent_run()[2]
    span.attributes["rledger.events"] = "[1, 2]"

    answer = ingest_otlp_sync(ledger, protobuf([span]), content_type=PB)

    assert answer.spans_rejected == 1 and events(ledger) == []


def test_a_workflow_starts_before_and_completes_after_its_spans_whatever_the_send_order(
    ledger: Ledger,
) -> None:
    ingest_otlp_sync(ledger, protobuf(list(reversed(agent_run()))), content_type=PB)

    stamps = [datetime.fromisoformat(str(e["occurred_at"])) for e in events(ledger)]
    assert stamps == sorted(stamps) and stamps[0] == datetime(2026, 1, 1, tzinfo=UTC)
    assert [e["type"] for e in events(ledger)][0::4] == ["WorkflowStarted", "WorkflowCompleted"]


def test_the_json_answer_is_otlp_json(ledger: Ledger) -> None:
    ok = ingest_otlp_sync(ledger, json_body(agent_run()), content_type="application/json")

    assert (ok.media_type, orjson.loads(ok.body)) == ("application/json", {})


def test_a_large_export_is_taken_off_the_event_loop_with_the_same_result() -> None:
    runs = []
    for r in range(100):  # 400 spans, over OFFLOAD_BYTES
        for s in agent_run(conversation=f"conv-{r}"):
            s.trace_id = f"{r + 1:032x}"
            runs.append(s)
    body = protobuf(runs)
    assert len(body) > OFFLOAD_BYTES

    async def ingest(ledger: Ledger) -> int:
        answer = await ingest_otlp(ledger, body, content_type=PB, content_encoding=None)
        return answer.events_written

    with open_ledger("memory://") as a, open_ledger("memory://") as b:
        assert asyncio.run(ingest(a)) == 500
        assert ingest_otlp_sync(b, body, content_type=PB).events_written == 500
        assert events(a) == events(b)
