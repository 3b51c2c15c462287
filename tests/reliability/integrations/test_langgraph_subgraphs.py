"""A graph with compiled subgraphs as nodes: the inner nodes are steps of their own ("outer:inner")."""

from __future__ import annotations

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from ledger import Ledger
from reliability.integrations.langgraph import LangGraphAgent
from replay import DecisionTrailBuilder, Replayer, RunContext, run_workflow
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, fake_model, lookup

STEPS = ["plan", "write:draft", "write:tools", "write:review:check", "write:review", "write"]


def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """``plan`` → ``write`` (a subgraph: ``draft`` calls the model, ``tools``, ``review``: a subgraph)."""
    bound = model.bind_tools(tools)

    review = StateGraph(MessagesState)
    review.add_node("check", lambda state: {"messages": [AIMessage(content="checked")]})
    review.add_edge(START, "check")
    review.add_edge("check", END)

    def draft(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    write = StateGraph(MessagesState)
    write.add_node("draft", draft)
    write.add_node("tools", ToolNode(tools))
    write.add_node("review", review.compile())
    write.add_edge(START, "draft")
    write.add_edge("draft", "tools")
    write.add_edge("tools", "review")
    write.add_edge("review", END)

    graph = StateGraph(MessagesState)
    graph.add_node("plan", lambda state: {"messages": [AIMessage(content="plan: look the order up")]})
    graph.add_node("write", write.compile())
    graph.add_edge(START, "plan")
    graph.add_edge("plan", "write")
    graph.add_edge("write", END)
    return graph.compile(checkpointer=InMemorySaver())


def answers() -> list[BaseMessage]:
    return [AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"order_id": "A-7"}, "id": "c-1"}])]


def agent(scripted: bool = True) -> LangGraphAgent:
    return LangGraphAgent(build, fake_model(answers() if scripted else []), [lookup], model_name="gpt-4o")


async def record(ledger: Ledger) -> Any:
    await run_workflow(agent(), RunContext(ledger, "nested", inputs=INPUTS), INPUTS)
    return await DecisionTrailBuilder(ledger).build_trail("nested")


@sync
async def test_the_nodes_of_subgraphs_are_steps_named_by_their_path(make_ledger: Any) -> None:
    trail = await record(make_ledger())

    assert [s.agent for s in trail.steps] == STEPS
    assert all(s.success and s.duration_ms is not None for s in trail.steps)
    # The subgraph node's step spans its inner nodes' steps.
    durations = {s.agent: s.duration_ms for s in trail.steps}
    assert durations["write"] >= durations["write:draft"] + durations["write:review"]
    (call,) = trail.history.model_tape
    assert call.agent == "write:draft"  # the model call is the inner node's
    assert [c.tool for c in trail.tool_calls] == ["lookup"]
    assert trail.outcome == "checked" and trail.success
    # Checkpoints are the outer graph's: a trail is cut at one of those.
    assert all(m.label.startswith("langgraph step") for m in trail.history.of_type("CheckpointMarked"))


@sync
async def test_a_replay_reproduces_the_inner_steps_with_no_difference(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger)
    builder = DecisionTrailBuilder(ledger)

    simulated = await Replayer(trail).simulated_replay(agent(scripted=False))
    strict = await Replayer(trail).strict_replay(agent(scripted=False), agent().tool_registry)

    for result in (simulated, strict):
        assert result.success and result.differences == (), result.differences
        replayed = await builder.build_trail(result.replay_workflow_id)
        assert [s.agent for s in replayed.steps] == STEPS
        assert [c.agent for c in replayed.history.model_tape] == ["write:draft"]


@sync
async def test_a_stream_yields_the_outer_chunks_unless_subgraphs_are_asked(make_ledger: Any) -> None:
    ledger = make_ledger()
    async with RunContext(ledger, "outer", inputs=INPUTS) as ctx:
        outer = [list(chunk) async for chunk in agent().astream(ctx, INPUTS)]
    async with RunContext(ledger, "inner", inputs=INPUTS) as ctx:
        inner = [(ns, list(chunk)) async for ns, chunk in agent().astream(ctx, INPUTS, subgraphs=True)]

    assert outer == [["plan"], ["write"]]
    paths = [":".join([*(n.split(":")[0] for n in ns), *nodes]) for ns, nodes in inner]
    assert paths == STEPS
    for workflow in ("outer", "inner"):
        trail = await DecisionTrailBuilder(ledger).build_trail(workflow)
        assert [s.agent for s in trail.steps] == STEPS


@sync
async def test_the_callback_handler_names_a_subgraphs_nodes_by_their_path(make_ledger: Any) -> None:
    from reliability.integrations.langgraph import LedgerCallbackHandler
    from tests.reliability.integrations.test_langgraph_streaming import ToolTakingFake

    ledger = make_ledger()
    graph = build(ToolTakingFake(responses=answers()), [lookup])  # run by hand, unrecorded tools
    async with RunContext(ledger, "by-hand", inputs=INPUTS) as ctx:
        config: Any = {"configurable": {"thread_id": "h"}, "callbacks": [LedgerCallbackHandler(ctx)]}
        await graph.ainvoke(INPUTS, config)

    trail = await DecisionTrailBuilder(ledger).build_trail("by-hand")
    assert sorted(s.agent for s in trail.steps) == sorted(STEPS)


@sync
async def test_a_messages_stream_is_langgraphs_own_and_still_records_the_inner_steps(
    make_ledger: Any,
) -> None:
    from tests.reliability.integrations.test_langgraph_streaming import ToolTakingFake

    def seen(chunks: list[Any]) -> list[tuple[str, str, Any]]:
        return [(type(m).__name__, meta["langgraph_node"], m.content) for m, meta in chunks]

    unrecorded = build(ToolTakingFake(responses=answers()), [lookup])
    expected = [
        c
        async for c in unrecorded.astream(
            INPUTS, {"configurable": {"thread_id": "u"}}, stream_mode="messages"
        )
    ]
    ledger = make_ledger()
    async with RunContext(ledger, "messages", inputs=INPUTS) as ctx:
        chunks = [c async for c in agent().astream(ctx, INPUTS, stream_mode="messages")]

    assert seen(chunks) == seen(expected) and len(chunks) == 4
    trail = await DecisionTrailBuilder(ledger).build_trail("messages")
    assert [s.agent for s in trail.steps] == STEPS
    result = await Replayer(trail).simulated_replay(agent(scripted=False))
    assert result.success and result.is_exact_match(), result.differences


@sync
async def test_a_subgraph_invoked_inside_a_node_function_has_its_nodes_recorded(make_ledger: Any) -> None:
    inner = StateGraph(MessagesState)
    inner.add_node("draft", lambda state: {"messages": [AIMessage(content="drafted")]})
    inner.add_edge(START, "draft")
    compiled = inner.compile()

    def by_hand(model: BaseChatModel, tools: list[BaseTool]) -> Any:
        async def write(state: MessagesState) -> Any:
            return await compiled.ainvoke(state)

        graph = StateGraph(MessagesState)
        graph.add_node("write", write)
        graph.add_edge(START, "write")
        return graph.compile(checkpointer=InMemorySaver())

    ledger = make_ledger()
    agent = LangGraphAgent(by_hand, fake_model([]))
    await run_workflow(agent, RunContext(ledger, "in-function", inputs=INPUTS), INPUTS)

    trail = await DecisionTrailBuilder(ledger).build_trail("in-function")
    assert [s.agent for s in trail.steps] == ["write:draft", "write"]
    assert trail.outcome == "drafted"
