"""The README is a test: its Python examples run, and its two commands stay as documented."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_python_examples_run() -> None:
    blocks = _blocks("python")
    assert blocks, "the README has no Python example"
    for code in blocks:
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})


def test_readme_names_the_demo_and_test_commands() -> None:
    shell = "\n".join(_blocks("sh"))
    assert "rledger demo" in shell
    assert "pytest" in shell
    ci = (README.parent / ".ci" / "run").read_text()
    test_command = next(line for line in shell.splitlines() if line.endswith("pytest"))
    assert test_command.strip() in ci
