"""``verify``: recompute the hash chain and check every stored column and index against it.

One pass over the rows in offset order, a page at a time, reading every column raw
(:meth:`~ledger.backends.base.LedgerBackend.verify_scan`, nothing decoded):

- each link is recomputed from the previous one (an edited, deleted or re-ordered row shows at
  its own offset; see :mod:`ledger.chain` for what the chain alone can and cannot catch);
- the recomputed chain is compared with the checkpoints and the head recorded in the store, and
  with *pins*: chain values known from outside the store (signed anchors, :mod:`ledger.anchors`);
- the columns beside the bytes (type, event id, agent, event time, stream; commit times in
  order) are compared with the chained event (:mod:`ledger.columns`), and hand-kept indexes with
  the rows (:meth:`~ledger.backends.base.LedgerBackend.index_problems`).

After a prune the chain is checked from the latest prune mark; ``start`` checks only what came
after a trusted (offset, chain value), e.g. the latest anchor.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import operator
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from ledger.backends.base import GENESIS, LedgerBackend
from ledger.chain import U64
from ledger.columns import ColumnCheck

PAGE = 5000
"""Rows read per round trip."""

ProblemKind = Literal[
    "edited",
    "missing",
    "truncated",
    "checkpoint_mismatch",
    "head_mismatch",
    "layout_mismatch",
    "column_mismatch",
    "index_mismatch",
    "anchor_mismatch",
]


@dataclass(frozen=True)
class IntegrityProblem:
    """One thing :func:`verify` found wrong, at an offset."""

    kind: ProblemKind
    offset: int
    detail: str


@dataclass
class VerifyReport:
    """What :func:`verify` found.

    Attributes:
        ok: integrity and completeness both hold.
        events_checked: rows whose links and columns were checked.
        first_offset: the offset checking started after (0, the latest prune cut, or ``start``).
        last_offset: the last offset found in the store.
        head_offset: the offset the recorded head says was last written.
        checkpoints_checked: checkpoints compared against recomputed chain values.
        anchors_checked: pinned chain values (anchors) compared against recomputed ones.
        problems: what is wrong, in offset order (at most ``max_problems`` kept).
        pruned_through: the chain is checked from here (the latest prune mark; 0 if none).
        pruned_events: events removed by every prune so far.
    """

    ok: bool = True
    events_checked: int = 0
    first_offset: int = 0
    last_offset: int = 0
    head_offset: int = 0
    checkpoints_checked: int = 0
    anchors_checked: int = 0
    problems: list[IntegrityProblem] = field(default_factory=list)
    pruned_through: int = 0
    pruned_events: int = 0

    @property
    def pruned(self) -> str | None:
        """What retention removed, in words (``None`` if nothing was ever pruned)."""
        if not self.pruned_through:
            return None
        return f"pruned {self.pruned_events} event(s) up to offset {self.pruned_through}"

    @property
    def first_bad_offset(self) -> int | None:
        """The offset of the first problem, or ``None`` when intact."""
        return self.problems[0].offset if self.problems else None


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _is_bytes(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _as_bytes(value: object) -> bytes:
    """A value a tamperer may have stored as text (SQLite), as the bytes it would hash as."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def verify(
    backend: LedgerBackend,
    *,
    max_problems: int = 100,
    pins: Mapping[int, bytes] | None = None,
    start: tuple[int, bytes] | None = None,
) -> VerifyReport:
    """Recompute the chain, check it against checkpoints, head and pins, and check every column.

    Args:
        backend: the store.
        max_problems: keep at most this many problems (the first ones by offset).
        pins: chain values known from outside the store, by offset (anchored heads): each is
            compared with the recomputed chain there ("anchor_mismatch"), and one past the end
            of the store is a truncation.
        start: (offset, chain value) trusted from outside: check only the rows after it (the
            stored row at that offset must hold that chain value).
    """
    report = VerifyReport()

    def problem(kind: ProblemKind, offset: int, detail: str) -> None:
        report.ok = False
        if len(report.problems) < max_problems:
            report.problems.append(IntegrityProblem(kind, offset, detail))

    checkpoints = {c.offset: c.chain for c in backend.checkpoints()}
    pinned = dict(pins or {})
    marks = backend.prune_marks()
    previous = GENESIS
    if marks:
        # Pruned events are gone by design: start from the cut, whose chain value the mark keeps.
        cut = marks[-1]
        previous = cut.chain
        report.pruned_through = report.first_offset = cut.offset
        report.pruned_events = sum(m.events for m in marks)
        if cut.offset in checkpoints:
            report.checkpoints_checked += 1
            if checkpoints[cut.offset] != cut.chain:
                problem("checkpoint_mismatch", cut.offset, "the prune mark differs from the checkpoint")
    for offset in [o for o in pinned if o <= report.first_offset]:
        # At or before the cut only the mark's chain value is left to compare.
        chain = pinned.pop(offset)
        if offset == report.first_offset and offset:
            report.anchors_checked += 1
            if chain != previous:
                problem(
                    "anchor_mismatch", offset, "the prune mark's chain value differs from the anchored head"
                )
    if start is not None and start[0] > report.first_offset:
        offset, chain = start
        at = backend.verify_scan(offset - 1, 1)
        report.anchors_checked += 1
        if not at or at[0][0] != offset:
            problem(
                "truncated", offset, f"the anchored head is at offset {offset} but that row is not stored"
            )
        elif at[0][9] != chain:
            problem("anchor_mismatch", offset, "the stored chain value differs from the anchored head")
            chain = at[0][9]  # carry on from what is stored: the rest is checked on its own
        previous, report.first_offset = chain, offset
        pinned = {o: c for o, c in pinned.items() if o > offset}
    expected = report.first_offset + 1
    sha256, join, pack = hashlib.sha256, b"".join, U64
    # Stored checkpoints and outside pins, compared where the recomputed chain reaches them.
    stops = sorted(set(checkpoints) | set(pinned))
    stop_at = iter(stops)
    next_stop = next(stop_at, None)
    while next_stop is not None and next_stop <= report.first_offset:
        next_stop = next(stop_at, None)
    keep_versions = type(backend).stream_version_problems is not LedgerBackend.stream_version_problems
    last_versions: dict[str, tuple[int, int]] = {}
    columns = ColumnCheck()
    keep_indexes = type(backend).index_problems is not LedgerBackend.index_problems
    # Reading the next page, and a server-side index check, mostly wait on the database (which
    # works on another core meanwhile): they run in threads while this one hashes and compares.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="verify")
    try:
        next_page = pool.submit(backend.verify_scan, report.first_offset, PAGE)
        while True:
            rows = next_page.result()
            if not rows:
                break
            next_page = pool.submit(backend.verify_scan, rows[-1][0], PAGE)
            indexes = pool.submit(backend.index_problems, rows) if keep_indexes else None
            # The checks build a few objects per row, freed by reference counting; the cyclic
            # collector finds nothing in them but would run thousands of times. Paused per page.
            with _gc_paused():
                for offset, stream, version, _t, _i, _a, _o, _r, state, stored in rows:
                    if offset != expected:
                        problem(
                            "missing",
                            expected,
                            f"offsets {expected}..{offset - 1} are missing (deleted rows)",
                        )
                        # The link after a gap cannot be checked (its predecessor is gone); take the
                        # stored value as ground truth so one deletion is reported once, not twice.
                        recomputed = stored
                    elif type(state) is bytes and type(stored) is bytes:
                        recomputed = sha256(
                            join((previous, pack(offset), stream.encode(), b"\x00", pack(version), state))
                        ).digest()
                        if recomputed != stored:
                            problem("edited", offset, "stored event does not match its chain link")
                    else:
                        # A value edited in SQL can change its storage type (SQLite's replace() on a blob
                        # returns text): no honest row has one, so it is an edit, not a reason to crash.
                        recomputed = sha256(
                            join(
                                (
                                    previous,
                                    pack(offset),
                                    stream.encode(),
                                    b"\x00",
                                    pack(version),
                                    _as_bytes(state),
                                )
                            )
                        ).digest()
                        if _is_bytes(stored):
                            recomputed = bytes(stored)
                        problem("edited", offset, "stored value has the wrong storage type (not bytes)")
                    while next_stop is not None and next_stop <= offset:
                        if next_stop == offset:
                            if offset in checkpoints:
                                report.checkpoints_checked += 1
                                if checkpoints[offset] != recomputed:
                                    problem(
                                        "checkpoint_mismatch", offset, "chain differs from the checkpoint"
                                    )
                            if offset in pinned:
                                report.anchors_checked += 1
                                if pinned[offset] != recomputed:
                                    problem(
                                        "anchor_mismatch",
                                        offset,
                                        "the chain recomputed through this offset differs from the "
                                        "anchored head: an event at or before it was altered",
                                    )
                        next_stop = next(stop_at, None)
                    # Continue from the stored value so each edit is reported at its own offset only.
                    previous = stored if type(stored) is bytes else recomputed
                    expected = offset + 1
                report.events_checked += len(rows)
                report.last_offset = rows[-1][0]
                for offset, detail in columns.problems(rows):
                    problem("column_mismatch", offset, detail)
                for offset, detail in indexes.result() if indexes is not None else []:
                    problem("index_mismatch", offset, detail)
                if keep_versions:
                    last_versions.update(
                        zip(
                            map(operator.itemgetter(1), rows),
                            zip(
                                map(operator.itemgetter(0), rows),
                                map(operator.itemgetter(2), rows),
                                strict=True,
                            ),
                            strict=True,
                        )
                    )
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    head = backend.head()
    report.head_offset = head.offset if head else 0
    end = max(report.last_offset, report.first_offset)
    # Nothing after the start (a verify from an anchor with no new events): checked up to it.
    report.last_offset = end
    for offset in sorted(checkpoints):
        if offset > end:
            problem("truncated", offset, f"checkpoint at offset {offset} but the store ends at {end}")
    for offset in sorted(o for o in pinned if o > end):
        report.anchors_checked += 1
        problem("truncated", end + 1, f"an anchored head is at offset {offset} but the store ends at {end}")
    if head is not None:
        if head.offset > end:
            problem(
                "truncated",
                end + 1,
                f"head says offset {head.offset} was written but the store ends at {end}",
            )
        elif head.offset < end:
            problem("head_mismatch", head.offset, f"rows after the recorded head ({head.offset}) exist")
        elif head.chain != previous:
            problem("head_mismatch", head.offset, "chain value differs from the recorded head")
    elif end:
        problem("head_mismatch", 0, "events exist but no head was recorded")
    if not any(p.kind in ("missing", "truncated") for p in report.problems):
        # Deleted rows leave their streams' versions ahead of the rows that remain (as they
        # should: versions never repeat); that is the deletion's finding, not another one.
        for offset, detail in backend.stream_version_problems(last_versions):
            problem("index_mismatch", offset, detail)
    layout = backend.layout_problems(max_problems, after=report.first_offset)
    if layout:
        report.ok = False
        report.problems += [IntegrityProblem("layout_mismatch", o, d) for o, d in layout]
    # The first problems by offset are kept, whichever check found them.
    report.problems = sorted(report.problems, key=lambda p: p.offset)[:max_problems]
    return report
