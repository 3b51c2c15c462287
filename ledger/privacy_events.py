"""The crypto-shredding event: a data subject was forgotten (its keys destroyed).

A sibling of :mod:`ledger.events` (which puts it in the ``Event`` union). It holds no personal
data: the subject is named by its keyed pseudonym (``sub:`` + 32 hex digits, as its events
store it), never by the id it was given as.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, NonNegativeInt, model_validator

from ledger.event_base import LedgerEvent, Name


class SubjectForgotten(LedgerEvent):
    """A subject's data keys were destroyed: its events' encrypted fields now read as erased.

    Attributes:
        subject_ref: the subject's pseudonym (what its events store as ``subject``).
        by: who asked for it (an operator, a token's name), if known.
        reason: why (a request reference, "retention", …).
        keys_destroyed: how many keys were destroyed (0: none were left, e.g. a second forget).
    """

    type: Literal["SubjectForgotten"] = "SubjectForgotten"
    subject_ref: Name
    by: Name | None = None
    reason: str = Field(min_length=1, max_length=1024)
    keys_destroyed: NonNegativeInt = 0

    @model_validator(mode="after")
    def _names_no_subject(self) -> SubjectForgotten:
        if self.subject is not None:
            raise ValueError("a SubjectForgotten names its subject by subject_ref only, not 'subject'")
        return self

    @property
    def stream(self) -> str:
        """Forget records have their own stream: they belong to no workflow."""
        return "privacy"


__all__ = ["SubjectForgotten"]
