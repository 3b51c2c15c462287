"""The frameworks are extras: the core never imports them; a wrong version is a clear error at import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger import LedgerError
from reliability.integrations import SUPPORTED, FrameworkVersionError, require
from tests.test_architecture import ROOT, imported_modules, python_files

FRAMEWORKS = ("langgraph", "langchain_core", "agents", "openai")


def test_the_core_never_imports_a_framework() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for top in ("ledger", "projections", "replay", "reliability", "cli")
        for path in python_files(ROOT, top)
        if "integrations" not in path.parts
        for module in imported_modules(path, ROOT)
        if module.split(".")[0] in FRAMEWORKS
    ]
    assert found == []


@pytest.mark.parametrize(
    ("distribution", "version"),
    [
        ("langgraph", "0.6.3"),
        ("langgraph", "2.0.0"),
        ("openai-agents", "0.23.9"),
        ("openai-agents", "0.25.0"),
    ],
)
def test_a_version_outside_the_range_is_refused_naming_the_range(distribution: str, version: str) -> None:
    low, high = SUPPORTED[distribution]

    with pytest.raises(FrameworkVersionError) as caught:
        require(distribution, version)

    assert isinstance(caught.value, LedgerError) and isinstance(caught.value, ImportError)
    assert f"{distribution} is {version}, outside the supported range" in str(caught.value)
    assert f"supports {distribution}>={low},<{high}" in str(caught.value)
    assert caught.value.installed == version and caught.value.supported == f">={low},<{high}"


@pytest.mark.parametrize(
    ("distribution", "version"),
    [("langgraph", "1.2.24"), ("langchain-core", "1.0.0rc2"), ("openai-agents", "0.24.0")],
)
def test_a_version_inside_the_range_is_accepted(distribution: str, version: str) -> None:
    assert require(distribution, version) == version


def test_the_installed_frameworks_are_in_range() -> None:
    for distribution in SUPPORTED:
        assert require(distribution)


def test_importing_an_integration_without_its_framework_says_which_extra(tmp_path: Path) -> None:
    # A child process where the framework cannot be found (its metadata hidden).
    code = (
        "import importlib.metadata as m\n"
        "real = m.version\n"
        "def version(name):\n"
        "    if name == 'openai-agents': raise m.PackageNotFoundError(name)\n"
        "    return real(name)\n"
        "m.version = version\n"
        "import reliability.integrations.openai_agents\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=False
    )

    assert done.returncode == 1
    assert "FrameworkVersionError: openai-agents is not installed" in done.stderr
    assert "pip install 'reliability-ledger[openai-agents]'" in done.stderr
