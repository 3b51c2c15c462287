"""GenAI spans → ledger events: workflows, steps, tool calls and model costs.

* workflow: ``gen_ai.conversation.id`` (on the span, else on any span of its trace in the same
  request), else the trace id;
* a root ``invoke_agent`` span, or any ``invoke_workflow`` span → ``WorkflowStarted`` (at its
  start) and ``WorkflowCompleted`` (at its end, with duration and success);
* another ``invoke_agent {name}`` span → ``StepRecorded`` of that agent;
* ``execute_tool {name}`` → ``ToolCalled``; ``chat``/``text_completion``/``generate_content``/
  ``embeddings`` → ``CostIncurred``, priced with the price table at the span's end.

Success is the span status and ``error.type``. Event ids are ``uuid5`` of (trace id, span id,
role), so a re-sent span writes nothing. A span may carry ``rledger.events`` (what ``rledger
export --otlp`` adds): per role, the event's fields that the GenAI attributes cannot carry, laid
over the mapped event (a role set to ``null`` is dropped; a role not mapped is taken whole).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from ledger import EVENT_ADAPTER, LedgerEvent
from projections import PriceTable
from reliability.service.otlp.classify import MAPPED_OPS, MODEL_OPS, operation, subject
from reliability.service.otlp.spans import STATUS_ERROR, SpanRecord, ns_to_datetime, span_label
from reliability.service.otlp.usage import UsageError, read_usage

NAMESPACE = uuid.UUID("6f0c3a52-4d1e-5b8a-9c47-2e5d8f1a7b30")
"""The namespace of the ``uuid5`` event ids derived from (trace id, span id, role)."""
OVERLAY = "rledger.events"
ROLE_ORDER = {"started": 0, "completed": 2}
"""Among events at one instant, a workflow's start comes first and its completion last."""


@dataclass(frozen=True)
class SpanOutcome:
    """What one span became.

    Attributes:
        index: the span's position in the request.
        events: ``(role, event)`` pairs (empty when skipped or rejected).
        problem: why the span is rejected, or ``None``.
    """

    index: int
    events: tuple[tuple[str, LedgerEvent], ...] = ()
    problem: str | None = None

    @property
    def skipped(self) -> bool:
        """A span that is no ledger event (not GenAI, or a GenAI operation the ledger does not record)."""
        return self.problem is None and not self.events


def event_id(trace_id: str, span_id: str, role: str) -> uuid.UUID:
    """The deterministic event id of one role of one span."""
    return uuid.uuid5(NAMESPACE, f"{trace_id}:{span_id}:{role}")


class _Request:
    """What a span's mapping may look up in the rest of its request: parents and conversation ids."""

    def __init__(self, spans: Sequence[SpanRecord]) -> None:
        self.by_id = {(s.trace_id, s.span_id): s for s in spans}
        self.conversation: dict[str, str] = {}
        for s in spans:
            conv = s.attributes.get("gen_ai.conversation.id")
            if isinstance(conv, str) and conv:
                self.conversation.setdefault(s.trace_id, conv)

    def workflow(self, span: SpanRecord) -> str:
        conv = span.attributes.get("gen_ai.conversation.id")
        if isinstance(conv, str) and conv:
            return conv
        return self.conversation.get(span.trace_id, span.trace_id)

    def agent(self, span: SpanRecord) -> str | None:
        """The span's own agent name, else the nearest ``invoke_agent`` ancestor's in the request."""
        current: SpanRecord | None = span
        for _ in range(64):  # a cycle of parent ids in a hostile request must not loop forever
            if current is None:
                return None
            own = current.attributes.get("gen_ai.agent.name")
            if isinstance(own, str) and own:
                return own
            if current is not span and operation(current.name, current.attributes) == "invoke_agent":
                return subject(current.name, current.attributes, "gen_ai.agent.name")
            if current.parent_span_id is None:
                return None
            current = self.by_id.get((current.trace_id, current.parent_span_id))
        return None


def map_spans(spans: Sequence[SpanRecord], prices: PriceTable) -> list[SpanOutcome]:
    """Map every span of a request; each outcome says what it became or why it is rejected."""
    request = _Request(spans)
    outcomes = []
    for span in spans:
        try:
            outcomes.append(SpanOutcome(span.index, _events(span, request, prices)))
        except (ValueError, ValidationError) as exc:
            outcomes.append(
                SpanOutcome(span.index, problem=f"{span_label(span.index, span.name)}: {_why(exc)}")
            )
    return outcomes


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'event'}: {e['msg']}" for e in exc.errors()[:5]
        )
    return str(exc)


def _events(span: SpanRecord, request: _Request, prices: PriceTable) -> tuple[tuple[str, LedgerEvent], ...]:
    overlay = _overlay(span)
    op = operation(span.name, span.attributes)
    mapped: dict[str, dict[str, Any]] = {}
    if op in MAPPED_OPS:
        mapped = _mapped(span, op, request, prices, overlay)
    for role, fields in overlay.items():
        if fields is None:
            mapped.pop(role, None)
        elif fields.get("type", mapped.get(role, {}).get("type")) != mapped.get(role, {}).get("type"):
            mapped[role] = dict(fields)  # another event type than the mapping's: taken whole
        else:
            mapped[role] = {**mapped.get(role, {}), **fields}
    out = []
    for role, data in mapped.items():
        data.setdefault("event_id", str(event_id(span.trace_id, span.span_id, role)))
        event = EVENT_ADAPTER.validate_python(data)
        out.append((role, event))
    return tuple(out)


