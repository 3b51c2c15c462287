"""The ``rledger`` commands, each module with its options next to its code; ``cli.py`` only dispatches.

A command module exposes ``add_parser(subparsers)``, which registers its command (or a few related
ones) and sets each one's ``run(args, out) -> int`` as the parser default ``run``. A command reads
its options from ``args``, writes through ``out`` (an :class:`Output`, never ``print``) and
returns the exit status; errors it raises (``LedgerError``, ``ValueError``, ``FileNotFoundError``)
are mapped to exit codes by the entry point.

Only the module owning the command that runs is imported (:func:`add_parsers` with its name), so
``rledger schema`` does not load numpy, the projections or the replayer.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Iterable

from reliability.commands.output import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, Output

MODULES: dict[str, str] = {
    "append": "append",
    "events": "events",
    "verify": "store",
    "schema": "store",
    "stats": "store",
    "prune": "store",
    "forget": "privacy",
    "anchor": "anchor",
    "report": "report",
    "rebuild": "runner",
    "follow": "runner",
    "trail": "replays",
    "export": "replays",
    "replay": "replays",
    "import": "transfer",
    "alerts": "guards",
    "breakers": "guards",
    "violations": "guards",
    "trends": "trends",
    "monitor": "monitor",
    "backtest": "backtest",
    "demo": "demo",
    "serve": "serve",
    "token": "token",
}
"""Each command's module under ``reliability.commands``, in the order ``rledger --help`` lists them."""


def add_parsers(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], commands: Iterable[str] | None = None
) -> None:
    """Register every command, or only the modules owning ``commands`` (importing only those).

    Raises:
        KeyError: a name in ``commands`` is not a command.
    """
    wanted = set(MODULES.values()) if commands is None else {MODULES[c] for c in commands}
    for module in dict.fromkeys(MODULES.values()):
        if module in wanted:
            importlib.import_module(f"{__name__}.{module}").add_parser(subparsers)


__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_UNAVAILABLE", "EXIT_USAGE", "MODULES", "Output", "add_parsers"]
