"""The ledger's one error tree; backend exceptions are translated into it at the seam.

::

    LedgerError
    ├── InvalidEventError          one bad event: where (index / line), which field, why
    ├── BatchRejectedError         a batch with one or more invalid events; nothing was written
    ├── BatchTooLargeError         a batch over the events or bytes one append may carry; nothing written
    ├── ConflictError
    │   ├── VersionConflictError   optimistic concurrency: a stream is not at the expected version
    │   ├── DuplicateEventError    an event id already stored with a different payload
    │   └── ViewConflictError      a projection's position was already saved by another runner
    ├── BackendError
    │   ├── UnsupportedURLError    a ledger URL no backend understands
    │   │   └── InvalidURLOptionError  a URL option (or open_ledger argument) with a bad value
    │   ├── BackendUnavailableError  the database cannot be reached or opened
    │   │   ├── BackendSetupError      a missing client extra, a SQLite directory that does not exist
    │   │   └── BackendTimeoutError    an operation did not finish within its deadline
    │   ├── StorageFullError       the store has no room for the write (disk full, quota, maxmemory)
    │   └── LedgerLostError        the store lost a ledger it held (a Redis restarted empty)
    ├── PrunedRangeError           a fold asked for events that retention removed
    ├── LedgerClosedError          the ledger was closed
    └── AnchorError                an anchor or anchor key file that cannot be used (which, why)
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


class LedgerError(Exception):
    """Root of every error the ledger raises."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one input event.

    Attributes:
        index: position of the event in the batch (0-based), or ``None``.
        line: line number in a JSON-lines input (1-based), or ``None``.
        field: dotted path of the offending field, or ``None`` for the whole event.
        reason: what is wrong, in words.
    """

    index: int | None
    line: int | None
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"event {self.index}"
        if self.field:
            where += f", field '{self.field}'"
        return f"{where}: {self.reason}"


class InvalidEventError(LedgerError):
    """A single event failed validation."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        super().__init__(str(problem))


class BatchRejectedError(LedgerError):
    """A batch had invalid events; none of the batch was written."""

    def __init__(self, problems: list[Problem], total: int) -> None:
        self.problems = problems
        self.total = total
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"rejected {total} event(s): {len(problems)} problem(s), nothing written\n{shown}{more}"
        )


class BatchTooLargeError(LedgerError):
    """A batch is larger than one append may carry; nothing of it was written.

    Attributes:
        size: how many events (or encoded bytes) the batch has.
        limit: the most one append may carry.
        unit: ``"events"`` or ``"encoded bytes"``.
    """

    def __init__(self, size: int, limit: int, unit: str) -> None:
        self.size = size
        self.limit = limit
        self.unit = unit
        name = "MAX_BATCH_EVENTS" if unit == "events" else "MAX_BATCH_BYTES"
        super().__init__(
            f"rejected a batch of {size} {unit}: one append carries at most {limit} "
            f"(ledger.{name}); nothing written — split it into several appends"
        )


class ConflictError(LedgerError):
    """A write conflicts with what is already stored."""


class VersionConflictError(ConflictError):
    """A stream was not at the version the writer expected."""

    def __init__(self, stream: str, expected_version: int, actual_version: int) -> None:
        self.stream = stream
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"stream '{stream}' is at version {actual_version}, expected {expected_version}; nothing written"
        )


class DuplicateEventError(ConflictError):
    """An event id is already stored with a different payload."""

    def __init__(
        self, event_id: UUID, offset: int, index: int | None = None, *, in_batch: bool = False
    ) -> None:
        self.event_id = event_id
        self.offset = offset
        self.index = index
        self.in_batch = in_batch
        where = f"event {index}: " if index is not None else ""
        earlier = (
            "is used by an earlier event of the same batch"
            if in_batch
            else f"is already stored at offset {offset}"
        )
        super().__init__(f"{where}event_id {event_id} {earlier} with a different payload; nothing written")


class ViewConflictError(ConflictError):
    """A projection save would not advance its recorded position (another runner got there)."""

    def __init__(self, name: str, position: int, detail: str) -> None:
        self.name = name
        self.position = position
        super().__init__(
            f"projection '{name}' cannot be saved at offset {position}: {detail}; nothing written"
        )


class BackendError(LedgerError):
    """A storage backend failed."""


class UnsupportedURLError(BackendError):
    """The ledger URL names no known backend."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"unsupported ledger URL '{url}': use memory://, sqlite:///path/to/file.db or "
            "postgresql://user@host:port/dbname, or redis://host:port/db[?prefix=name]"
        )


class InvalidURLOptionError(UnsupportedURLError):
    """A ledger URL's option (``?timeout=``, ``?ttl_days=``…) has a value the ledger cannot use.

    Attributes:
        option: the option's name.
        value: the value given.
    """

    def __init__(self, url: str, option: str, value: str, expected: str) -> None:
        self.url = url
        self.option = option
        self.value = value
        BackendError.__init__(self, f"ledger URL {url}: option '{option}' is {value!r}, expected {expected}")


class BackendUnavailableError(BackendError):
    """The database behind a ledger URL cannot be reached or opened."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot open ledger at {url}: {reason}")


class BackendSetupError(BackendUnavailableError):
    """The ledger URL cannot work on this installation: a backend's client extra is not installed,
    or a SQLite file's directory does not exist. Fixed by the caller, not by waiting (the CLI
    exits 2 for it, 3 for an unreachable server)."""


class BackendTimeoutError(BackendUnavailableError):
    """An append or read did not finish within the ledger's deadline.

    Attributes:
        operation: what was waiting (``"append"``, ``"read"``, ``"connect"``…).
        deadline: the deadline in seconds that ran out.
    """

    def __init__(self, url: str, operation: str, deadline: float, reason: str = "") -> None:
        self.operation = operation
        self.deadline = deadline
        detail = f"{operation} did not finish within its deadline of {deadline:g} s"
        self.url = url
        self.reason = f"{detail} ({reason})" if reason else detail
        BackendError.__init__(self, f"the ledger at {url}: {self.reason}")


class StorageFullError(BackendError):
    """The store refused a write for want of room; nothing of the batch was written."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"the ledger at {url} has no room for the write: {reason}; nothing written")


class LedgerLostError(BackendError):
    """The store no longer holds the ledger this handle was writing to.

    A Redis server restarted without persistence (or flushed, or evicted the keys) comes back
    empty; writing on would silently start a second ledger under the same name from offset 1.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"the ledger at {url} is gone: {reason}; acknowledged events may be lost, and nothing "
            "more is written through this handle (open the ledger again to start a new one)"
        )


class PrunedRangeError(LedgerError):
    """A fold needs events that retention removed; its result would silently lack them."""

    def __init__(self, after: int, pruned_through: int) -> None:
        self.after = after
        self.pruned_through = pruned_through
        super().__init__(
            f"events up to offset {pruned_through} were pruned (retention), so nothing can be folded "
            f"from offset {after}; load the stored projection (it kept its totals) instead of "
            "folding from the start"
        )


class LedgerClosedError(LedgerError):
    """An operation was attempted on a closed ledger."""

    def __init__(self) -> None:
        super().__init__("the ledger is closed")


class AnchorError(LedgerError):
    """An anchor file or anchor key that cannot be used: unreadable, malformed, or exposed.

    Attributes:
        path: the file.
        reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")
