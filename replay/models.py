"""Model calls on the tape: the request and reply a run context records, and where replies come from.

An orchestrator (or a framework integration, ``reliability.integrations``) calls a chat model
through ``ctx.call_model(request, invoke)``: the context asks its model source what to do with
the call — run ``invoke`` for real (recording, the default), serve the recorded reply (replays),
or run a changed request (counterfactuals) — and records a ``ModelCalled`` event with the
request, the reply, the usage, the duration and the call's ordinal, plus the call's
``CostIncurred`` (priced from the context's price table; linked by ``cost_event_id``).

Model calls are numbered on their own (model call 0, 1, …), apart from tool calls, so a run that
makes one more tool call does not shift every model call's ordinal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

import orjson

USAGE_BUCKETS = ("input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens")
"""The token buckets a reply's usage may name (cached and cache-write are part of the input;
reasoning is part of the output, as the providers count them)."""


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True)
class ModelRequest:
    """What was asked of a model: JSON values only, so it can be stored and compared.

    Attributes:
        model: the model's name, as the price table knows it (``gpt-4o``).
        messages: the conversation sent, each message a JSON object (the integrations drop
            per-run ids, so a replay's request equals the recording's).
        parameters: temperature, max tokens and the like, as JSON.
        tools: the tools offered to the model (their JSON schemas, or names).
    """

    model: str
    messages: tuple[Any, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)
    tools: tuple[Any, ...] = ()

    @cached_property
    def canonical(self) -> bytes:
        """The request's canonical JSON (sorted keys; made once: requests are frozen)."""
        return _canonical(
            {
                "model": self.model,
                "messages": list(self.messages),
                "parameters": dict(self.parameters),
                "tools": list(self.tools),
            }
        )

    def as_json(self) -> dict[str, Any]:
        """The request as stored (tuples become lists): a fresh copy each call."""
        loaded: dict[str, Any] = orjson.loads(self.canonical)
        return loaded

    @cached_property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the request: equal requests, equal hashes.

        Canonical JSON read back and written again is the same bytes, so this is the digest
        of the stored request too.
        """
        return hashlib.sha256(self.canonical).hexdigest()


@dataclass(frozen=True)
class ModelReply:
    """What a model answered.

    Attributes:
        response: the reply as JSON: by convention ``content``, ``tool_calls``,
            ``finish_reason``, and ``raw`` (the framework's own serialised form, which the
            integrations rebuild their objects from).
        usage: token counts by bucket (:data:`USAGE_BUCKETS`); empty when the model reported
            none, in which case no cost is recorded (an unknown usage is not a zero cost).
    """

    response: Any
    usage: Mapping[str, int] = field(default_factory=dict)


ModelInvoke = Callable[[ModelRequest], "ModelReply | Awaitable[ModelReply]"]
"""How a model is really called: request in, reply out (plain or ``async``)."""


@dataclass(frozen=True)
class ModelDecision:
    """A model source's answer for one call.

    ``reply`` set: serve it (from the tape). Else run ``request`` (possibly changed from the
    one asked) through ``invoke`` when given (a user-supplied model), else through the caller's.
    """

    request: ModelRequest
    reply: ModelReply | None = None
    invoke: ModelInvoke | None = None
    failure: str | None = None
    """A recorded failure to raise again (served from the tape)."""


class ModelSource(Protocol):
    """Decides, call by call, where a model reply comes from (the replays' tapes)."""

    def decide(self, request: ModelRequest, call_index: int) -> ModelDecision:
        """Return what to do with model call ``call_index``; may raise ``NotOnTapeError``."""


class ModelCallError(Exception):
    """A model call failed; the error is recorded on its ``ModelCalled`` event and re-raised as this."""

    def __init__(self, model: str, call_index: int, message: str) -> None:
        self.model = model
        self.call_index = call_index
        super().__init__(f"model '{model}' (model call {call_index}) failed: {message}")


def usage_of(usage: Mapping[str, Any]) -> dict[str, int]:
    """Keep the known, non-zero buckets of a usage mapping, as ints."""
    return {k: int(usage[k]) for k in USAGE_BUCKETS if usage.get(k)}
