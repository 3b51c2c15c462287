"""``rledger append``: validate JSON lines, then append them; invalid input writes nothing unless skipped.

The output of ``rledger events --format json`` and ``rledger export`` appends back as it is: the
envelope fields they add are taken off first (see :data:`ENVELOPE`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO, TypeAlias

import orjson

from reliability.commands.options import input_file, open_db
from reliability.commands.output import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Output

if TYPE_CHECKING:  # at run time each command imports what it uses: `rledger` starts fast
    from ledger import DuplicateEventError, LedgerEvent, Problem


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``append``."""
    p = subparsers.add_parser("append", help="append JSON-lines events (invalid input writes nothing)")
    p.add_argument("file", nargs="?", default="-", help="JSON-lines file, or - for stdin (default)")
    p.add_argument("--skip-invalid", action="store_true", help="write the valid lines, report the rest")
    p.add_argument("--batch-size", type=int, default=1000, help="events per transaction (default 1000)")
    p.set_defaults(run=run)


def _spool(source: str) -> tuple[str, bool]:
    """Return a path to read the input from twice (stdin is copied to a temporary file)."""
    if source != "-":
        return input_file(source), False
    fd, path = tempfile.mkstemp(prefix="rledger-", suffix=".jsonl")
    with os.fdopen(fd, "wb") as spool:
        # Reading stdin is input, not printing: the one place a command touches a standard stream.
        shutil.copyfileobj(sys.stdin.buffer, spool)
    return path, True


Chunk: TypeAlias = "tuple[list[LedgerEvent], list[int], list[Problem], int]"
"""A validated chunk: its events, each event's line, the problems (by line in the file), lines read."""


def _chunks(f: BinaryIO, size: int) -> Iterator[Chunk]:
    """Validate ``size`` lines at a time (see :data:`Chunk`).

    Chunks keep memory bounded however large the input is; the codec's line numbers count from
    each chunk's start, so they are moved to the line in the whole file.
    """
    start = 0
    while chunk := list(itertools.islice(f, max(size, 1))):
        events, numbers, problems = _validate(chunk, start)
        yield events, numbers, problems, start + len(chunk)
        start += len(chunk)


ENVELOPE = ("offset", "stream", "version", "recorded_at", "erased")
"""What ``rledger events --format json`` and ``rledger export`` add to each event: where the
source ledger stored it. On append ``offset``, ``version`` and ``recorded_at`` are ignored (the
target ledger assigns its own); ``stream``, when given, must be the event's own stream;
``erased`` (the fields a forgotten subject's event read as erased) is ignored: what is appended
is the event as it was read, its erased fields included."""


def _validate(lines: list[bytes], start: int) -> tuple[list[LedgerEvent], list[int], list[Problem]]:
    """Validate lines numbered from ``start + 1``, taking the envelope fields off first."""
    from ledger import Problem, validate_one

    events: list[LedgerEvent] = []
    numbers: list[int] = []
    problems: list[Problem] = []
    for number, raw in enumerate(lines, start=start + 1):
        text = raw.strip()
        if not text:
            continue
        stream: object = None
        if b'"offset"' in text or b'"stream"' in text:  # a cheap test: most lines have no envelope
            try:
                data = orjson.loads(text)
            except orjson.JSONDecodeError:
                data = None
            if isinstance(data, dict) and any(k in data for k in ENVELOPE):
                stream = data.get("stream")
                for key in ENVELOPE:
                    data.pop(key, None)
                text = orjson.dumps(data)
        event, found = validate_one(text, line=number)
        if event is None:
            problems.extend(found)
        elif stream is not None and stream != event.stream:
            problems.append(
                Problem(None, number, "stream", f"'{stream}' is not the event's stream '{event.stream}'")
            )
        else:
            events.append(event)
            numbers.append(number)
    return events, numbers, problems


def _report(problems: list[Problem], out: Output) -> None:
    for p in problems:
        out.error(f"  {p}")


def _changed(exc: DuplicateEventError, numbers: list[int], written: int, out: Output) -> None:
    """Report a changed event by its line in the input (the ledger's message counts from 0 in a batch)."""
    line = numbers[exc.index] if exc.index is not None else None
    where = f"line {line}: " if line is not None else ""
    earlier = "is used by an earlier line" if exc.in_batch else f"is already stored at offset {exc.offset}"
    kept = "nothing written"
    if written:
        kept = f"{written} event(s) of earlier batches written, none of its batch"
    out.error(f"error: {where}event_id {exc.event_id} {earlier} with a different payload; {kept}")


def run(args: argparse.Namespace, out: Output) -> int:
    """Validate the input's lines, then append them in batches."""
    from ledger import DuplicateEventError

    path, spooled = _spool(args.file)
    try:
        if not args.skip_invalid:
            # Pass 1 validates everything before a single event is written; pass 2 re-reads
            # the input to append it.
            problems: list[Problem] = []
            lines = 0
            with open(path, "rb") as f:
                for _, _, found, read in _chunks(f, args.batch_size):
                    problems.extend(found)
                    lines = read
            if problems:
                out.error(
                    f"error: rejected the input: {len(problems)} problem(s) in {lines} line(s); "
                    "nothing written (--skip-invalid writes the valid lines)"
                )
                _report(problems, out)
                return EXIT_USAGE
        problems = []
        written = duplicates = 0
        last: int | None = None
        with open_db(args, create=True) as ledger, open(path, "rb") as f:
            for events, numbers, found, _ in _chunks(f, args.batch_size):
                problems.extend(found)
                if not events:
                    continue
                try:
                    result = ledger.append(events)
                except DuplicateEventError as exc:
                    _changed(exc, numbers, written, out)
                    return EXIT_FAILED
                written += result.written
                duplicates += result.duplicates
                last = result.last_offset if last is None else max(last, result.last_offset or 0)
        if last is None:  # no offset to name: "last offset None" would read as a stored value
            out.write(f"nothing to append (no {'valid ' if problems else ''}events in the input)")
        else:
            out.write(f"appended {written} event(s), {duplicates} already stored; last offset {last}")
        if problems:
            out.error(f"skipped {len({p.line for p in problems if p.line is not None})} invalid line(s):")
            _report(problems, out)
            return EXIT_FAILED
        return EXIT_OK
    finally:
        if spooled:
            os.unlink(path)
