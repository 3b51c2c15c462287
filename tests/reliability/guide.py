"""The user's guide's code blocks, read at test time, run as written.

The guide is ``../shared/seed/reliability-guide.md`` from the repository root (CI copies
``shared/`` beside the clone). Only two changes are made to a block, both here: top-level
``await`` runs (the block is compiled with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` and its coroutine
run by asyncio), and names the guide leaves undefined are the test's globals.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parents[2] / ".." / "shared" / "seed" / "reliability-guide.md"


def guide_text() -> str:
    """The guide's text; a missing guide fails the test (CI always has it), it never skips."""
    if not GUIDE.is_file():
        raise AssertionError(
            f"the user's guide is missing: expected {GUIDE.resolve()} "
            "(CI copies shared/ beside the repository; copy shared/seed/reliability-guide.md there)"
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
