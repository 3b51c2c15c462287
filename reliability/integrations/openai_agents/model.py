"""``RecordedModel``: an Agents SDK ``Model`` whose calls go through a run context (on the tape)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import orjson
from agents import Model, ModelResponse, ModelSettings, Usage
from agents.items import TResponseOutputItem
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails
from pydantic import TypeAdapter

from replay import ModelReply, ModelRequest, RunContext

_OUTPUT: TypeAdapter[list[TResponseOutputItem]] = TypeAdapter(list[TResponseOutputItem])


def _json(value: Any) -> Any:
    return orjson.loads(
        orjson.dumps(
            value, default=lambda v: v.model_dump(mode="json") if hasattr(v, "model_dump") else str(v)
        )
    )


def reply_of(response: ModelResponse) -> ModelReply:
    """An SDK model response as a :class:`~replay.ModelReply` (output items kept as raw JSON)."""
    raw = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
    text = [
        part.get("text", "")
        for item in raw
        if item.get("type") == "message"
        for part in item.get("content", [])
        if isinstance(part, dict)
    ]
    calls = [
        {"name": i.get("name"), "arguments": i.get("arguments"), "call_id": i.get("call_id")}
        for i in raw
        if i.get("type") == "function_call"
    ]
    u = response.usage
    usage = {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cached_tokens": u.input_tokens_details.cached_tokens or 0,
        "cache_write_tokens": getattr(u.input_tokens_details, "cache_write_tokens", 0) or 0,
        "reasoning_tokens": u.output_tokens_details.reasoning_tokens or 0,
    }
    finish = "tool_calls" if calls else "stop"
    return ModelReply(
        {
            "content": "".join(text),
            "tool_calls": calls,
            "finish_reason": finish,
            "raw": raw,
            "response_id": response.response_id,
        },
        usage,
    )


def response_of(reply: ModelReply) -> ModelResponse:
    """The SDK model response rebuilt from a (recorded) reply."""
    r: Mapping[str, Any] = reply.response
    u = reply.usage
    usage = Usage(
        requests=1,
        input_tokens=u.get("input_tokens", 0),
        output_tokens=u.get("output_tokens", 0),
        total_tokens=u.get("input_tokens", 0) + u.get("output_tokens", 0),
        # model_validate, not the constructor: openai's newer releases require cache_write_tokens.
        input_tokens_details=InputTokensDetails.model_validate(
            {"cached_tokens": u.get("cached_tokens", 0), "cache_write_tokens": u.get("cache_write_tokens", 0)}
        ),
        output_tokens_details=OutputTokensDetails(reasoning_tokens=u.get("reasoning_tokens", 0)),
    )
    return ModelResponse(
        output=_OUTPUT.validate_python(r["raw"]), usage=usage, response_id=r.get("response_id")
    )


class RecordedModel(Model):
    """Wraps an SDK ``Model`` so each call is ``ctx.call_model``: recorded, or served from a tape.

    Args:
        inner: the real model (or a fake one implementing the SDK's ``Model``).
        ctx: the run context the calls are recorded in.
        name: the model name recorded and priced (``gpt-4o``).
        alternatives: models by name for a counterfactual that changes the model
            (``ModelChange(model="gpt-4o-mini")`` runs ``alternatives["gpt-4o-mini"]``).
        agent_of: the name of the agent running now (the run's tracing processor knows it).
    """

    def __init__(
        self,
        inner: Model,
        ctx: RunContext,
        name: str,
        alternatives: Mapping[str, Model] | None = None,
        agent_of: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.agent_of = agent_of
        self.inner = inner
        self.ctx = ctx
        self.name = name
        self.alternatives = dict(alternatives or {})

    async def get_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> ModelResponse:
        """Answer from the tape in replays, else from the inner model; record the call."""
        call, request = self._prepare(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            (previous_response_id, conversation_id, prompt),
        )

        async def invoke(req: ModelRequest) -> ModelReply:
            model, sys_text, messages, settings = call.target(req)
            response = await model.get_response(sys_text, messages, settings, *call.rest(), **call.keywords())
            return reply_of(response)

        reply = await self.ctx.call_model(request, invoke, agent=self.agent_of())
        return response_of(reply)

    def _prepare(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        keywords: tuple[str | None, str | None, Any],
    ) -> tuple[_Call, ModelRequest]:
        """The inner call's arguments and the recorded request (one for a streamed or plain call)."""
        call = _Call(self, model_settings, tools, output_schema, handoffs, tracing, *keywords)
        return call, self.request(system_instructions, input, model_settings, tools, handoffs)

    def request(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: ModelSettings,
        tools: list[Any],
        handoffs: list[Any],
    ) -> ModelRequest:
        """The request a call asks, as recorded (the same for a streamed and an unstreamed call)."""
        items = [{"role": "user", "content": input}] if isinstance(input, str) else _json(list(input))
        system = [{"role": "system", "content": system_instructions}] if system_instructions else []
        offered = [
            {
                "name": t.name,
                "description": getattr(t, "description", ""),
                "parameters": getattr(t, "params_json_schema", None),
            }
            for t in tools
        ] + [{"handoff": h.tool_name, "description": h.tool_description} for h in handoffs]
        settings = {k: v for k, v in _json(model_settings.to_json_dict()).items() if v is not None}
        return ModelRequest(self.name, tuple(system + items), settings, tuple(offered))

    def stream_response(
        self,
        system_instructions: str | None,
        input: Any,
        model_settings: ModelSettings,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        *,
        previous_response_id: str | None = None,
        conversation_id: str | None = None,
        prompt: Any = None,
    ) -> AsyncIterator[Any]:
        """A streamed call (``Runner.run_streamed``), recorded as :meth:`get_response` records one.

        Recording, the inner model's stream events pass through as they come; the call is on
        the tape once its stream completed. A reply from the tape arrives as one
        ``response.completed`` event.
        """
        from reliability.integrations.openai_agents.streaming import stream_call

        call, request = self._prepare(
            system_instructions,
            input,
            model_settings,
            tools,
            output_schema,
            handoffs,
            tracing,
            (previous_response_id, conversation_id, prompt),
        )
        return stream_call(self.ctx, request, call, self.agent_of())


@dataclasses.dataclass
class _Call:
    """What one model call was given besides the request: how to run a (changed) request for real."""

    model: RecordedModel
    model_settings: ModelSettings
    tools: list[Any]
    output_schema: Any
    handoffs: list[Any]
    tracing: Any
    previous_response_id: str | None
    conversation_id: str | None
    prompt: Any

    def target(self, req: ModelRequest) -> tuple[Model, str | None, list[Any], ModelSettings]:
        """The model to run ``req`` on, with its system text, input items and settings."""
        messages = list(req.messages)
        sys_text = messages.pop(0)["content"] if messages and messages[0].get("role") == "system" else None
        fields = {f.name for f in dataclasses.fields(ModelSettings)}
        changed = dataclasses.replace(
            self.model_settings, **{k: v for k, v in req.parameters.items() if k in fields}
        )
        own = self.model
        model = own.alternatives.get(req.model, own.inner) if req.model != own.name else own.inner
        return model, sys_text, messages, changed

    def rest(self) -> tuple[Any, ...]:
        """The positional arguments after the settings (tools … tracing)."""
        return (self.tools, self.output_schema, self.handoffs, self.tracing)

    def keywords(self) -> dict[str, Any]:
        """The keyword arguments of the call."""
        return {
            "previous_response_id": self.previous_response_id,
            "conversation_id": self.conversation_id,
            "prompt": self.prompt,
        }
