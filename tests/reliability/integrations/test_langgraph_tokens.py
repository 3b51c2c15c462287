"""A "messages" stream over a streaming model: tokens live, each reply recorded once, replayed in chunks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk

from ledger import Ledger
from reliability.integrations.langgraph import LangGraphAgent
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, build, lookup, script, search

ANSWER = "Order A-7 is refundable."


class StreamingFake(FakeMessagesListChatModel):
    """The scripted model, streaming as a provider does: a chunk per word, tool calls and usage last."""

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        whole = self._generate(messages, stop=stop, **kwargs).generations[0].message
        assert isinstance(whole, AIMessage)
        words = whole.content.split(" ") if isinstance(whole.content, str) and whole.content else [""]
        for i, word in enumerate(words[:-1]):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " ", id=f"m{i}"))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=words[-1],
                tool_calls=whole.tool_calls,
                usage_metadata=whole.usage_metadata,
                chunk_position="last",
            )
        )


def agent(model: Any = None) -> LangGraphAgent:
    chat = StreamingFake(responses=script()) if model is None else model
    return LangGraphAgent(build, chat, [search, lookup], model_name="gpt-4o")


def texts(chunks: list[Any]) -> list[str]:
    """The text of each ``messages`` chunk of the model's final answer."""
    return [m.content for m, meta in chunks if meta["langgraph_node"] == "agent" and m.content]


async def record(ledger: Ledger) -> tuple[list[Any], Any]:
    async with RunContext(ledger, "tokens", inputs=INPUTS) as ctx:
        chunks = [c async for c in agent().astream(ctx, INPUTS, stream_mode="messages")]
    return chunks, await DecisionTrailBuilder(ledger).build_trail("tokens")


@sync
async def test_tokens_stream_live_and_each_reply_is_recorded_once_whole(make_ledger: Any) -> None:
    ledger = make_ledger()
    chunks, trail = await record(ledger)

    assert texts(chunks) == ["Order ", "A-7 ", "is ", "refundable."]  # token by token, as it came
    assert all(isinstance(m, AIMessageChunk) for m, meta in chunks if meta["langgraph_node"] == "agent")
    calls = trail.history.model_tape
    assert len(calls) == 3  # one ModelCalled per call, not per chunk
    assert calls[-1].response["content"] == ANSWER
    assert calls[0].response["tool_calls"] == [
        {"name": "search", "args": {"query": "refunds"}, "id": "call-1"}
    ]
    assert calls[1].usage == {"input_tokens": 1200, "output_tokens": 40, "reasoning_tokens": 10}
    assert [c.tool for c in trail.tool_calls] == ["search", "lookup"]
    assert trail.outcome == ANSWER and trail.success

    # The same run unstreamed records the same calls (same requests, so the same hashes).
    await run_workflow(agent(), RunContext(ledger, "plain", inputs=INPUTS), INPUTS)
    plain = await DecisionTrailBuilder(ledger).build_trail("plain")
    assert [c.request_hash for c in plain.history.model_tape] == [c.request_hash for c in calls]
    assert [(c.tool, c.arguments) for c in plain.tool_calls] == [
        (c.tool, c.arguments) for c in trail.tool_calls
    ]


@sync
async def test_a_replay_streams_the_recorded_replies_back_in_chunks(make_ledger: Any) -> None:
    ledger = make_ledger()
    _, trail = await record(ledger)
    streamed: list[Any] = []
    replaying = agent(StreamingFake(responses=[]))  # no answer left: the tape answers

    async def streaming(ctx: RunContext, inputs: Any) -> Any:
        streamed.extend([c async for c in replaying.astream(ctx, inputs, stream_mode="messages")])
        return ctx.outcome

    simulated = await Replayer(trail).simulated_replay(streaming)
    assert simulated.success and simulated.is_exact_match(), simulated.differences
    assert "".join(texts(streamed)) == ANSWER and len(texts(streamed)) > 1

    streamed.clear()
    strict = await Replayer(trail).strict_replay(streaming, replaying.tool_registry)
    assert strict.success and strict.differences == (), strict.differences
    assert texts(streamed) == ["Order ", "A-7 ", "is ", "refundable."]
    replayed = await DecisionTrailBuilder(ledger).build_trail(strict.replay_workflow_id)
    assert [c.response["content"] for c in replayed.history.model_tape] == ["", "", ANSWER]


@sync
async def test_a_model_that_cannot_stream_sends_each_reply_whole(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "whole", inputs=INPUTS) as ctx:
        chunks = [
            c
            async for c in agent(FakeMessagesListChatModel(responses=script())).astream(
                ctx, INPUTS, stream_mode="messages"
            )
        ]

    assert texts(chunks) == [ANSWER]
    trail = await DecisionTrailBuilder(ledger).build_trail("whole")
    assert len(trail.history.model_tape) == 3 and trail.outcome == ANSWER
