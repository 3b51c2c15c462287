"""What a replay found: its mode, the differences from the recording, and the frozen result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import orjson

from ledger import LedgerError
from replay.redacted import NotComparable
from replay.values import to_json_value

Significance = Literal["critical", "minor", "expected"]


class ReplayMode(StrEnum):
    """The three ways to re-run a recorded workflow."""

    STRICT = "strict"
    SIMULATED = "simulated"
    COUNTERFACTUAL = "counterfactual"


@dataclass(frozen=True)
class Difference:
    """One way a replay differs from the recording.

    Attributes:
        field: what differs: ``tool``, ``arguments``, ``result``, ``error``, ``call``,
            ``outcome`` or ``success``.
        location: where: ``call 3`` (the ordinal) or ``outcome``.
        significance: ``critical``, ``minor`` or ``expected``.
        original: the recorded value.
        replayed: the replayed value.
        call_index: the tool call's ordinal, if the difference is in a call.
        description: the difference in words.
    """

    field: str
    location: str
    significance: Significance
    original: Any
    replayed: Any
    call_index: int | None
    description: str


class ReplayDivergedError(LedgerError):
    """Raised by a replay asked to raise on divergence."""

    def __init__(self, result: ReplayResult) -> None:
        self.result = result
        first = result.first_divergence
        super().__init__(
            f"{result.mode} replay of '{result.original_workflow_id}' diverged"
            + (f" at {first.location}: {first.description}" if first else "")
        )


@dataclass(frozen=True)
class ReplayResult:
    """What a replay found; frozen."""

    mode: ReplayMode
    original_workflow_id: str
    replay_workflow_id: str
    success: bool
    completed: bool
    outcome: Any
    original_outcome: Any
    differences: tuple[Difference, ...]
    duration_ms: float
    error: str | None = None
    deltas: Mapping[str, Any] = field(default_factory=dict)
    not_comparable: tuple[NotComparable, ...] = ()
    """Values the recording holds redacted, left out of the comparison (``replay.redacted``)."""

    @property
    def first_divergence(self) -> Difference | None:
        """The first difference that is not expected (by ordinal, the outcome last)."""
        return next((d for d in self.differences if d.significance != "expected"), None)

    @property
    def critical_differences(self) -> list[Difference]:
        """The differences that make a strict or simulated replay fail."""
        return [d for d in self.differences if d.significance == "critical"]

    def is_exact_match(self) -> bool:
        """True when nothing at all differs (not even a minor tool result) and nothing was left
        uncompared: a redacted value that could not be compared is never called a match."""
        return not self.differences and not self.not_comparable

    def raise_if_diverged(self) -> ReplayResult:
        """Raise :class:`ReplayDivergedError` unless the replay succeeded; else return self."""
        if not self.success:
            raise ReplayDivergedError(self)
        return self

    @property
    def outcome_changed(self) -> bool:
        """Whether the replay's outcome differs from the recording's."""
        return bool(live_json(self.outcome) != stored_json(self.original_outcome))


def stored_json(value: Any) -> Any:
    """The JSON form of a stored value (tuples become lists, and so on)."""
    return orjson.loads(orjson.dumps(value, default=str))


def live_json(value: Any) -> Any:
    """The JSON form a live value is stored in (marked where it has none: ``replay.values``)."""
    return stored_json(to_json_value(value))
