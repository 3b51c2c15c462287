"""Integrations benchmark: what recording adds to a LangGraph run that does no I/O.

Subject: :class:`reliability.integrations.langgraph.LangGraphAgent` running a ReAct-style graph
(an ``agent`` node calling a chat model, a conditional edge to a ``tools`` node, back) inside a
:class:`replay.RunContext` on an in-memory ledger: every model call, tool call, node step and
checkpoint recorded (``ModelCalled`` + ``CostIncurred`` + ``StepRecorded`` per model turn,
``ToolCalled`` + ``StepRecorded`` per tool turn, a ``CheckpointMarked`` per superstep).
Baseline, in the same run, alternating with it: the same graph built from the same fake model
and tools, run with ``graph.ainvoke`` and nothing recorded. The model is langchain-core's
``FakeMessagesListChatModel`` (no network) and the tools return at once, so the ratio is the
recording's whole overhead. Target: subject time ≤ 1.10 x baseline (issue #20). Two subjects,
alternating with the baseline in the same run: a context appending each event as it happens
(the default), and a buffered one (``RunContext(buffered=True, flush_every=N)``: a batch per
``N`` events and one at the end of the run; ``--flush-every``, default 0 = only at the end).
``--only`` measures one of them. Results go to ``bench/results/integrations.json``.

Run ``python -m bench.integrations --help``.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.tools import BaseTool, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from bench.common import alternate, provenance, result_row, wait_for_quiet, write_results
from ledger import open_ledger
from reliability.integrations.langgraph import LangGraphAgent
from replay import RunContext, run_workflow


@tool
def search(query: str) -> str:
    """Search (instant)."""
    return f"hits for {query}"


@tool
def lookup(key: str) -> str:
    """Look up (instant)."""
    return f"value of {key}"


def answers(turns: int) -> list[BaseMessage]:
    """The fake model's script: ``turns`` tool calls (alternating tools), then an answer."""
    out: list[BaseMessage] = []
    for i in range(turns):
        name, args = ("search", {"query": f"q{i}"}) if i % 2 == 0 else ("lookup", {"key": f"k{i}"})
        out.append(AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"c{i}"}]))
    out.append(AIMessage(content="done"))
    return out


def build(model: BaseChatModel, tools: list[BaseTool]) -> Any:
    """The ReAct-style graph."""
    bound = model.bind_tools(tools)

    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [bound.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode(tools))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


class FakeToolsModel(FakeMessagesListChatModel):
    """The fake model, taking tools (ignored) as a real one does."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Any:
        return self


INPUTS = {"messages": [{"role": "user", "content": "go"}]}


def baseline_ms(turns: int, runs: int) -> float:
    """Milliseconds per unrecorded run (the mean of a batch of ``runs``; the graph built each run)."""

    async def go() -> float:
        model = FakeToolsModel(responses=answers(turns))  # its script cycles: one run per lap
        start = time.perf_counter()
        for i in range(runs):
            graph = build(model, [search, lookup])
            await graph.ainvoke(INPUTS, {"configurable": {"thread_id": f"t{i}"}})
        return (time.perf_counter() - start) * 1000 / runs

    gc.collect()
    return asyncio.run(go())


def recorded_ms(turns: int, runs: int, buffered: bool, flush_every: int | None = None) -> float:
    """Milliseconds per recorded run (each into its own workflow of one in-memory ledger)."""

    async def go() -> float:
        with open_ledger("memory://") as ledger:
            agent = LangGraphAgent(build, FakeToolsModel(responses=answers(turns)), [search, lookup])
            start = time.perf_counter()
            for i in range(runs):
                # flush_every only when set: the same script measures recorders that predate it
                extra: dict[str, Any] = {} if flush_every is None else {"flush_every": flush_every}
                ctx = RunContext(ledger, f"wf-{i}", buffered=buffered, inputs=INPUTS, **extra)
                await run_workflow(agent, ctx, INPUTS)
            return (time.perf_counter() - start) * 1000 / runs

    gc.collect()
    return asyncio.run(go())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print the ratios and write ``bench/results/integrations.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.integrations", description=__doc__.splitlines()[0])
    p.add_argument("--turns", type=int, default=10, help="tool calls per graph run (default 10)")
    p.add_argument("--batch", type=int, default=5, help="graph runs per sample (default 5)")
    p.add_argument("--runs", type=int, default=25, help="samples of each, alternating (default 25)")
    p.add_argument(
        "--flush-every", type=int, default=0, help="buffered: a batch per N events (0: at the end)"
    )
    p.add_argument("--only", choices=("appended", "buffered"), help="measure one recording mode")
    p.add_argument("--no-write", action="store_true", help="print only; do not write the results file")
    args = p.parse_args(argv)
    flush_every = args.flush_every or None

    def log(message: str) -> None:
        sys.stderr.write(message + "\n")

    modes = {
        "appended": ("appended as they happen", False),
        "buffered": (f"buffered, a batch per {flush_every} events and at the end" if flush_every
                     else "buffered, one batch at the end", True),
    }  # fmt: skip
    chosen = {k: v for k, v in modes.items() if args.only in (None, k)}
    cases: dict[str, Callable[[], float]] = {
        "unrecorded": lambda: baseline_ms(args.turns, args.batch),
    }
    warmup: dict[str, Callable[[], float]] = {"unrecorded": lambda: baseline_ms(args.turns, 2)}
    for name, (_, buffered) in chosen.items():
        every = flush_every if buffered else None
        cases[name] = functools.partial(recorded_ms, args.turns, args.batch, buffered, every)
        warmup[name] = functools.partial(recorded_ms, args.turns, 2, buffered, every)

    wait_for_quiet(1.5, 60, log)
    start = provenance()
    spreads = alternate(cases, args.runs, warmup=warmup, log=log)
    rows = []
    for name, (label, _) in chosen.items():
        row = result_row(
            f"LangGraph ReAct run, {args.turns} tool calls, {args.turns + 1} model calls, recorded ({label})",
            "memory",
            spreads[name],
            spreads["unrecorded"],
            "same graph, same fake model and tools, unrecorded (graph.ainvoke)",
            unit="ms per run",
            target="ratio ≤ 1.10",
            digits=3,
        )
        # On a loaded shared machine the ratio of medians drifts with the load; each sample's
        # ratio to the baseline sample taken next to it, and the ratio of the fastest samples,
        # are steadier (both recorded beside it).
        pairs = [r / b for r, b in zip(spreads[name].values, spreads["unrecorded"].values, strict=True)]
        row["paired_ratio"] = round(statistics.median(pairs), 3)
        row["min_ratio"] = round(spreads[name].low / spreads["unrecorded"].low, 3)
        rows.append(row)
        sys.stdout.write(
            f"{name}: recorded {row['subject']:.2f} ms ({row['min']:.2f}-{row['max']:.2f}), "
            f"unrecorded {row['baseline']:.2f} ms ({row['baseline_min']:.2f}-{row['baseline_max']:.2f}), "
            f"ratio {row['ratio']:.3f}, paired {row['paired_ratio']:.3f}, fastest {row['min_ratio']:.3f}\n"
        )
    if not args.no_write:
        path = write_results(
            "integrations", 0, rows, start=start, turns=args.turns, batch=args.batch, flush_every=flush_every
        )
        sys.stdout.write(f"wrote {path}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
