"""The user's guide's code blocks, read at test time, run as written.

The guide is the user's ``shared/seed/reliability-guide.md``, kept in the repository as
``tests/reliability/reliability-guide.md`` so the tests run on any clone; where the user's copy
sits beside the repository (``../shared``, as in CI), a test checks the two are the same text.
Only two changes are made to a block, both here: top-level ``await`` runs (the block is compiled with
``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and its coroutine run by asyncio), and names the guide leaves
undefined are the test's globals.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GUIDE = Path(__file__).resolve().parent / "reliability-guide.md"
USERS_GUIDE = ROOT.parent / "shared" / "seed" / "reliability-guide.md"


def guide_text() -> str:
    """The guide's text; a missing guide fails the test, it never skips."""
    if not GUIDE.is_file():
        raise AssertionError(
            f"the user's guide is missing: expected {GUIDE.resolve()} "
            "(a copy of shared/seed/reliability-guide.md)"
        )
    return GUIDE.read_text(encoding="utf-8")


def _code_blocks(text: str) -> list[tuple[str, str, str]]:
    """Every ```python block as (## section, ### subsection or "", source), in order."""
    blocks: list[tuple[str, str, str]] = []
    section = subsection = ""
    lines = iter(text.splitlines())
    for line in lines:
        if line.startswith("```python"):
            body: list[str] = []
            for inner in lines:
                if inner.startswith("```"):
                    break
                body.append(inner)
            blocks.append((section, subsection, "\n".join(body) + "\n"))
        elif line.startswith("### "):
            subsection = line[4:].strip()
        elif line.startswith("## "):
            section, subsection = line[3:].strip(), ""
    return blocks


def block(section: str, subsection: str = "") -> str:
    """The source of the one python block under ``## section`` / ``### subsection``."""
    found = [src for sec, sub, src in _code_blocks(guide_text()) if (sec, sub) == (section, subsection)]
    assert len(found) == 1, f"expected one python block under {section!r}/{subsection!r}, found {len(found)}"
    return found[0]


def subsections(section: str) -> list[str]:
    """The subsections of ``## section`` that hold a python block, in the guide's order."""
    return [sub for sec, sub, _ in _code_blocks(guide_text()) if sec == section]


def run(source: str, namespace: dict[str, Any]) -> dict[str, Any]:
    """Run a block with ``namespace`` as its globals (shared across a section's blocks).

    Top-level ``await`` is allowed: such a block compiles to a coroutine, run to completion here.
    """
    code = compile(source, "<guide>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # the guide's own code is what is under test
    if inspect.iscoroutine(result):
        asyncio.run(result)
    return namespace


def headings() -> list[str]:
    """The guide's ``##`` section titles, in order."""
    return re.findall(r"^## (.+)$", guide_text(), flags=re.M)


TICKET_INPUTS = {"customer_id": "c-1", "question": "Can I get a refund?", "temperature": 0.0}
"""The inputs ``workflow-123`` ran with (its temperature is what the counterfactual changes)."""


def ticket_workflow(ledger: Any) -> dict[str, Any]:
    """Record ``workflow-123`` (checkpoint ``checkpoint-456`` after answering) through a run context.

    Returns the names the guide's trail, replay and SLO blocks leave undefined, all real: the
    ledger as state and checkpoint manager, the example tools as registry, the example agent as
    orchestrator, the workflow and checkpoint ids.
    """
    from replay import RunContext, run_workflow
    from replay.examples import TOOLS, TicketAgent

    class CheckpointedTicketAgent(TicketAgent):
        """The ticket agent, marking ``checkpoint-456`` once it has answered."""

        async def run(self, ctx: RunContext, inputs: dict[str, Any]) -> dict[str, Any]:
            """Answer, then mark the checkpoint."""
            outcome = await super().run(ctx, inputs)
            ctx.mark_checkpoint("checkpoint-456", label="answered")
            return outcome

    ctx = RunContext(ledger, "workflow-123", tools=TOOLS, goal="answer the ticket", inputs=TICKET_INPUTS)
    asyncio.run(run_workflow(CheckpointedTicketAgent(), ctx, TICKET_INPUTS))
    return {
        "state_manager": ledger,
        "checkpoint_manager": ledger,
        "tool_registry": TOOLS,
        "orchestrator": CheckpointedTicketAgent(),
        "thread_id": "workflow-123",
        "checkpoint_id": "checkpoint-456",
    }
