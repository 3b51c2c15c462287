"""Streamed SDK model calls on the tape: the inner stream passed through, the completed reply recorded.

``Runner.run_streamed`` asks the model for a stream of Responses events and takes the call's
answer from its ``response.completed`` event. Recording, :func:`stream_call` runs the call through
``ctx.call_model`` in a task whose invoke forwards each event of the inner model's stream to the
caller as it arrives and returns the completed response as the reply, so the call is recorded
exactly as an unstreamed one (same request, same reply, same cost). A reply the context serves
from the tape (replays), or one a counterfactual's own ``invoke`` made, is streamed as one
``response.completed`` event built from it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from agents import ModelResponse, Usage
from openai.types.responses import Response, ResponseCompletedEvent

from replay import ModelReply, ModelRequest, RunContext

if TYPE_CHECKING:
    from reliability.integrations.openai_agents.model import _Call

_END = object()


def _usage(response: Response) -> Usage:
    u = response.usage
    if u is None:  # no usage reported: no tokens on the record, no cost
        return Usage(requests=1)
    return Usage(
        requests=1,
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        total_tokens=u.total_tokens,
        input_tokens_details=u.input_tokens_details,
        output_tokens_details=u.output_tokens_details,
    )


def completed_event(response: ModelResponse, model: str) -> ResponseCompletedEvent:
    """A ``response.completed`` event carrying ``response`` (what the SDK reads of a stream)."""
    u = response.usage
    body = Response.model_validate(
        {
            "id": response.response_id or "resp_from_tape",
            "created_at": time.time(),
            "model": model,
            "object": "response",
            "output": [item.model_dump(mode="json", exclude_none=True) for item in response.output],
            "parallel_tool_calls": False,
            "tool_choice": "auto",
            "tools": [],
            "usage": {
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "total_tokens": u.total_tokens,
                "input_tokens_details": u.input_tokens_details.model_dump(),
                "output_tokens_details": u.output_tokens_details.model_dump(),
            },
        }
    )
    return ResponseCompletedEvent(type="response.completed", response=body, sequence_number=0)


async def stream_call(
    ctx: RunContext, request: ModelRequest, call: _Call, agent: str | None
) -> AsyncIterator[Any]:
    """Stream one model call, recorded through ``ctx.call_model`` (see the module docstring)."""
    from reliability.integrations.openai_agents.model import reply_of, response_of

    events: asyncio.Queue[Any] = asyncio.Queue()
    passed: list[ModelReply] = []  # replies whose own stream reached the caller

    async def invoke(req: ModelRequest) -> ModelReply:
        model, sys_text, messages, settings = call.target(req)
        completed: Response | None = None
        async for event in model.stream_response(
            sys_text, messages, settings, *call.rest(), **call.keywords()
        ):
            events.put_nowait(event)
            if isinstance(event, ResponseCompletedEvent):
                completed = event.response
        if completed is None:
            raise RuntimeError("the model's stream ended without a response.completed event")
        reply = reply_of(
            ModelResponse(output=completed.output, usage=_usage(completed), response_id=completed.id)
        )
        passed.append(reply)
        return reply

    async def run() -> ModelReply:
        try:
            return await ctx.call_model(request, invoke, agent=agent)
        finally:
            events.put_nowait(_END)

    task = asyncio.create_task(run())
    try:
        while (event := await events.get()) is not _END:
            yield event
        reply = await task  # the call's error, recorded, is raised here
    finally:
        if not task.done():  # the caller stopped reading: stop the inner stream too
            task.cancel()
    if not any(r is reply for r in passed):
        yield completed_event(response_of(reply), request.model)
