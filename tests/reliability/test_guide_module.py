"""``from reliability import …`` works for every name the user's guide imports, lazily.

The guide is read at test time (``tests/reliability/reliability-guide.md``, the user's guide
kept in the repository), so a name it adds that the module lacks fails here.
"""

from __future__ import annotations

import re
import subprocess
import sys

import ledger
import projections
import reliability
import replay
from tests.reliability.guide import GUIDE


def guide_imports() -> set[str]:
    """Every name a code block of the guide imports from ``reliability`` (each line a statement)."""
    text = GUIDE.read_text(encoding="utf-8")
    names: set[str] = set()
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        for match in re.finditer(r"^from reliability import (\([^)]*\)|[^\n]*)", block, flags=re.M):
            names |= {
                n.strip() for n in match.group(1).strip("()").replace("\n", ",").split(",") if n.strip()
            }
    return names


def test_every_name_the_guide_imports_is_the_packages_own_object() -> None:
    wanted = guide_imports()

    assert len(wanted) > 20 and wanted <= set(reliability.__all__)
    for name in reliability.__all__:
        owner = next(p for p in (projections, replay, ledger) if name in p.__all__)
        assert getattr(reliability, name) is getattr(owner, name), name
    assert reliability.Evidence is projections.Evidence  # one Evidence: collector's and trail's
    assert set(dir(reliability)) >= set(reliability.__all__)


def test_importing_reliability_loads_nothing_until_a_name_is_used() -> None:
    code = (
        "import sys, reliability; assert {'projections', 'replay'}.isdisjoint(sys.modules);"
        "from reliability import SLOTracker;"
        "assert 'projections' in sys.modules and 'replay' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_guide_kept_in_the_repository_is_the_users_guide() -> None:
    from tests.reliability.guide import USERS_GUIDE

    # Beside a checkout that has the user's shared/ folder (CI, the developers' machines), the
    # repository's copy must be the same text: the tests run the guide the user wrote.
    if USERS_GUIDE.is_file():
        assert GUIDE.read_text(encoding="utf-8") == USERS_GUIDE.read_text(encoding="utf-8"), (
            f"{USERS_GUIDE} changed: copy it to tests/reliability/reliability-guide.md"
        )
    assert "from reliability import" in GUIDE.read_text(encoding="utf-8")
