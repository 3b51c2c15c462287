"""Guards on the architecture: imports point one way, and public names do not silently vanish.

``cli → reliability → replay → projections → ledger``: only ``ledger/`` talks to infrastructure
(eventsourcing, psycopg, sqlite3); ``projections/``, ``replay/`` and ``reliability/`` never import a
concrete backend; nothing but the composition root imports ``cli``, and ``cli`` reaches the
projections and replays only through the commands in ``reliability.commands``. ``cli.py`` is also
the only module that prints.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INFRASTRUCTURE = {"eventsourcing", "psycopg", "psycopg_pool", "sqlite3", "redis", "nats"}
CONCRETE_BACKENDS = (
    "ledger.backends.memory",
    "ledger.backends.sqlite",
    "ledger.backends.postgres",
    "ledger.backends.redis",
    "ledger.backends.nats",
)

FORBIDDEN: dict[str, tuple[str, ...]] = {
    # package → modules (and their submodules) it must not import
    "ledger": ("projections", "replay", "reliability", "cli"),
    "projections": ("replay", "reliability", "cli", *INFRASTRUCTURE, *CONCRETE_BACKENDS),
    "replay": ("reliability", "cli", *INFRASTRUCTURE, *CONCRETE_BACKENDS),
    "reliability": ("cli", *INFRASTRUCTURE, *CONCRETE_BACKENDS),
    # The entry point parses argv and prints; what a command does lives in reliability.commands.
    "cli": ("projections", "replay", *INFRASTRUCTURE),
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path: Path, root: Path) -> set[str]:
    """Every module a file imports, anywhere in it, with relative imports made absolute."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if module:
                found.add(module)
            # `from pkg import sub` may import the submodule pkg.sub.
            found.update(f"{module}.{a.name}" if module else a.name for a in node.names)
    return found


def python_files(root: Path, top: str) -> list[Path]:
    single = root / f"{top}.py"
    if single.is_file():
        return [single]
    return sorted((root / top).rglob("*.py")) if (root / top).is_dir() else []


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Write a made-up source tree (path → text) for the guards' self-tests."""
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def violations(root: Path) -> list[str]:
    """Return ``file: imports module`` for each import that breaks the direction rules."""
    found = []
    for top, forbidden in FORBIDDEN.items():
        for path in python_files(root, top):
            for module in sorted(imported_modules(path, root)):
                if any(module == f or module.startswith(f"{f}.") for f in forbidden):
                    found.append(f"{path.relative_to(root)}: imports {module}")
    return found


def test_imports_point_one_way() -> None:
    assert violations(ROOT) == []


def test_the_import_scan_sees_the_ledgers_own_infrastructure_imports() -> None:
    # If the scan saw nothing, the guard above would pass vacuously.
    seen = set().union(*(imported_modules(p, ROOT) for p in python_files(ROOT, "ledger")))

    assert {"eventsourcing.sqlite", "psycopg", "sqlite3"} <= seen
    assert len(python_files(ROOT, "ledger")) >= 10


def test_the_import_guard_catches_each_kind_of_violation(tmp_path: Path) -> None:
    files = {
        "ledger/__init__.py": "",
        "ledger/store.py": "def f():\n    from projections import engine\n",
        "ledger/backends/__init__.py": "",
        "ledger/backends/base.py": "from ...replay import trail\n",
        "projections/__init__.py": "",
        "projections/fold.py": "import psycopg\nfrom ledger.backends import sqlite\n",
        "projections/view.py": "from replay.trail import Trail\nimport cli\n",
        "replay/__init__.py": "from . import trail\n",
        "replay/trail.py": "from .. import cli\nimport sqlite3 as db\n",
        "reliability/__init__.py": "",
        "reliability/commands/__init__.py": "import cli\nfrom ledger.backends import redis\n",
        "reliability/commands/store.py": "from replay import History\nimport redis\n",
        "cli.py": (
            "from eventsourcing.application import Application\nimport ledger\n"
            "from projections import CostTracker\nfrom reliability.commands import add_parsers\n"
        ),
    }
    write_tree(tmp_path, files)

    assert violations(tmp_path) == [
        "ledger/backends/base.py: imports replay",
        "ledger/backends/base.py: imports replay.trail",
        "ledger/store.py: imports projections",
        "ledger/store.py: imports projections.engine",
        "projections/fold.py: imports ledger.backends.sqlite",
        "projections/fold.py: imports psycopg",
        "projections/view.py: imports cli",
        "projections/view.py: imports replay.trail",
        "projections/view.py: imports replay.trail.Trail",
        "replay/trail.py: imports cli",
        "replay/trail.py: imports sqlite3",
        "reliability/commands/__init__.py: imports cli",
        "reliability/commands/__init__.py: imports ledger.backends.redis",
        "reliability/commands/store.py: imports redis",
        "cli.py: imports eventsourcing.application",
        "cli.py: imports eventsourcing.application.Application",
        "cli.py: imports projections",
        "cli.py: imports projections.CostTracker",
    ]


