"""The model call event: a chat model's request and response on the tape, like a tool call.

A sibling of :mod:`ledger.events` (which puts it in the ``Event`` union). A framework's chat
model call (LangGraph's chat model, the OpenAI Agents SDK's ``Model``) is recorded as one
``ModelCalled``: what was asked (model, messages, parameters, tools offered), what came back
(content, tool calls requested, finish reason), the usage by token bucket, the duration, an
error if it failed, and its ordinal among the run's model calls. Its cost is a separate
``CostIncurred`` event whose id is ``cost_event_id``, so the cost report folds costs as it always
has and a trail can still show which call spent what.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field, NonNegativeFloat, NonNegativeInt

from ledger.event_base import LedgerEvent, Name


class ModelCalled(LedgerEvent):
    """A model was called: request, response or error, usage, duration and its ordinal in the run."""

    type: Literal["ModelCalled"] = "ModelCalled"
    model: Name
    messages: tuple[Any, ...] = ()
    parameters: dict[str, Any] = Field(default_factory=dict)
    tools: tuple[Any, ...] = ()
    response: Any = None
    usage: dict[str, NonNegativeInt] = Field(default_factory=dict)
    success: bool = True
    duration_ms: NonNegativeFloat | None = None
    error: str | None = None
    call_index: NonNegativeInt | None = None
    request_hash: str | None = None
    cost_event_id: UUID | None = None


__all__ = ["ModelCalled"]
