"""A LangGraph tool returning a ``Command`` (update, goto with ``Send``): recorded, replayed as a real one."""

from __future__ import annotations

from typing import Annotated, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool, InjectedToolCallId, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph.types import Command, Send

from ledger import Ledger
from reliability.integrations.langgraph import LangGraphAgent
from replay import DecisionTrailBuilder, Replayer, RunContext, from_json_value, run_workflow, to_json_value
from tests.reliability.integrations.aio import sync
from tests.reliability.integrations.react_graph import INPUTS, fake_model

ran: list[str] = []


@tool
def escalate(reason: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Hand the conversation to a human: a route change, not a plain result."""
    ran.append(reason)
    note = ToolMessage(content=f"escalated: {reason}", tool_call_id=tool_call_id)
    return Command(
        update={"messages": [note]},
        goto=[Send("human", {"messages": [AIMessage(content=f"human asked about {reason}")]})],
    )


@tool
def pairs(reason: str) -> Command:
    """A route change with its update given as (key, value) pairs (a node returns it as its own)."""
    ran.append(reason)
    return Command(update=[("messages", [AIMessage(content=f"escalated: {reason}")])], goto="human")


def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """``agent`` → ``tools``; a tool's ``Command`` also sends the run to ``human`` (no edge goes there)."""
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    def human(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content=f"a human read {len(state['messages'])} messages")]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_node("human", human)
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    graph.add_edge("human", END)
    return graph.compile(checkpointer=InMemorySaver())


