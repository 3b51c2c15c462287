"""A recorded workflow → GenAI spans in one ``ExportTraceServiceRequest`` (what ``export --otlp`` sends).

The workflow is one trace (its id derived from the workflow id, so a re-export is the same
trace): a root ``invoke_workflow`` span from ``WorkflowStarted`` to ``WorkflowCompleted``, and
beneath it an ``invoke_agent`` span per step, an ``execute_tool`` span per tool call and a
``chat`` span per model cost, with the GenAI attributes a viewer (Jaeger, Phoenix, Langfuse)
shows. Every other event is a span named by its type. What the GenAI attributes cannot carry
(event ids, goals, totals, call ordinals, the ledger's own event types) travels in
``rledger.events``: exactly the fields the receiver's mapping would not give back, found by
running that mapping on the span, so a round trip through the receiver gives the same events.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson

from ledger import CostIncurred, LedgerEvent, StepRecorded, ToolCalled, WorkflowCompleted, WorkflowStarted
from projections import PriceTable
from reliability.service.otlp import proto
from reliability.service.otlp.genai import NAMESPACE, OVERLAY, map_spans
from reliability.service.otlp.spans import STATUS_ERROR, STATUS_OK, SpanRecord, datetime_to_ns

_DEFAULT_PRICES = PriceTable()


def trace_id_of(workflow_id: str) -> str:
    """The trace id a workflow is exported as (32 hex digits)."""
    return uuid.uuid5(NAMESPACE, f"trace:{workflow_id}").hex


def _span_id(key: str) -> str:
    return uuid.uuid5(NAMESPACE, f"span:{key}").hex[:16]


def workflow_spans(
    workflow_id: str, events: Sequence[LedgerEvent], *, prices: PriceTable | None = None
) -> list[SpanRecord]:
    """The spans of one workflow's events, each carrying what the mapping cannot rebuild."""
    prices = prices or _DEFAULT_PRICES
    trace = trace_id_of(workflow_id)
    started = next((e for e in events if isinstance(e, WorkflowStarted)), None)
    completed = next((e for e in events if isinstance(e, WorkflowCompleted)), None)
    root = _root(workflow_id, trace, events, started, completed)
    intended: dict[str, LedgerEvent | None] = {"started": started, "completed": completed}
    spans = [_with_overlay(root, intended, root, prices)]
    for event in events:
        if event is started or event is completed:
            continue
        span, role = _child(event, workflow_id, trace, root.span_id)
        spans.append(_with_overlay(span, {role: event}, root, prices))
    return spans


def _root(
    workflow_id: str,
    trace: str,
    events: Sequence[LedgerEvent],
    started: WorkflowStarted | None,
    completed: WorkflowCompleted | None,
) -> SpanRecord:
    start = (started or events[0]).occurred_at
    end = completed.occurred_at if completed is not None else max(e.occurred_at for e in events)
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.conversation.id": workflow_id,
    }
    if started is not None and started.agent:
        attrs["gen_ai.agent.name"] = started.agent
    failed = completed is not None and not completed.success
    return SpanRecord(
        index=0,
        trace_id=trace,
        span_id=_span_id(f"{workflow_id}:root"),
        parent_span_id=None,
        name=f"invoke_workflow {workflow_id}",
        start_ns=datetime_to_ns(start),
        end_ns=datetime_to_ns(max(end, start)),
        status_code=STATUS_ERROR if failed else STATUS_OK if completed is not None else 0,
        attributes=attrs,
    )


