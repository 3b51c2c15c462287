"""A span as the mapping reads it: plain values, whatever wire format (protobuf or JSON) it came in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

STATUS_UNSET, STATUS_OK, STATUS_ERROR = 0, 1, 2
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SpanRecord:
    """One decoded span.

    Attributes:
        index: its position in the request, counting every span of every resource and scope.
        trace_id: 32 lower-case hex digits.
        span_id: 16 lower-case hex digits.
        parent_span_id: the parent's span id, or ``None`` for a root span.
        name: the span name (``invoke_agent planner``, ``chat gpt-4o``…).
        start_ns: start, in nanoseconds since the Unix epoch.
        end_ns: end, likewise.
        status_code: 0 unset, 1 ok, 2 error.
        status_message: the status description.
        attributes: the span's attributes (strings, numbers, booleans, lists, mappings).
        resource: the attributes of the resource that emitted it (``service.name``…).
    """

    index: int
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status_code: int = STATUS_UNSET
    status_message: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    resource: Mapping[str, Any] = field(default_factory=dict)

    @property
    def duration_ms(self) -> float:
        """How long the span took, in milliseconds (0 when its end is before its start)."""
        return max(self.end_ns - self.start_ns, 0) / 1e6


@dataclass(frozen=True)
class BadSpan:
    """A span that cannot be taken, and why (it is counted in ``partial_success.rejected_spans``)."""

    index: int
    message: str


def span_label(index: int, name: object) -> str:
    """How a rejection names a span: its position and (the start of) its name."""
    text = name if isinstance(name, str) else repr(name)
    return f"span {index} ({text[:80] + '…' if len(text) > 80 else text!r})"


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as an aware UTC datetime, exact to the microsecond."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(at: datetime) -> int:
    """An aware datetime as nanoseconds since the epoch (exact: microseconds times 1000)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
