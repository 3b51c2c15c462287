"""``rledger``: the command line, the composition root and the only place that reads argv or prints.

The ledger is chosen by ``--db URL`` (before or after the command), else ``$RLEDGER_URL``, else
``sqlite:///ledger.db``. Each command lives in ``reliability.commands`` with its options; this
module parses argv, dispatches, maps errors to exit codes, and is the
:class:`~reliability.commands.Output` that writes to the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NoReturn

import orjson

from ledger import (
    DEFAULT_URL,
    BackendSetupError,
    BackendUnavailableError,
    LedgerError,
    UnsupportedURLError,
    default_url,
)
from reliability.commands import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, MODULES, add_parsers


class _Terminal:
    """The commands' output: results to stdout, diagnostics and progress bars to stderr."""

    def write(self, text: str = "", *, end: str = "\n", flush: bool = False) -> None:
        """Print ``text`` to stdout."""
        print(text, end=end, flush=flush)

    def write_bytes(self, data: bytes) -> None:
        """Write encoded bytes to stdout."""
        sys.stdout.buffer.write(data)

    def json_line(self, obj: Any, *, indent: bool = False) -> None:
        """Print ``obj`` as JSON (a value orjson cannot encode is written as its ``str``)."""
        option = orjson.OPT_INDENT_2 if indent else 0
        print(orjson.dumps(obj, default=str, option=option).decode())

    def error(self, text: str) -> None:
        """Print ``text`` to stderr."""
        print(text, file=sys.stderr)

    @contextlib.contextmanager
    def progress(self, total: int, desc: str, *, quiet: bool = False) -> Iterator[Callable[[int], None]]:
        """A tqdm bar on stderr; the callable sets the count done."""
        from tqdm import tqdm  # only the long-running commands draw one

        with tqdm(total=total, unit="ev", desc=desc, file=sys.stderr, disable=quiet) as bar:
            yield lambda done: bar.update(done - bar.n)


def _global_options(parser: argparse.ArgumentParser, *, default: object = None) -> None:
    """Add ``--db`` and ``--redaction``: to the top parser with defaults, to each command's with
    none (SUPPRESS).

    A command's parser sets ``db`` only when ``--db`` comes after the command, so
    ``rledger demo --db URL`` means ``rledger --db URL demo`` and neither hides the other's value.
    """
    parser.add_argument(
        "--db",
        default=default_url() if default is None else default,
        help="ledger URL: memory://, sqlite:///file.db, postgresql://…, redis[s]://host:port/db or "
        f"nats://host:port/LEDGER (default: $RLEDGER_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--redaction",
        metavar="FILE",
        default=os.environ.get("RLEDGER_REDACTION") or None if default is None else default,
        help="redaction policy (JSON) applied to every event appended: detectors and field rules "
        "(default: $RLEDGER_REDACTION, else none)",
    )


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """Return the ``rledger`` argument parser: every command, or only ``command``'s module's."""
    parser = argparse.ArgumentParser(
        prog="rledger", description="An event-sourced reliability ledger for AI-agent systems."
    )
    _global_options(parser)
    parser.add_argument("--version", action=_Version, help="print the installed version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parsers(sub, None if command is None else [command])
    for command_parser in sub.choices.values():
        _global_options(command_parser, default=argparse.SUPPRESS)
    return parser


class _Version(argparse.Action):
    """``--version``: the installed distribution's version, looked up only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> NoReturn:
        from importlib.metadata import version

        print(f"rledger {version('reliability-ledger')}")
        parser.exit()


class _NoCommandError(Exception):
    """The probe could not tell the command (the full parser then says why)."""


class _Probe(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _NoCommandError(message)


def _command_in(argv: Sequence[str]) -> str | None:
    """The command ``argv`` runs, found without importing any command (``None``: not plain)."""
    probe = _Probe(add_help=False)
    _global_options(probe)
    probe.add_argument("command", nargs="?")
    probe.add_argument("rest", nargs=argparse.REMAINDER)
    try:
        found, unknown = probe.parse_known_args(argv)
    except _NoCommandError:
        return None
    # Anything before the command that is not a global option (-h, a typo) is for the full
    # parser to explain, with every command listed.
    command: str | None = found.command
    return command if not unknown and command in MODULES else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rledger`` with ``argv``; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(_command_in(argv)).parse_args(argv)
    try:
        status: int = args.run(args, _Terminal())
    except (UnsupportedURLError, BackendSetupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BackendUnavailableError as exc:
        # Unreachable or out of time (timeouts are a kind of it): not a finding about the ledger.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except (FileNotFoundError, ValueError) as exc:
        # Not found, a bad argument, unreadable input: 2. Exit 1 is kept for a command that ran
        # and found a problem (a divergence, a broken chain, violations under --strict).
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `rledger events | head` closes the pipe early; that is not an error.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    return status


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["build_parser", "main"]
