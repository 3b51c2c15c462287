"""The API's one error shape, ``{"error": …, "problems": [{"index", "field", "message"}]}``, and its statuses.

Handlers raise :class:`ApiError`; the ledger's own errors are mapped to a status here, once, so
every endpoint answers the same error the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger import (
    BackendUnavailableError,
    BatchRejectedError,
    ConflictError,
    DuplicateEventError,
    LedgerError,
    LedgerLostError,
    PrivacyError,
    PrunedRangeError,
    StorageFullError,
    VersionConflictError,
)

__all__ = ["ApiError", "ApiProblem", "error_body", "from_ledger_error"]


@dataclass(frozen=True)
class ApiProblem:
    """One thing wrong with a request: which event (index, or NDJSON line), which field, why."""

    message: str
    index: int | None = None
    field: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The problem as the API writes it (``line`` only for NDJSON input)."""
        out: dict[str, Any] = {"index": self.index, "field": self.field, "message": self.message}
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass
class ApiError(Exception):
    """An answer other than success: its status, a sentence, and the problems found."""

    status: int
    error: str
    problems: Sequence[ApiProblem] = field(default_factory=tuple)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.status}: {self.error}"


def error_body(error: str, problems: Sequence[ApiProblem] = ()) -> bytes:
    """The JSON body of an error answer."""
    return orjson.dumps({"error": error, "problems": [p.to_json() for p in problems]})


def from_ledger_error(exc: LedgerError) -> ApiError:
    """The answer for an error the ledger raised (a bad batch, a conflict, a store down)."""
    if isinstance(exc, BatchRejectedError):
        problems = [
            ApiProblem(
                message=p.reason,
                index=p.index if p.index is not None else (p.line - 1 if p.line is not None else None),
                field=p.field,
                line=p.line,
            )
            for p in exc.problems
        ]
        return ApiError(
            422, f"rejected {exc.total} event(s): {len(problems)} problem(s), nothing written", problems
        )
    if isinstance(exc, VersionConflictError):
        return ApiError(409, str(exc), [ApiProblem(message=str(exc), field="expected_version")])
    if isinstance(exc, DuplicateEventError):
        return ApiError(409, str(exc), [ApiProblem(message=str(exc), index=exc.index, field="event_id")])
    if isinstance(exc, ConflictError | PrunedRangeError):
        return ApiError(409, str(exc))
    if isinstance(exc, PrivacyError):  # no master key, or no key store: this ledger cannot protect it
        return ApiError(422, str(exc))
    if isinstance(exc, StorageFullError):
        return ApiError(507, str(exc))
    if isinstance(exc, BackendUnavailableError | LedgerLostError):
        return ApiError(503, str(exc), headers={"Retry-After": "1"})
    return ApiError(500, f"{type(exc).__name__}: {exc}")
