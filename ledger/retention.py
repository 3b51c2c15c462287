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
from collections.abc import Callable, Mapping
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

    def expire_fields(self, now: datetime) -> int:
        """Erase (by destroying their keys) the sealed fields past their horizon; return keys destroyed."""
        ...


L = TypeVar("L", bound=Prunable)


@dataclass(frozen=True)
class RetentionPolicy(Generic[L]):
    """How long events are kept, and how often that is enforced.

    Attributes:
        ttl: events recorded longer ago than this are removed (once every stored projection
            has folded them); ``None``: events are kept whole.
        every: sweep at most this often (on the ledger's clock).
        prepare: run before each sweep, e.g. to fold new events into the stored projections so
            that the sweep may remove them.
        fields: retention by field, ``"Type"`` or ``"Type.field"`` → horizon (whole days): the
            sealed fields of events about a subject are erased by shredding after it (see
            :mod:`ledger.keys`).
    """

    ttl: timedelta | None
    every: timedelta = timedelta(hours=1)
    prepare: Callable[[L], None] | None = None
    fields: Mapping[str, timedelta] | None = None

    def __post_init__(self) -> None:
        if self.ttl is not None and self.ttl <= timedelta(0):
            raise ValueError(f"a retention ttl must be positive, got {self.ttl}")
        for spec, horizon in (self.fields or {}).items():
            if horizon <= timedelta(0) or horizon % timedelta(days=1):
                raise ValueError(f"a field horizon is a positive whole number of days, {spec} has {horizon}")
        if self.ttl is None and not self.fields:
            raise ValueError("a retention policy needs a ttl or field horizons")


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

    def sweep(self, ledger: L, now: datetime) -> PruneResult | None:
        """Erase sealed fields past their horizons; prepare, then prune everything older than
        ``now - ttl`` that may go (``None`` without a ttl)."""
        self._next_at = now + self.policy.every
        if self.policy.fields:
            ledger.expire_fields(now)
        if self.policy.ttl is not None:
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