def build_direct(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """A node that calls the tool itself and returns its ``Command``: ``decide`` → ``human``."""

    async def decide(state: MessagesState) -> Any:
        return await tools[0].ainvoke({"reason": "angry"})

    def human(state: MessagesState) -> dict[str, Any]:
        return {"messages": [AIMessage(content=f"a human read {len(state['messages'])} messages")]}

    graph = StateGraph(MessagesState)
    graph.add_node("decide", decide)
    graph.add_node("human", human)
    graph.add_edge(START, "decide")
    graph.add_edge("human", END)
    return graph.compile(checkpointer=InMemorySaver())


def answers(name: str) -> list[Any]:
    return [
        AIMessage(content="", tool_calls=[{"name": name, "args": {"reason": "angry"}, "id": "call-9"}]),
        AIMessage(content="A colleague will call you."),
    ]


def make(name: str, scripted: bool = True) -> LangGraphAgent:
    if name == "pairs":
        return LangGraphAgent(build_direct, fake_model([]), [pairs], model_name="gpt-4o")
    model = fake_model(answers(name) if scripted else [])
    return LangGraphAgent(build, model, [escalate], model_name="gpt-4o")


def route(trail: Any) -> list[str]:
    """The nodes run: the first two in order, then the superstep of ``agent`` and ``human`` (parallel)."""
    nodes = [s.agent for s in trail.steps]
    return nodes[:2] + sorted(nodes[2:])


async def record(ledger: Ledger, name: str) -> Any:
    await run_workflow(make(name), RunContext(ledger, f"cmd-{name}", inputs=INPUTS), INPUTS)
    return await DecisionTrailBuilder(ledger).build_trail(f"cmd-{name}")


@sync
async def test_a_command_result_is_recorded_as_its_update_goto_graph_and_resume(make_ledger: Any) -> None:
    trail = await record(make_ledger(), "escalate")

    assert route(trail) == ["agent", "tools", "agent", "human"]
    (call,) = trail.tool_calls
    assert call.arguments == {"reason": "angry", "tool_call_id": "call-9"}
    stored = call.result
    assert stored["__ledger_value__"] == "langgraph.command"
    assert (stored["graph"], stored["resume"]) == (None, None)
    (message,) = stored["update"]["messages"]
    assert message["__ledger_value__"] == "pydantic"
    assert message["value"]["content"] == "escalated: angry"
    (send,) = stored["goto"]
    assert send["__ledger_value__"] == "langgraph.send" and send["node"] == "human"
    assert send["arg"]["messages"][0]["value"]["content"] == "human asked about angry"


@sync
async def test_a_recorded_command_is_served_back_as_a_command_and_takes_the_same_route(
    make_ledger: Any,
) -> None:
    ledger = make_ledger()
    trail = await record(ledger, "escalate")
    ran.clear()

    result = await Replayer(trail).simulated_replay(make("escalate", scripted=False))

    assert result.success and result.is_exact_match(), result.differences
    assert ran == []  # served from the tape
    replayed = await DecisionTrailBuilder(ledger).build_trail(result.replay_workflow_id)
    assert route(replayed) == route(trail)
    assert replayed.outcome == trail.outcome


@sync
async def test_a_strict_replay_of_a_command_runs_the_tool_and_reports_no_difference(
    make_ledger: Any,
) -> None:
    for name in ("escalate", "pairs"):
        agent = make(name, scripted=False)
        trail = await record(make_ledger(), name)
        ran.clear()

        result = await Replayer(trail).strict_replay(agent, agent.tool_registry)

        assert result.success and result.differences == (), (name, result.differences)
        assert ran == ["angry"]


@sync
async def test_an_update_given_as_pairs_keeps_its_pairs(make_ledger: Any) -> None:
    ledger = make_ledger()
    trail = await record(ledger, "pairs")
    assert [s.agent for s in trail.steps] == ["decide", "human"]
    assert trail.outcome == "a human read 2 messages"  # the input and the update's message
    stored = trail.tool_calls[0].result
    assert stored["update_pairs"] is True and [k for k, _ in stored["update"]] == ["messages"]

    result = await Replayer(trail).simulated_replay(make("pairs", scripted=False))

    assert result.success and result.is_exact_match(), result.differences
    replayed = await DecisionTrailBuilder(ledger).build_trail(result.replay_workflow_id)
    assert [s.agent for s in replayed.steps] == ["decide", "human"]
    assert replayed.outcome == trail.outcome


def test_every_command_field_round_trips() -> None:
    import reliability.integrations.langgraph  # noqa: F401  (registers the Command form)

    command = Command(
        graph=Command.PARENT,
        update=[("count", 2), ("seen", {"a", "b"})],
        goto=("next", Send("worker", {"x": b"\x00"})),
        resume={"interrupt-1": "yes"},
    )
    back = from_json_value(to_json_value(command))

    assert isinstance(back, Command) and back.graph == Command.PARENT
    assert back.update == [("count", 2), ("seen", {"a", "b"})]
    assert back.goto[0] == "next" and isinstance(back.goto[1], Send)
    assert (back.goto[1].node, back.goto[1].arg) == ("worker", {"x": b"\x00"})
    assert back.resume == {"interrupt-1": "yes"}
    assert from_json_value(to_json_value(Command(goto=Send("a", 1)))).goto == Send("a", 1)


@tool
def handoff(to: str, tool_call_id: Annotated[str, InjectedToolCallId]) -> Command:
    """Hand the conversation to another agent of the parent graph."""
    note = ToolMessage(content=f"handed to {to}", tool_call_id=tool_call_id)
    return Command(graph=Command.PARENT, goto=to, update={"messages": [note]})


def build_handoff(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """``triage`` (a subgraph: ``think`` → ``tools``) hands off to the parent's ``billing``."""
    bound = model.bind_tools(tools)
    triage = StateGraph(MessagesState)
    triage.add_node("think", lambda state: {"messages": [bound.invoke(state["messages"])]})
    triage.add_node("tools", ToolNode(tools))
    triage.add_edge(START, "think")
    triage.add_edge("think", "tools")
    graph = StateGraph(MessagesState)
    graph.add_node("triage", triage.compile(), destinations=("billing",))
    graph.add_node("billing", lambda state: {"messages": [AIMessage(content="billing here")]})
    graph.add_edge(START, "triage")
    graph.add_edge("billing", END)
    return graph.compile(checkpointer=InMemorySaver())


@sync
async def test_a_command_to_the_parent_graph_is_a_handoff_step_and_replays(make_ledger: Any) -> None:
    ledger = make_ledger()
    call = {"name": "handoff", "args": {"to": "billing"}, "id": "call-h"}

    def make_handoff(answers: list[Any]) -> LangGraphAgent:
        return LangGraphAgent(build_handoff, fake_model(answers), [handoff], model_name="gpt-4o")

    ctx = RunContext(ledger, "handoff", inputs=INPUTS)
    await run_workflow(make_handoff([AIMessage(content="", tool_calls=[call])]), ctx, INPUTS)
    trail = await DecisionTrailBuilder(ledger).build_trail("handoff")

    steps = [(s.agent, s.success) for s in trail.steps]
    assert steps == [("triage:think", True), ("triage:tools", True), ("triage", True), ("billing", True)]
    assert trail.tool_calls[0].result["graph"] == "__parent__" and trail.outcome == "billing here"
    for result in (
        await Replayer(trail).simulated_replay(make_handoff([])),
        await Replayer(trail).strict_replay(make_handoff([]), make_handoff([]).tool_registry),
    ):
        assert result.success and result.differences == (), result.differences
        replayed = await DecisionTrailBuilder(ledger).build_trail(result.replay_workflow_id)
        assert [(s.agent, s.success) for s in replayed.steps] == steps
