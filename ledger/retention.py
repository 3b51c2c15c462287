"""Retention: remove events older than a horizon, lazily, never ahead of the stored projections.

A ledger given a :class:`RetentionPolicy` sweeps after an append once the policy's interval has
passed on the ledger's own clock (so tests move a clock instead of sleeping). A sweep first runs
the policy's ``prepare`` hook — typically: bring the stored projections up to date — then prunes
what is older than ``ttl`` and folded by every stored projection (:func:`ledger.backends.pruning.plan_prune`).

It works on anything :class:`Prunable` (the :class:`ledger.Ledger` is), so this module needs
nothing from the ledger but that interface.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

from ledger.backends.pruning import PruneResult

log = logging.getLogger(__name__)


class Prunable(Protocol):
    """What a sweep needs of a ledger: its URL (for the log) and :meth:`ledger.Ledger.prune`."""

    @property
    def url(self) -> str:
        """The ledger's URL (password redacted)."""
        ...

    def prune(self, before: datetime, *, force: bool = False) -> PruneResult:
        """Remove the events recorded before ``before`` that every stored projection has folded."""
        ...


L = TypeVar("L", bound=Prunable)


@dataclass(frozen=True)
class RetentionPolicy(Generic[L]):
    """How long events are kept, and how often that is enforced.

    Attributes:
        ttl: events recorded longer ago than this are removed (once every stored projection
            has folded them).
        every: sweep at most this often (on the ledger's clock).
        prepare: run before each sweep, e.g. to fold new events into the stored projections so
            that the sweep may remove them.
    """

    ttl: timedelta
    every: timedelta = timedelta(hours=1)
    prepare: Callable[[L], None] | None = None

    def __post_init__(self) -> None:
        if self.ttl <= timedelta(0):
            raise ValueError(f"a retention ttl must be positive, got {self.ttl}")


class RetentionSweeper(Generic[L]):
    """Runs a policy's sweeps for one ledger: at most one at a time, at most once per interval.

    Attributes:
        last: what the latest sweep pruned (``None`` before the first).
        last_error: the latest sweep's failure, if it failed (appends never fail because of it).
    """

    def __init__(self, policy: RetentionPolicy[L]) -> None:
        self.policy = policy
        self.last: PruneResult | None = None
        self.last_error: Exception | None = None
        self._next_at: datetime | None = None
        self._running = threading.Lock()

    def sweep(self, ledger: L, now: datetime) -> PruneResult:
        """Prepare, then prune everything older than ``now - ttl`` that may go."""
        self._next_at = now + self.policy.every
        if self.policy.prepare is not None:
            self.policy.prepare(ledger)
        self.last = ledger.prune(now - self.policy.ttl)
        self.last_error = None
        return self.last

    def maybe_sweep(self, ledger: L, now: datetime) -> None:
        """Sweep if one is due and none is running; a failure is kept and logged, not raised.

        The append that triggered the sweep has already committed: failing it now would make
        its caller retry an append that succeeded.
        """
        if self._next_at is not None and now < self._next_at:
            return
        if not self._running.acquire(blocking=False):
            return
        try:
            self.sweep(ledger, now)
        except Exception as exc:
            self.last_error = exc
            log.warning("retention sweep on %s failed: %s", ledger.url, exc)
        finally:
            self._running.release()
