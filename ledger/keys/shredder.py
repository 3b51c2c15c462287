"""Forgetting a data subject: destroy its keys, then record a :class:`~ledger.SubjectForgotten`.

Destroying is O(the subject's keys): one ``DELETE`` of its key rows, no event rewritten. The
events stay in the chain as they were (ciphertext), so ``verify`` passes before and after,
and every projection folds the same bytes to the same digests; only the sealed fields read
as erased from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ledger.keys.errors import MasterKeyError
from ledger.keys.master import ENV_KEY, is_pseudonym

if TYPE_CHECKING:
    from ledger.store import Ledger


@dataclass(frozen=True)
class ForgetResult:
    """What a forget did.

    Attributes:
        subject_ref: the subject's pseudonym (what its events and the record name it by).
        keys_destroyed: how many keys were destroyed (0: none were left).
        offset: the offset of the ``SubjectForgotten`` event recorded.
    """

    subject_ref: str
    keys_destroyed: int
    offset: int


def forget(ledger: Ledger, subject: str, *, reason: str, by: str | None = None) -> ForgetResult:
    """Destroy every key of ``subject`` and record it; its events' sealed fields read as erased.

    ``subject`` is the id events were appended with, or its pseudonym (``sub:…``, as events
    read back show it).

    Raises:
        MasterKeyError: ``subject`` is not a pseudonym and no master key is set.
        SubjectsUnsupportedError: the backend keeps no subject keys.
        BatchRejectedError: ``reason`` or ``by`` is not valid (nothing destroyed).
    """
    from ledger.codec import validate_one
    from ledger.errors import BatchRejectedError, Problem
    from ledger.privacy_events import SubjectForgotten

    problem = _subject_problem(subject)
    if problem is not None:
        raise BatchRejectedError([Problem(None, None, "subject", problem)], 1)
    envelope = ledger.envelope
    if is_pseudonym(subject):
        ref = subject
    elif envelope.master is None:
        raise MasterKeyError(f"${ENV_KEY}", "none is set: a subject's stored name is made with it")
    else:
        ref = envelope.master.pseudonym(subject)
    # Checked before anything is destroyed: a bad reason must not leave keys gone unrecorded.
    record = {"type": "SubjectForgotten", "subject_ref": ref, "by": by, "reason": reason}
    event, problems = validate_one(record)
    if event is None:
        raise BatchRejectedError(problems, 1)
    destroyed = envelope.destroy_subject(ref)
    assert isinstance(event, SubjectForgotten)
    result = ledger.append(event.model_copy(update={"keys_destroyed": destroyed}))
    return ForgetResult(ref, destroyed, result.offsets[0])


def _subject_problem(subject: str) -> str | None:
    """What is wrong with a subject id to forget, if anything (the rules of an event's ``subject``)."""
    if not 1 <= len(subject) <= 256:
        return f"a subject is 1 to 256 characters, got {len(subject)}"
    try:
        subject.encode()
    except UnicodeEncodeError:
        return "text that is not valid Unicode (a lone surrogate) cannot be a subject"
    return None


__all__ = ["ForgetResult", "forget"]
