"""The tamper-evident hash chain over events in offset order, and its verification.

``chain[n] = sha256(chain[n-1] ‖ offset ‖ stream ‖ version ‖ stored bytes)``, starting from 32
zero bytes. An edited row breaks its own link; a deleted row breaks the next link (offsets are
gapless) or, at the tail, disagrees with the recorded head; checkpoints pin chain values at
offsets so a rewritten prefix is caught too. After a prune the chain is checked from the latest
prune mark (the offset and chain value at the cut), and the report says what was pruned.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ledger.backends.base import GENESIS, Checkpoint, LedgerBackend, ReadQuery, StoredRow, Tail

CHECKPOINT_EVERY = 10_000
"""A checkpoint is recorded each time the offset crosses a multiple of this."""


def link(previous: bytes, offset: int, stream: str, version: int, state: bytes) -> bytes:
    """Return the chain value of one event given the previous chain value."""
    return link_run(previous, offset, (stream,), (version,), (state,))[0]


_U64 = struct.Struct(">Q").pack


def link_run(
    previous: bytes,
    first_offset: int,
    streams: Sequence[str],
    versions: Sequence[int],
    states: Sequence[bytes],
) -> list[bytes]:
    """Return the chain values of consecutive events from ``first_offset`` on.

    The one definition of a link: ``sha256(previous ‖ offset ‖ stream ‖ 0 ‖ version ‖ state)``,
    offset and version as 8-byte big-endian, all in one buffer and one hash call. Appends run it
    over a whole commit (one loop with its names bound locally: no per-event call overhead).
    """
    sha256 = hashlib.sha256
    join = b"".join
    chains: list[bytes] = []
    offset = first_offset
    for stream, version, state in zip(streams, versions, states, strict=True):
        previous = sha256(
            join((previous, _U64(offset), stream.encode(), b"\x00", _U64(version), state))
        ).digest()
        chains.append(previous)
        offset += 1
    return chains


ProblemKind = Literal[
    "edited", "missing", "truncated", "checkpoint_mismatch", "head_mismatch", "layout_mismatch"
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
        events_checked: rows whose links were recomputed.
        last_offset: the last offset found in the store.
        head_offset: the offset the recorded head says was last written.
        checkpoints_checked: checkpoints compared against recomputed chain values.
        problems: what is wrong, in offset order (at most ``max_problems`` kept).
        pruned_through: the chain is checked from here (the latest prune mark; 0 if none).
        pruned_events: events removed by every prune so far.
    """

    ok: bool = True
    events_checked: int = 0
    last_offset: int = 0
    head_offset: int = 0
    checkpoints_checked: int = 0
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


def _is_bytes(value: object) -> bool:
    return isinstance(value, bytes | bytearray | memoryview)


def _link_text(previous: bytes, row: StoredRow) -> bytes:
    """The link of a row whose state may have been stored as text by a tamperer (encoded as UTF-8)."""
    state = row.state if _is_bytes(row.state) else str(row.state).encode()
    return link(previous, row.offset, row.stream, row.version, bytes(state))


def checkpoints_crossed(
    before: int, after: int, chain_at: Callable[[int], bytes], tail: Tail
) -> list[Checkpoint]:
    """Return the checkpoints for multiples of ``CHECKPOINT_EVERY`` in ``(before, after]``.

    ``chain_at(offset)`` gives the chain value just written at an offset in that range.
    """
    assert tail.recorded_at is not None
    first = (before // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY
    return [
        Checkpoint(offset=o, chain=chain_at(o), recorded_at=tail.recorded_at)
        for o in range(first, after + 1, CHECKPOINT_EVERY)
    ]


def verify(backend: LedgerBackend, *, max_problems: int = 100) -> VerifyReport:
    """Recompute the chain over the whole store and compare it with checkpoints and head."""
    report = VerifyReport()

    def problem(kind: ProblemKind, offset: int, detail: str) -> None:
        report.ok = False
        if len(report.problems) < max_problems:
            report.problems.append(IntegrityProblem(kind, offset, detail))

    checkpoints = {c.offset: c for c in backend.checkpoints()}
    marks = backend.prune_marks()
    previous = GENESIS
    if marks:
        # Pruned events are gone by design: start from the cut, whose chain value the mark keeps.
        cut = marks[-1]
        previous = cut.chain
        report.pruned_through = report.last_offset = cut.offset
        report.pruned_events = sum(m.events for m in marks)
        cp = checkpoints.get(cut.offset)
        if cp is not None:
            report.checkpoints_checked += 1
            if cp.chain != cut.chain:
                problem("checkpoint_mismatch", cut.offset, "the prune mark differs from the checkpoint")
    expected_offset = report.pruned_through + 1
    for row in backend.iter_rows(ReadQuery(after=report.pruned_through), page_size=5000):
        if row.offset != expected_offset:
            problem(
                "missing",
                expected_offset,
                f"offsets {expected_offset}..{row.offset - 1} are missing (deleted rows)",
            )
            # The link after a gap cannot be checked (its predecessor is gone); take the
            # stored value as ground truth so one deletion is reported once, not twice.
            recomputed = row.chain
        elif not _is_bytes(row.state) or not _is_bytes(row.chain):
            # A value edited in SQL can change its storage type (SQLite's replace() on a blob
            # returns text): no honest row has one, so it is an edit, not a reason to crash.
            recomputed = row.chain if _is_bytes(row.chain) else _link_text(previous, row)
            problem("edited", row.offset, "stored value has the wrong storage type (not bytes)")
        else:
            recomputed = link(previous, row.offset, row.stream, row.version, row.state)
            if recomputed != row.chain:
                problem("edited", row.offset, "stored event does not match its chain link")
        cp = checkpoints.get(row.offset)
        if cp is not None:
            report.checkpoints_checked += 1
            if cp.chain != recomputed:
                problem("checkpoint_mismatch", row.offset, "chain differs from the checkpoint")
        # Continue from the stored value so each edit is reported at its own offset only.
        previous = row.chain if _is_bytes(row.chain) else recomputed
        expected_offset = row.offset + 1
        report.events_checked += 1
        report.last_offset = row.offset
    head = backend.head()
    report.head_offset = head.offset if head else 0
    for offset in sorted(checkpoints):
        if offset > report.last_offset:
            problem(
                "truncated",
                offset,
                f"checkpoint at offset {offset} but the store ends at {report.last_offset}",
            )
    if head is not None:
        if head.offset > report.last_offset:
            problem(
                "truncated",
                report.last_offset + 1,
                f"head says offset {head.offset} was written but the store ends at {report.last_offset}",
            )
        elif head.offset < report.last_offset:
            problem("head_mismatch", head.offset, f"rows after the recorded head ({head.offset}) exist")
        elif head.chain != previous:
            problem("head_mismatch", head.offset, "chain value differs from the recorded head")
    elif report.last_offset:
        problem("head_mismatch", 0, "events exist but no head was recorded")
    layout = backend.layout_problems(max_problems)
    if layout:
        report.ok = False
        report.problems += [IntegrityProblem("layout_mismatch", o, d) for o, d in layout]
        # The first problems by offset are kept, whichever check found them.
        report.problems = sorted(report.problems, key=lambda p: p.offset)[:max_problems]
    return report
