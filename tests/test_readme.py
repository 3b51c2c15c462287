"""The README is a test: its Python examples run, its two commands and its event table stay true."""

from __future__ import annotations

import re
from pathlib import Path

from ledger import EVENT_TYPES
from tests.event_table import BEGIN, COMMON, END, event_table

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


def test_the_readme_event_table_is_the_one_the_models_give() -> None:
    text = README.read_text()
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == event_table(), "the README's event table is stale: run `python -m tests.event_table`"


def test_the_event_table_lists_every_type_and_every_field() -> None:
    # The table is checked against the generator above; this checks the generator against the
    # models, so a field it failed to list (or one it made up) cannot pass unseen.
    listed: dict[str, set[str]] = {}
    for row in event_table().splitlines()[2:]:
        name, _, required, optional = (cell.strip() for cell in row.strip("|").split(" | "))
        cells = f"{required}, {optional}"
        listed[name.strip("`")] = set(re.findall(r"`(\w+)` ", cells))
    assert list(listed) == list(EVENT_TYPES)
    for name, event_type in EVENT_TYPES.items():
        fields = set(event_type.model_fields) - {"type", *COMMON}
        assert fields <= listed[name], name
        assert listed[name] - fields <= {"agent", "workflow_id"}, name  # a common field made required
        for extra in listed[name] - fields:
            assert event_type.model_fields[extra].is_required(), (name, extra)
    assert {"agent"} <= listed["StepRecorded"] and "agent" not in listed["PlanRevised"]


def _texts() -> list[Path]:
    root = README.parent
    sources = [
        root / "cli.py",
        *(
            p
            for top in ("ledger", "projections", "replay", "bench", "tests")
            for p in (root / top).rglob("*.py")
        ),
    ]
    return [README, root / "bench" / "README.md", *sorted((root / "docs").glob("*.md")), *sources]


def test_every_docs_reference_names_a_file_in_docs() -> None:
    root = README.parent
    named = {
        (path, ref) for path in _texts() for ref in re.findall(r"\bdocs/[\w./-]+\.md\b", path.read_text())
    }
    assert {ref for _, ref in named} >= {"docs/semantics.md", "docs/architecture.md", "docs/performance.md"}
    assert [
        (str(path.relative_to(root)), ref) for path, ref in sorted(named) if not (root / ref).is_file()
    ] == []


def test_every_relative_markdown_link_resolves() -> None:
    root = README.parent
    broken = []
    for page in [README, root / "bench" / "README.md", *sorted((root / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" not in target and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(root)}: {target}")
    assert broken == []