def _child(event: LedgerEvent, workflow_id: str, trace: str, parent: str) -> tuple[SpanRecord, str]:
    attrs: dict[str, Any] = {"gen_ai.conversation.id": workflow_id}
    if event.agent:
        attrs["gen_ai.agent.name"] = event.agent
    end = event.occurred_at
    start = end
    status = 0
    role = "event"
    name = str(getattr(event, "type", type(event).__name__))
    if isinstance(event, StepRecorded):
        role, name = "step", f"invoke_agent {event.agent}"
        attrs["gen_ai.operation.name"] = "invoke_agent"
        status = _status(event.success, event.error, attrs)
    elif isinstance(event, ToolCalled):
        role, name = "tool", f"execute_tool {event.tool}"
        attrs |= {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": event.tool}
        if event.call_id:
            attrs["gen_ai.tool.call.id"] = event.call_id
        if event.arguments:
            attrs["gen_ai.tool.call.arguments"] = orjson.dumps(event.arguments).decode()
        if event.result is not None:
            attrs["gen_ai.tool.call.result"] = orjson.dumps(event.result).decode()
        if event.duration_ms is not None:
            start = end - timedelta(milliseconds=event.duration_ms)
        status = _status(event.success, event.error, attrs)
    elif isinstance(event, CostIncurred) and event.category == "llm" and event.model:
        role, name = "cost", f"chat {event.model}"
        attrs |= {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": event.model,
            "gen_ai.usage.input_tokens": event.prompt_tokens,
            "gen_ai.usage.output_tokens": event.completion_tokens,
        }
        if event.provider:
            attrs["gen_ai.provider.name"] = event.provider
        for key, count in (
            ("gen_ai.usage.cache_read.input_tokens", event.cached_tokens),
            ("gen_ai.usage.cache_creation.input_tokens", event.cache_write_tokens),
            ("gen_ai.usage.reasoning.output_tokens", event.reasoning_tokens),
        ):
            if count:
                attrs[key] = count
    span = SpanRecord(
        index=0,
        trace_id=trace,
        span_id=_span_id(str(event.event_id)),
        parent_span_id=parent,
        name=name,
        start_ns=datetime_to_ns(start),
        end_ns=datetime_to_ns(end),
        status_code=status,
        attributes=attrs,
    )
    return span, role


def _status(success: bool, error: str | None, attrs: dict[str, Any]) -> int:
    if success:
        return STATUS_OK
    attrs["error.type"] = error or "error"
    return STATUS_ERROR


def _with_overlay(
    span: SpanRecord, intended: dict[str, LedgerEvent | None], root: SpanRecord, prices: PriceTable
) -> SpanRecord:
    """``span`` with ``rledger.events``: per role, the fields the receiver's mapping would get wrong."""
    context = [root] if span is root else [root, dataclasses.replace(span, index=1)]
    outcome = map_spans(context, prices)[-1]
    mapped = {role: e.model_dump(mode="json") for role, e in outcome.events}
    overlay: dict[str, Any] = {}
    for role, event in intended.items():
        if event is None:
            if role in mapped:
                overlay[role] = None
            continue
        want = event.model_dump(mode="json")
        got = mapped.get(role, {})
        if got.get("type") != want["type"]:
            overlay[role] = want
        else:
            fields = {k: v for k, v in want.items() if got.get(k) != v}
            # A field the event leaves unset is not in its dump: reset what the mapping filled in.
            model = type(event).model_fields
            for k in got.keys() - want.keys():
                fields[k] = orjson.loads(orjson.dumps(model[k].get_default(call_default_factory=True)))
            overlay[role] = fields
    for role in mapped.keys() - intended.keys():
        overlay[role] = None
    overlay = {role: fields for role, fields in overlay.items() if fields != {}}
    if not overlay:
        return span
    attrs = {**span.attributes, OVERLAY: orjson.dumps(overlay).decode()}
    return dataclasses.replace(span, attributes=attrs)


def encode_spans(spans: Sequence[SpanRecord], *, service_name: str = "reliability-ledger") -> bytes:
    """Spans as a protobuf ``ExportTraceServiceRequest`` (one resource, one scope)."""
    request = proto.export_request()
    resource_spans = request.resource_spans.add()
    _set_attributes(resource_spans.resource.attributes, {"service.name": service_name})
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "reliability-ledger"
    for record in spans:
        span = scope_spans.spans.add()
        span.trace_id = bytes.fromhex(record.trace_id)
        span.span_id = bytes.fromhex(record.span_id)
        if record.parent_span_id:
            span.parent_span_id = bytes.fromhex(record.parent_span_id)
        span.name = record.name
        span.kind = 1  # SPAN_KIND_INTERNAL
        span.start_time_unix_nano = record.start_ns
        span.end_time_unix_nano = record.end_ns
        span.status.code = record.status_code
        _set_attributes(span.attributes, record.attributes)
    data: bytes = request.SerializeToString()
    return data


def _set_attributes(target: Any, attributes: dict[str, Any] | Any) -> None:
    for key, value in attributes.items():
        _set_value(target.add(key=key).value, value)


def _set_value(target: Any, value: Any) -> None:
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, int):
        target.int_value = value
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, list | tuple):
        for item in value:
            _set_value(target.array_value.values.add(), item)
    else:
        target.string_value = str(value)
