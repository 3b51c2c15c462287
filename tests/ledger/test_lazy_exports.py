"""The ledger package's lazy exports and the stored event schema (a fast ``rledger`` start)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ledger
from ledger import stored_event_schema
from ledger.codec import DEFAULT_MAX_EVENT_BYTES
from ledger.schema_file import SCHEMA_FILE, render_event_schema
from ledger.store import MAX_EVENT_BYTES

REPO = Path(__file__).resolve().parents[2]


def test_every_export_resolves_to_its_modules_object() -> None:
    for name in ledger.__all__:
        value = getattr(ledger, name)
        assert value is not None, name
    assert ledger.generate_workload is __import__("ledger.workload", fromlist=["generate"]).generate
    assert sorted(dir(ledger)) == sorted(ledger.__all__)


def test_the_type_checking_imports_match_the_lazy_table() -> None:
    # What mypy sees (the imports under TYPE_CHECKING) and what run time serves (_WHERE) agree.
    tree = ast.parse(Path(ledger.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If))
    seen = {
        alias.asname or alias.name: node.module.removeprefix("ledger.")
        for node in block.body
        if isinstance(node, ast.ImportFrom) and node.module
        for alias in node.names
    }
    assert seen == ledger._WHERE
    assert sorted(seen) == sorted(ledger.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        ledger.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("no AttributeError")


def test_import_ledger_alone_loads_no_pydantic() -> None:
    code = "import ledger, sys; print('pydantic' in sys.modules, 'eventsourcing' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=False, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["False", "False"], done.stderr


def test_the_stored_schema_is_the_models_schema() -> None:
    # Stale after an event type or field changed: regenerate with `python -m ledger.schema_file`.
    assert stored_event_schema() == render_event_schema(), "run: python -m ledger.schema_file"
    assert SCHEMA_FILE.read_bytes().endswith(b"}\n")


def test_rledger_schema_prints_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, cli; sys.exit(cli.main())", "schema"],
        cwd=REPO,
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == render_event_schema()


def test_the_stores_default_event_limit_is_the_codecs() -> None:
    assert MAX_EVENT_BYTES == DEFAULT_MAX_EVENT_BYTES
