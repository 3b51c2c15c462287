"""The one error a back-test raises for input it cannot answer: what was wrong, with what, and why."""

from __future__ import annotations

from collections.abc import Iterable

from ledger import LedgerError


class BacktestError(LedgerError):
    """A back-test's input names something the ledger lacks, or is malformed.

    Never an empty result that reads as "nothing would have happened": an unknown breaker,
    budget or metric, a parameter a component does not have, a malformed range or a window
    with no events is this error, naming it (``rledger backtest`` exits 2 on it).

    Attributes:
        subject: what kind of thing was wrong (``breaker``, ``budget``, ``metric``,
            ``parameter``, ``range``, ``window``, ``incidents``, ``mode``, ``sweep``).
        name: the offending name or text.
        reason: why, in words.
        known: the names that would have been accepted (empty when that is not a list).
    """

    def __init__(self, subject: str, name: str, reason: str, known: Iterable[str] = ()) -> None:
        self.subject = subject
        self.name = name
        self.reason = reason
        self.known = tuple(sorted(known))
        message = f"{subject} '{name}': {reason}" if name else f"{subject}: {reason}"
        if self.known:
            shown = ", ".join(self.known[:20]) + (", …" if len(self.known) > 20 else "")
            message += f" (known: {shown})"
        super().__init__(message)
