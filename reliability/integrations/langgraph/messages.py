"""LangChain messages to and from the JSON a ``ModelRequest`` / ``ModelReply`` holds."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.outputs import ChatGenerationChunk

from replay import ModelReply

_TOKEN = re.compile(r"\s*\S+\s*|\s+")

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def message_json(message: BaseMessage) -> dict[str, Any]:
    """A message as a request holds it: role, content, tool calls — and no per-run ids.

    Ids (the message's own, a run's) differ between a recording and its replay although the
    conversation is the same, so they are left out of what a request's hash covers.
    """
    out: dict[str, Any] = {"role": _ROLES.get(message.type, message.type), "content": message.content}
    if isinstance(message, AIMessage) and message.tool_calls:
        out["tool_calls"] = [
            {"name": c["name"], "args": c["args"], "id": c.get("id")} for c in message.tool_calls
        ]
    if isinstance(message, ToolMessage):
        out["tool_call_id"] = message.tool_call_id
    if message.name:
        out["name"] = message.name
    return out


def message_of(data: Mapping[str, Any]) -> BaseMessage:
    """The message a :func:`message_json` dict stands for (a counterfactual's changed request)."""
    role, content, name = data.get("role"), data.get("content", ""), data.get("name")
    if role == "system":
        return SystemMessage(content=content, name=name)
    if role == "assistant":
        calls = [
            {"name": c["name"], "args": c["args"], "id": c.get("id")} for c in data.get("tool_calls", [])
        ]
        return AIMessage(content=content, tool_calls=calls, name=name)
    if role == "tool":
        return ToolMessage(content=content, tool_call_id=data.get("tool_call_id", ""), name=name)
    return HumanMessage(content=content, name=name)


def messages_of(items: Sequence[Any]) -> list[BaseMessage]:
    """:func:`message_of` for each item."""
    return [message_of(m) for m in items]


def reply_of(message: BaseMessage) -> ModelReply:
    """A chat model's answer as a :class:`~replay.ModelReply` (usage by bucket, raw form kept)."""
    usage: dict[str, int] = {}
    meta = getattr(message, "usage_metadata", None)
    if meta:
        details_in = meta.get("input_token_details") or {}
        details_out = meta.get("output_token_details") or {}
        usage = {
            "input_tokens": int(meta.get("input_tokens") or 0),
            "output_tokens": int(meta.get("output_tokens") or 0),
            "cached_tokens": int(details_in.get("cache_read") or 0),
            "cache_write_tokens": int(details_in.get("cache_creation") or 0),
            "reasoning_tokens": int(details_out.get("reasoning") or 0),
        }
    calls = getattr(message, "tool_calls", None) or []
    response = {
        "content": message.content,
        "tool_calls": [{"name": c["name"], "args": c["args"], "id": c.get("id")} for c in calls],
        "finish_reason": message.response_metadata.get("finish_reason"),
        "raw": message_to_dict(message),
    }
    return ModelReply(response, usage)


def message_from_reply(reply: ModelReply) -> BaseMessage:
    """The chat model's answer rebuilt from a (recorded) reply."""
    response = reply.response
    if isinstance(response, Mapping) and isinstance(response.get("raw"), Mapping):
        return messages_from_dict([dict(response["raw"])])[0]
    if isinstance(response, Mapping):  # a reply from a plain fake: content and tool calls
        return message_of({"role": "assistant", **response})
    return AIMessage(content=str(response))


def whole_chunk(message: BaseMessage, *, split: bool = False) -> list[ChatGenerationChunk]:
    """A whole reply as stream chunks: one, or (``split``) one per word of its text content.

    The chunks add up to the message (LangChain merges a stream's chunks into the reply the
    graph sees): the words carry the text, the last chunk everything else — tool calls, usage,
    metadata, id — so the merged reply asks the next model call the same question.
    """
    content = message.content
    pieces: list[Any] = [content]
    if split and isinstance(content, str) and content:
        pieces = _TOKEN.findall(content)
    ai = message if isinstance(message, AIMessage) else AIMessage(content=content)
    chunks = [ChatGenerationChunk(message=AIMessageChunk(content=p, id=ai.id)) for p in pieces[:-1]]
    last = AIMessageChunk(
        content=pieces[-1],
        id=ai.id,
        name=ai.name,
        additional_kwargs=ai.additional_kwargs,
        response_metadata=ai.response_metadata,
        tool_calls=ai.tool_calls,
        usage_metadata=ai.usage_metadata,
        chunk_position="last",
    )
    chunks.append(ChatGenerationChunk(message=last))
    return chunks
