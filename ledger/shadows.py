"""Shadow copies of a rebuild, and the lease that tells a live one from one a killed rebuild left.

A rebuild folds from offset 0 into shadow views (``<name>#shadow``) and switches over when done;
while it runs, a shadow's position must hold retention back (it still needs the events after
it). The rebuild holds a *lease* on each of its shadows — a runner lock named like the view,
which the backend releases when its holder dies (a file lock, a session advisory lock, an
expiring Redis key) — so a shadow whose lease can be taken belongs to no running rebuild: it is
stale. :func:`clear_stale_shadows` deletes those; every prune runs it first, and the next
rebuild of the same projection deletes its own, so a killed rebuild never blocks retention.
"""

from __future__ import annotations

from ledger.backends.base import LedgerBackend
from ledger.backends.locks import RunnerLock

SHADOW_SUFFIX = "#shadow"
"""Appended to a projection's name for its rebuild's shadow copy."""


def shadow_name(name: str) -> str:
    """The name of the shadow copy of projection ``name``."""
    return name + SHADOW_SUFFIX


def take_shadow_lease(backend: LedgerBackend, name: str) -> RunnerLock | None:
    """Take the lease on projection ``name``'s shadow (``None``: a live rebuild holds it)."""
    return backend.try_lock_runner(shadow_name(name))


def clear_stale_shadows(backend: LedgerBackend) -> list[str]:
    """Delete every shadow view whose rebuild is no longer running; return their names."""
    cleared = []
    for view in backend.view_names():
        if not view.endswith(SHADOW_SUFFIX):
            continue
        lease = backend.try_lock_runner(view)
        if lease is None:
            continue  # a rebuild is running: its shadow counts
        try:
            backend.delete_view(view)
            cleared.append(view)
        finally:
            lease.release()
    return cleared


__all__ = ["SHADOW_SUFFIX", "clear_stale_shadows", "shadow_name", "take_shadow_lease"]
