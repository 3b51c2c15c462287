"""A backend's write transaction: what the commit algorithm needs inside it, and how it refuses.

:meth:`~ledger.backends.base.LedgerBackend.write` yields one; :class:`~ledger.commit.Committer`
reads the tail and versions, then inserts rows and the new head, all or nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from uuid import UUID

from ledger.backends.rows import Checkpoint, StoredId, StoredRow, Tail

__all__ = ["CommitConflictError", "DuplicateKeyError", "WriteTransaction"]


class DuplicateKeyError(Exception):
    """An insert hit a stored event id (the optimistic append retries with a lookup)."""


class CommitConflictError(Exception):
    """Another writer committed between this transaction's reads and its commit; nothing was written.

    Raised by optimistic backends (Redis) when the transaction ends; the ledger re-runs the
    whole transaction with fresh reads.
    """


class WriteTransaction(ABC):
    """Primitives used by the append algorithm inside one exclusive transaction."""

    @abstractmethod
    def existing(self, event_ids: list[UUID]) -> dict[UUID, StoredId]:
        """Return the stored events among ``event_ids``."""

    @abstractmethod
    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        """Return the current version of each stream that has events."""

    @abstractmethod
    def tail(self) -> Tail:
        """Return the last stored event's offset and chain value."""

    @abstractmethod
    def insert(self, rows: list[StoredRow]) -> None:
        """Insert rows (offsets already assigned, contiguous after the tail).

        Raises :class:`DuplicateKeyError` when an event id is already stored; the caller then
        rolls the transaction back.
        """

    @abstractmethod
    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        """Record the new head of the chain and any checkpoints crossed."""