def _overlay(span: SpanRecord) -> dict[str, dict[str, Any] | None]:
    raw = span.attributes.get(OVERLAY)
    if raw is None:
        return {}
    try:
        value = orjson.loads(raw) if isinstance(raw, str | bytes) else None
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict) or not all(v is None or isinstance(v, dict) for v in value.values()):
        raise ValueError(f"{OVERLAY} is not a JSON object of role to event fields")
    return value


def _failure(span: SpanRecord) -> str | None:
    """Why the span failed, or ``None`` if it succeeded (status not ERROR, no ``error.type``)."""
    error_type = span.attributes.get("error.type")
    if isinstance(error_type, str) and error_type:
        return error_type if not span.status_message else f"{error_type}: {span.status_message}"
    if span.status_code == STATUS_ERROR:
        return span.status_message or "error"
    return None


def _mapped(
    span: SpanRecord,
    op: str,
    request: _Request,
    prices: PriceTable,
    overlay: Mapping[str, Any],
) -> dict[str, dict[str, Any]]:
    common: dict[str, Any] = {"workflow_id": request.workflow(span)}
    end = ns_to_datetime(span.end_ns)
    failure = _failure(span)
    attrs = span.attributes
    if op == "invoke_workflow" or (op == "invoke_agent" and span.parent_span_id is None):
        agent = (
            subject(span.name, attrs, "gen_ai.agent.name") if op == "invoke_agent" else request.agent(span)
        )
        who = {"agent": agent} if agent else {}
        return {
            "started": {
                "type": "WorkflowStarted",
                **common,
                **who,
                "occurred_at": ns_to_datetime(span.start_ns),
            },
            "completed": {
                "type": "WorkflowCompleted",
                **common,
                **who,
                "occurred_at": end,
                "success": failure is None,
                "duration_ms": span.duration_ms,
                "outcome": None if failure is None else {"error": failure},
            },
        }
    common["occurred_at"] = end
    if op == "invoke_agent":
        agent = subject(span.name, attrs, "gen_ai.agent.name")
        if agent is None and "step" not in overlay:
            raise ValueError("an invoke_agent span needs gen_ai.agent.name or a name 'invoke_agent {agent}'")
        return {
            "step": {
                "type": "StepRecorded",
                **common,
                "agent": agent,
                "success": failure is None,
                "error": failure,
            }
        }
    agent = request.agent(span)
    if agent is not None:
        common["agent"] = agent
    if op == "execute_tool":
        return {"tool": _tool(span, common, failure, overlay)}
    assert op in MODEL_OPS
    return {"cost": _cost(span, common, prices)}


def _tool(
    span: SpanRecord, common: dict[str, Any], failure: str | None, overlay: Mapping[str, Any]
) -> dict[str, Any]:
    attrs = span.attributes
    tool = subject(span.name, attrs, "gen_ai.tool.name")
    if tool is None and "tool" not in overlay:
        raise ValueError("an execute_tool span needs gen_ai.tool.name or a name 'execute_tool {tool}'")
    arguments = _json_attr(attrs.get("gen_ai.tool.call.arguments"))
    if arguments is not None and not isinstance(arguments, dict):
        arguments = {"arguments": arguments}  # the ledger keeps arguments as an object
    call_id = attrs.get("gen_ai.tool.call.id")
    return {
        "type": "ToolCalled",
        **common,
        "tool": tool,
        "arguments": arguments or {},
        "result": _json_attr(attrs.get("gen_ai.tool.call.result")),
        "success": failure is None,
        "duration_ms": span.duration_ms,
        "error": failure,
        "call_id": call_id if isinstance(call_id, str) and call_id else None,
    }


def _json_attr(value: Any) -> Any:
    """A structured attribute the conventions allow as a JSON string: parsed when it parses."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _cost(span: SpanRecord, common: dict[str, Any], prices: PriceTable) -> dict[str, Any]:
    attrs = span.attributes
    try:
        usage = read_usage(attrs)
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    model = next(
        (
            v
            for k in ("gen_ai.response.model", "gen_ai.request.model")
            if isinstance(v := attrs.get(k), str) and v
        ),
        None,
    )
    provider = next(
        (v for k in ("gen_ai.provider.name", "gen_ai.system") if isinstance(v := attrs.get(k), str) and v),
        None,
    )
    price = prices.lookup(model, common["occurred_at"]) if model is not None else None
    amount = (
        None
        if price is None
        else price.cost(usage.prompt, usage.completion, usage.cached, usage.cache_write, usage.reasoning)
    )
    return {
        "type": "CostIncurred",
        **common,
        "category": "llm",
        "model": model,
        "provider": provider,
        "prompt_tokens": usage.prompt,
        "completion_tokens": usage.completion,
        "cached_tokens": usage.cached,
        "cache_write_tokens": usage.cache_write,
        "reasoning_tokens": usage.reasoning,
        "amount": None if amount is None else str(amount),
        "price_version": None if price is None else price.version,
        "currency": "USD" if price is None else price.currency,
        "status": "unpriced" if price is None else "priced",
        "usage_attributes": list(usage.attributes),
    }
