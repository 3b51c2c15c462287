"""Regenerate the framework histories in this folder (run by hand, never in CI).

- ``langgraph_refund.jsonl``: the ReAct graph of ``tests/reliability/integrations/react_graph.py``
  (search, then lookup, then the answer; three model calls, two tool calls).
- ``langgraph_nested.jsonl``: the graph of ``tests/reliability/integrations/nested_graph.py``
  (nested subgraphs, their nodes as ``outer:inner`` steps; a tool routing by a ``Command``).
- ``openai_agents_handoff.jsonl``: the triage → billing agents of
  ``tests/reliability/integrations/sdk_agents.py`` (a handoff, a tool call, three model calls).

All are recorded with the fake models, on a fresh in-memory ledger with a ticking clock (see
``make_histories.py``). CI replays them simulated (``test_recorded_histories.py``): a framework
upgrade that changes what a run asks its model shows up there as a divergence. Regenerate only
when that change is accepted::

    .venv/bin/python -m tests.histories.make_framework_histories
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from ledger import open_ledger
from replay import History, RunContext, run_workflow
from tests.histories.make_histories import TickingClock
from tests.reliability.integrations import nested_graph, react_graph, sdk_agents

HERE = Path(__file__).resolve().parent
QUESTION = "Where is order A-7?"


async def record(name: str, orchestrator: Any, inputs: Any) -> Path:
    """Record one run on a fresh ledger and write its history to ``<name>.jsonl``."""
    clock = TickingClock()
    with open_ledger("memory://", clock=clock) as ledger:
        ctx = RunContext(ledger, name, clock=clock, goal="answer the customer", inputs=inputs)
        await run_workflow(orchestrator, ctx, inputs)
        path = HERE / f"{name}.jsonl"
        History.load(ledger, name).write(path)
    return path


def main() -> None:
    """Write the histories next to this script."""
    for name, orchestrator, inputs in (
        ("langgraph_refund", react_graph.make_agent(), react_graph.INPUTS),
        ("langgraph_nested", nested_graph.make_agent(), react_graph.INPUTS),
        ("openai_agents_handoff", sdk_agents.make_run(), QUESTION),
    ):
        path = asyncio.run(record(name, orchestrator, inputs))
        print(f"wrote {path.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
