"""Streamed LangGraph runs (``astream``/``stream``): the caller's chunks, recorded as an unstreamed run."""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import BaseMessage

from ledger import Ledger
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, build, lookup, make_agent, script, search


class ToolTakingFake(FakeMessagesListChatModel):
    """The scripted model for the unrecorded graph: it takes tools (ignored), as a real one does."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


def shape(trail: Any) -> dict[str, Any]:
    """What a recording says, without its ids and times."""
    return {
        "events": [r.data["type"] for r in trail.history],
        "steps": [(s.agent, s.success) for s in trail.steps],
        "tools": [(c.call_index, c.tool, c.arguments, c.result) for c in trail.tool_calls],
        "models": [(c.call_index, c.request_hash, c.response["content"]) for c in trail.history.model_tape],
        "outcome": (trail.outcome, trail.success),
    }


def updates(chunks: list[Any]) -> list[tuple[str, list[tuple[str, Any]]]]:
    """``updates`` chunks as (node, [(message type, content)])."""
    out = []
    for chunk in chunks:
        for node, update in chunk.items():
            messages: list[BaseMessage] = update["messages"]
            out.append((node, [(type(m).__name__, m.content) for m in messages]))
    return out


async def unstreamed(ledger: Ledger) -> dict[str, Any]:
    ctx = RunContext(ledger, "plain", goal="answer", inputs=INPUTS)
    await run_workflow(make_agent(), ctx, INPUTS)
    return shape(await DecisionTrailBuilder(ledger).build_trail("plain"))


@sync
async def test_astream_yields_the_graphs_own_chunks_and_records_what_a_plain_run_does(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    unrecorded = build(ToolTakingFake(responses=script()), [search, lookup])
    expected = [c async for c in unrecorded.astream(INPUTS, {"configurable": {"thread_id": "u"}})]

    async with RunContext(ledger, "streamed", goal="answer", inputs=INPUTS) as ctx:
        chunks = [c async for c in make_agent().astream(ctx, INPUTS)]

    assert updates(chunks) == updates(expected)
    assert [node for node, _ in updates(chunks)] == ["agent", "tools", "agent", "tools", "agent"]
    trail = await DecisionTrailBuilder(ledger).build_trail("streamed")
    assert shape(trail) == await unstreamed(ledger)
    assert trail.outcome == "Order A-7 is refundable."


@sync
async def test_a_streamed_recording_replays_simulated_with_no_difference(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "streamed", inputs=INPUTS) as ctx:
        async for _ in make_agent().astream(ctx, INPUTS, stream_mode="messages"):
            pass
    trail = await DecisionTrailBuilder(ledger).build_trail("streamed")

    result = await Replayer(trail).simulated_replay(make_agent([]))  # no model answer left: tape only

    assert result.success and result.is_exact_match(), result.differences
    assert result.outcome == "Order A-7 is refundable."


@sync
async def test_astream_with_several_modes_yields_mode_and_chunk_pairs(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "modes", inputs=INPUTS) as ctx:
        pairs = [p async for p in make_agent().astream(ctx, INPUTS, stream_mode=["updates", "checkpoints"])]

    modes = [mode for mode, _ in pairs]
    assert set(modes) == {"updates", "checkpoints"} and modes.count("updates") == 5
    marks = (await DecisionTrailBuilder(ledger).build_trail("modes")).history.of_type("CheckpointMarked")
    ids = [c["config"]["configurable"]["checkpoint_id"] for m, c in pairs if m == "checkpoints"]
    assert ids == [m.checkpoint_id for m in marks]  # the caller's checkpoints are the recorded ones


def test_stream_is_the_synchronous_astream(ledger_url: str) -> None:
    from ledger import open_ledger

    with open_ledger(ledger_url) as ledger:
        with RunContext(ledger, "sync", goal="answer", inputs=INPUTS) as ctx:
            chunks = list(make_agent().stream(ctx, INPUTS))

        assert [node for node, _ in updates(chunks)] == ["agent", "tools", "agent", "tools", "agent"]
        recorded = asyncio.run(DecisionTrailBuilder(ledger).build_trail("sync"))
        assert shape(recorded) == asyncio.run(unstreamed(ledger))
