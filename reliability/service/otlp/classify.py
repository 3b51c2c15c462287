"""Which GenAI operation a span is, under the conventions' names and the emitters' older ones.

``gen_ai.operation.name`` first; else OpenLLMetry's ``traceloop.span.kind`` and
``llm.request.type``; else the first word of the span name (``chat gpt-4o``). A span none of
these names is not GenAI: it is counted and skipped, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

WORKFLOW_OPS = frozenset({"invoke_agent", "invoke_workflow"})
MODEL_OPS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
MAPPED_OPS = WORKFLOW_OPS | MODEL_OPS | {"execute_tool"}
OTHER_GENAI_OPS = frozenset(
    {
        "create_agent",
        "retrieval",
        "plan",
        "search_memory",
        "create_memory",
        "update_memory",
        "upsert_memory",
        "delete_memory",
        "create_memory_store",
        "delete_memory_store",
    }
)
"""GenAI operations that are no ledger event (yet): counted as skipped."""

_TRACELOOP_KINDS = {"workflow": "invoke_workflow", "agent": "invoke_agent", "tool": "execute_tool"}
_LLM_REQUEST_TYPES = {
    "chat": "chat",
    "completion": "text_completion",
    "embedding": "embeddings",
    "embeddings": "embeddings",
}


def operation(name: str, attributes: Mapping[str, Any]) -> str | None:
    """The span's GenAI operation name, or ``None`` when it is not a GenAI span."""
    op = attributes.get("gen_ai.operation.name")
    if isinstance(op, str) and op:
        return op
    kind = attributes.get("traceloop.span.kind")
    if isinstance(kind, str) and kind in _TRACELOOP_KINDS:
        return _TRACELOOP_KINDS[kind]
    request_type = attributes.get("llm.request.type")
    if isinstance(request_type, str) and request_type in _LLM_REQUEST_TYPES:
        return _LLM_REQUEST_TYPES[request_type]
    first = name.split(" ", 1)[0]
    return first if first in MAPPED_OPS else None


def subject(name: str, attributes: Mapping[str, Any], *keys: str) -> str | None:
    """The named thing of a span: the first of ``keys`` set, else the span name after its operation.

    ``invoke_agent planner`` names the agent ``planner``; OpenLLMetry's ``traceloop.entity.name``
    is read after the conventions' keys.
    """
    for key in (*keys, "traceloop.entity.name"):
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    first, _, rest = name.partition(" ")
    if rest and first in MAPPED_OPS:
        return rest
    return None