# -- package boundaries: across packages, only what a package's __init__ exports ----------------

# A package's public face is its __init__; a layer of projections is public too. Importing any
# other module of another package reaches into its internals.
PUBLIC_PACKAGES = {
    "ledger": {"ledger"},
    "projections": {
        "projections",
        "projections.alerting",
        "projections.fold",
        "projections.guards",
        "projections.metrics",
        "projections.signals",
    },
    "replay": {"replay"},
    "reliability": {"reliability", "reliability.commands"},
}
IMPORTERS = ("projections", "replay", "reliability", "cli")


def is_module(module: str, root: Path) -> bool:
    """Whether a dotted name is a module or package in the tree (not a name imported from one)."""
    path = root.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def boundary_violations(root: Path) -> list[str]:
    """Return ``file: reaches into module`` for each import of another package's non-public module."""
    found = []
    for top in IMPORTERS:
        for path in python_files(root, top):
            for module in sorted(imported_modules(path, root)):
                owner = module.split(".")[0]
                if owner == top or owner not in PUBLIC_PACKAGES or not is_module(module, root):
                    continue
                if module not in PUBLIC_PACKAGES[owner]:
                    found.append(f"{path.relative_to(root)}: reaches into {module}")
    return found


def test_packages_import_each_other_only_through_their_exports() -> None:
    assert boundary_violations(ROOT) == []


def test_the_boundary_guard_catches_each_kind_of_reach(tmp_path: Path) -> None:
    files = {
        "ledger/__init__.py": "",
        "ledger/store.py": "",
        "ledger/backends/__init__.py": "",
        "ledger/backends/base.py": "",
        "projections/__init__.py": "",
        "projections/fold/__init__.py": "from ledger import Ledger\n",
        "projections/fold/runner.py": "from ledger.backends.base import ReadQuery\n",
        "projections/metrics/__init__.py": "from projections.fold import runner\n",
        "replay/__init__.py": (
            "from projections.metrics import Report\nfrom projections.fold.runner import x\n"
        ),
        "replay/trail.py": "import ledger.store\nfrom ledger import backends\n",
        "reliability/__init__.py": "",
        "reliability/commands/__init__.py": "from . import store\n",
        "reliability/commands/store.py": "from replay import History\nfrom replay.trail import Trail\n",
        "cli.py": (
            "from replay.trail import Trail\nfrom replay import History\n"
            "from reliability.commands import add_parsers\nfrom reliability.commands.store import verify\n"
        ),
    }
    write_tree(tmp_path, files)

    assert boundary_violations(tmp_path) == [
        "projections/fold/runner.py: reaches into ledger.backends.base",
        "replay/__init__.py: reaches into projections.fold.runner",
        "replay/trail.py: reaches into ledger.backends",
        "replay/trail.py: reaches into ledger.store",
        "reliability/commands/store.py: reaches into replay.trail",
        "cli.py: reaches into reliability.commands.store",
        "cli.py: reaches into replay.trail",
    ]


# -- printing: cli.py is the only module that writes to the terminal ----------------------------

PRINT_FREE = ("ledger", "projections", "replay", "reliability")


