"""What every event is: the ``LedgerEvent`` base, its field types, and the check for non-finite values.

Time: ``occurred_at`` is always timezone-aware UTC. A naive datetime is taken as UTC (the
user's guide passes ``datetime.utcnow()``), converted once here at the door.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ledger.timeutil import as_utc, new_event_id, utc_now

_FREE_FORM_FIELDS = (
    "input",
    "outcome",
    "arguments",
    "result",
    "content",
    "messages",
    "parameters",
    "response",
)


def non_finite_field(event: BaseModel) -> str | None:
    """Return the dotted path of the first non-finite float in an event's free-form fields."""
    for name in _FREE_FORM_FIELDS:
        if hasattr(event, name):
            where = _non_finite(getattr(event, name), name)
            if where is not None:
                return where
    return None


def _non_finite(value: Any, path: str) -> str | None:
    """Return the path of the first non-finite float inside a JSON-like value, if any."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _non_finite(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _utc_field(value: datetime) -> datetime:
    try:
        return as_utc(value)
    except OverflowError:
        raise ValueError("time cannot be held in UTC (out of the representable range)") from None


UTCDateTime = Annotated[datetime, AfterValidator(_utc_field)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Mode = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Confidence = Literal["verified", "claimed", "inferred"]


class Redaction(BaseModel):
    """What was redacted from an event before it was stored, and how (never the value).

    Attributes:
        path: where the value was, from the event's top (``arguments.password``, ``result[2]``).
        action: ``drop`` (removed), ``mask`` (replaced by a marker) or ``hash`` (a keyed hash).
        kind: whether a field ``rule`` or a text ``detector`` redacted it.
        by: the rule's or detector's name (``rule[0]``, ``email``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    action: Literal["drop", "mask", "hash"]
    kind: Literal["rule", "detector"]
    by: Name


def _no_redactions(value: tuple[Redaction, ...]) -> bool:
    return not value


def _is_none(value: object) -> bool:
    return value is None


class LedgerEvent(BaseModel):
    """Fields every event carries.

    Attributes:
        event_id: the idempotency key; generated when absent.
        occurred_at: when it happened (aware UTC; defaults to now).
        workflow_id: the workflow (run) it belongs to, if any; its stream.
        agent: the agent that did or reported it, if any.
        redactions: what a redaction policy removed or replaced before it was stored (see
            :mod:`ledger.redaction`); left out of the stored form when empty.
        subject: the data subject it is about, if any (a customer, a user): its free-form fields
            are then stored encrypted with that subject's key, and the subject as a keyed
            pseudonym (see :mod:`ledger.keys`); ``rledger forget`` erases them.
    """

    # JSON has no Infinity or NaN: typed numbers refuse them here; free-form values encode them
    # as bare tokens, which the codec detects and refuses (never stored as something else).
    model_config = ConfigDict(
        frozen=True, extra="forbid", strict=False, allow_inf_nan=False, ser_json_inf_nan="constants"
    )

    event_id: UUID = Field(default_factory=new_event_id)
    occurred_at: UTCDateTime = Field(default_factory=utc_now)
    workflow_id: Name | None = None
    agent: Name | None = None
    # Not stored while empty: an event no policy touched encodes byte for byte as before.
    redactions: tuple[Redaction, ...] = Field(default=(), exclude_if=_no_redactions)
    # Added after events were stored: left out while unset, so an event without a subject
    # encodes (and chains) byte for byte as before.
    subject: Name | None = Field(default=None, exclude_if=_is_none)

    # Every instance is a validated one: the two pydantic routes around validation validate
    # here, so the ledger can store any instance without checking that it reads back.
    @classmethod
    def model_construct(cls, _fields_set: set[str] | None = None, **values: Any) -> Self:  # type: ignore[override]
        """Build an event from values — validated (events are never built unchecked)."""
        return cls.model_validate(values)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """Return a copy; an ``update`` is validated like any new event."""
        if not update:
            return self  # frozen: a copy would be indistinguishable
        return self.model_validate({**self.model_dump(), **update})

    @property
    def stream(self) -> str:
        """Return the stream of this event: its workflow, else its agent, else ``ledger``."""
        if self.workflow_id is not None:
            return f"wf:{self.workflow_id}"
        if self.agent is not None:
            return f"agent:{self.agent}"
        return "ledger"
