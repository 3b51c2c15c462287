"""The ``memory://`` backend: a ledger in this process's memory; nothing persists."""

from __future__ import annotations

from ledger.backends.memory.recorder import MemoryLedgerRecorder

SCHEMES = ("memory",)
"""The URL schemes this backend serves."""


def from_url(url: str, shown: str, *, create: bool = True, timeout: float = 0.0) -> MemoryLedgerRecorder:
    """Open a new, empty in-memory ledger (``memory://``; the rest of the URL is ignored).

    Args:
        url: the URL as given.
        shown: the URL with any password redacted (kept as the backend's ``url``).
        create: ignored (accepted so every backend opens alike).
        timeout: ignored (nothing here waits on a store).
    """
    del create, timeout  # always a new ledger: nothing on disk a mistyped path could create
    return MemoryLedgerRecorder(shown)


__all__ = ["SCHEMES", "MemoryLedgerRecorder", "from_url"]