def terminal_writes(root: Path) -> list[str]:
    """Return ``file:line: what`` for each ``print(`` call or use of ``sys.stdout``/``sys.stderr``."""
    found = []
    for top in PRINT_FREE:
        for path in python_files(root, top):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                    what = "print("
                elif (
                    isinstance(node, ast.Attribute)
                    and node.attr in ("stdout", "stderr", "__stdout__", "__stderr__")
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "sys"
                ):
                    what = f"sys.{node.attr}"
                elif isinstance(node, ast.ImportFrom) and node.module == "sys":
                    names = [a.name for a in node.names if a.name in ("stdout", "stderr")]
                    if not names:
                        continue
                    what = f"from sys import {', '.join(names)}"
                else:
                    continue
                found.append(f"{path.relative_to(root)}:{node.lineno}: {what}")
    return found


def test_only_the_entry_point_prints() -> None:
    assert terminal_writes(ROOT) == []


def test_the_print_guard_catches_each_way_of_writing_to_the_terminal(tmp_path: Path) -> None:
    files = {
        "ledger/store.py": "print('x')\n",
        "projections/view.py": "import sys\n\ndef f():\n    sys.stdout.write('x')\n",
        "replay/trail.py": "import sys\nout = sys.stderr\n",
        "reliability/commands/store.py": "from sys import stdout\nimport sys\ndata = sys.stdin.read()\n",
        "cli.py": "import sys\nprint('fine here')\nsys.stdout.write('and here')\n",
    }
    write_tree(tmp_path, files)

    assert terminal_writes(tmp_path) == [
        "ledger/store.py:1: print(",
        "projections/view.py:4: sys.stdout",
        "replay/trail.py:2: sys.stderr",
        "reliability/commands/store.py:1: from sys import stdout",
    ]


# -- module size: one concept per module ---------------------------------------------------------

MAX_MODULE_LINES = 400  # the house guideline is ~300; past this, a module holds more than one job


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        str(path.relative_to(ROOT)): len(path.read_text().splitlines())
        for top in ("ledger", "projections", "replay", "reliability", "cli")
        for path in python_files(ROOT, top)
    }

    assert len(sizes) > 100  # the scan saw the packages
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_the_tests_tree_mirrors_the_packages() -> None:
    tests = ROOT / "tests"
    folders = {p.parent.relative_to(tests) for p in tests.rglob("test_*.py")} - {Path(".")}

    assert Path("projections/metrics") in folders  # the scan saw the nested folders
    assert sorted(str(f) for f in folders if not (ROOT / f / "__init__.py").is_file()) == []


# -- the layers of projections: each imports only the layers before it ---------------------------

LAYERS = ("fold", "metrics", "guards", "signals", "alerting")


def layer_violations(root: Path) -> list[str]:
    """Return ``file: imports module`` for each import of a later (or unknown) projections layer."""
    found = []
    for rank, layer in enumerate(LAYERS):
        allowed = {f"projections.{name}" for name in LAYERS[: rank + 1]}
        for path in sorted((root / "projections" / layer).rglob("*.py")):
            for module in sorted(imported_modules(path, root)):
                parts = module.split(".")
                if parts[0] != "projections" or len(parts) < 2 or not is_module(module, root):
                    continue
                if ".".join(parts[:2]) not in allowed:
                    found.append(f"{path.relative_to(root)}: imports {module}")
    return found


def test_projection_layers_import_only_earlier_layers() -> None:
    assert layer_violations(ROOT) == []
    assert all((ROOT / "projections" / layer / "__init__.py").is_file() for layer in LAYERS)


def test_the_layer_guard_catches_an_upward_import(tmp_path: Path) -> None:
    for layer in LAYERS:
        (tmp_path / "projections" / layer).mkdir(parents=True)
        (tmp_path / "projections" / layer / "__init__.py").write_text("")
    (tmp_path / "projections" / "__init__.py").write_text("")
    (tmp_path / "projections" / "metrics" / "fold_x.py").write_text("from projections.fold import a\n")
    (tmp_path / "projections" / "fold" / "runner.py").write_text("from projections.metrics import b\n")
    (tmp_path / "projections" / "guards" / "g.py").write_text("import projections.alerting\n")

    assert layer_violations(tmp_path) == [
        "projections/fold/runner.py: imports projections.metrics",
        "projections/guards/g.py: imports projections.alerting",
    ]
