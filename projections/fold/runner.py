"""The runner that keeps stored projections current, exactly once, and rebuilds them.

It reads pages of events after the projections' positions, folds them, and saves each state with
its position in one transaction (the library's tracking table refuses a position that does not
advance). After a crash it resumes from the saved positions, so no event is folded twice into a
stored state. One runner per projection set is active at a time (a lock in the backend).
"""

from __future__ import annotations

import contextlib
import gc
import os
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar

from ledger import (
    SHADOW_SUFFIX,
    Ledger,
    LedgerError,
    RunnerLock,
    SavedView,
    ViewConflictError,
    shadow_name,
    take_shadow_lease,
)
from projections.fold.projection import Projection, fold_together, gc_paused

P = TypeVar("P", bound=Projection)

Progress = Callable[[int, int], None]
"""Called with (events folded so far, events to fold in all) as a run advances."""

PAUSE_ENV = "RLEDGER_REBUILD_PAUSE_AT"
"""Test hook: a rebuild reaching the step named here (see :meth:`ProjectionRunner.rebuild`)
creates the file named by ``RLEDGER_REBUILD_PAUSE_FILE`` and sleeps, to be killed there."""

LEASE_WAIT = 5.0
"""Seconds a rebuild waits for its shadow leases (a prune holds one briefly while it checks)."""


def _pause_point(step: str) -> None:
    if os.environ.get(PAUSE_ENV) == step:
        with open(os.environ["RLEDGER_REBUILD_PAUSE_FILE"], "w") as marker:
            marker.write(step)
        time.sleep(3600)


class RunnerBusyError(LedgerError):
    """Another runner is active for these projections."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(
            f"another runner is already keeping {', '.join(self.names)} current; "
            "stop it, or wait for it (--wait)"
        )


def load_stored(ledger: Ledger, projection_type: type[P], name: str | None = None) -> P:
    """Return the stored state of a projection, or a fresh one if none (or stale) is stored."""
    view = ledger.backend.load_view(name or projection_type.name)
    if view is not None:
        restored = projection_type.from_bytes(view.state)
        if restored is not None:
            return restored
    return projection_type()


def fold_range(
    ledger: Ledger,
    projections: Sequence[Projection],
    *,
    through: int | None = None,
    page_size: int = 5000,
    progress: Progress | None = None,
) -> int:
    """Fold events after each projection's position through offset ``through`` (default: the latest).

    Returns the offset every projection is now at. Reads once for all projections.
    """
    if not projections:
        return 0
    target = ledger.latest_offset() if through is None else through
    start = min(p.position for p in projections)
    if start >= target:
        for p in projections:
            p.advance_to(target)
        return target
    # A primary-key range scan of every event beats an index lookup by type: the core
    # projections want most types anyway, and unwanted ones are skipped before decoding.
    total = target - start
    for page in ledger.scan_pages(after=start, through=target, page_size=page_size):
        # Folding allocates a decoded event per row, freed by reference counting: the cyclic
        # collector finds nothing there but runs thousands of times in a large rebuild. Paused
        # per page only: reading a page can leave cycles (driver objects), and pausing across
        # the whole range let them pile up (a higher peak RSS; bench.rebuild measures it).
        with gc_paused():
            fold_together(projections, page)
        if progress is not None:
            progress(page[-1][0] - start, total)
    for p in projections:
        p.advance_to(target)
    if progress is not None:
        progress(total, total)
    return target


class ProjectionRunner:
    """Keeps a set of stored projections current on one ledger.

    Args:
        ledger: the ledger to follow.
        projection_types: the projections to keep (each stored under its ``name``).
        save_every: save states at least every this many offsets during a long catch-up.
        page_size: rows read per round trip.
    """

    def __init__(
        self,
        ledger: Ledger,
        projection_types: Sequence[type[Projection]],
        *,
        save_every: int = 100_000,
        page_size: int = 5000,
    ) -> None:
        if not projection_types:
            raise ValueError("a projection runner needs at least one projection type")
        self.ledger = ledger
        self.types = list(projection_types)
        self.save_every = save_every
        self.page_size = page_size
        self.projections: list[Projection] = []
        self._locks: list[RunnerLock] = []
        self._stop = threading.Event()

    @property
    def names(self) -> list[str]:
        """The stored names of the projections this runner keeps."""
        return [t.name for t in self.types]

    # -- lifecycle ---------------------------------------------------------------------------

    def acquire(self, *, wait: bool = False, poll: float = 0.5) -> None:
        """Become the active runner (or raise :class:`RunnerBusyError`; ``wait`` blocks)."""
        while True:
            held: list[RunnerLock] = []
            # One lock per projection, taken in name order (no deadlock between runners of
            # overlapping sets): a runner of "slo" and a runner of everything exclude each other.
            for name in sorted(self.names):
                lock = self.ledger.backend.try_lock_runner(name)
                if lock is None:
                    for taken in held:
                        taken.release()
                    held = []
                    break
                held.append(lock)
            if held:
                self._locks = held
                break
            if not wait or self._stop.wait(poll):
                raise RunnerBusyError(self.names)
        self.projections = [load_stored(self.ledger, t) for t in self.types]

    def release(self) -> None:
        """Stop being the active runner."""
        for lock in self._locks:
            lock.release()
        self._locks = []

    def stop(self) -> None:
        """Ask :meth:`follow` (or a waiting :meth:`acquire`) to return."""
        self._stop.set()

    def __enter__(self) -> ProjectionRunner:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- work --------------------------------------------------------------------------------

    def _save(
        self, projections: Sequence[Projection], *, suffix: str = "", reset: bool = False
    ) -> dict[str, str]:
        """Save each state with its position; return each projection's digest."""
        now = datetime.now(UTC)
        digests = {}
        for p in projections:
            state, digest = p.snapshot()
            self.ledger.backend.save_view(
                SavedView(p.name + suffix, p.position, state, digest, now), reset=reset
            )
            digests[p.name] = digest
        return digests

    def catch_up(self, *, progress: Progress | None = None) -> int:
        """Fold every new event into the stored projections and save them; return the position."""
        if not self._locks:
            raise RuntimeError("call acquire() (or use the runner as a context manager) first")
        self._ensure_loaded()
        saved = {p.name: p.position for p in self.projections}
        target = self.ledger.latest_offset()
        position = min((p.position for p in self.projections), default=target)
        while position < target:
            step = min(target, position + self.save_every)
            fold_range(self.ledger, self.projections, through=step, page_size=self.page_size, progress=None)
            position = step
            if progress is not None:
                progress(
                    position - min(saved.values(), default=0),
                    target - min(saved.values(), default=0),
                )
            self._save([p for p in self.projections if p.position > saved[p.name]])
            saved = {p.name: p.position for p in self.projections}
        return position

    def rebuild(self, *, progress: Progress | None = None) -> dict[str, str]:
        """Fold every projection from offset 0 into a shadow copy, then switch over.

        The stored projections keep serving until the new ones are complete; the switch
        replaces state and position together. Returns each projection's digest.
        """
        if not self._locks:
            raise RuntimeError("call acquire() (or use the runner as a context manager) first")
        # Readers keep the stored states until the switch-over; this runner's in-memory
        # copies are not needed meanwhile, and keeping them beside the fresh ones raised a
        # rebuild's peak memory (the peak RSS in bench/results/rebuild.json is measured with
        # stored states loaded). They are reloaded if the rebuild fails.
        self.projections = []
        # Each projection's handler table refers back to it (bound methods), so dropping the
        # last reference leaves a cycle only a full collection frees: do one now rather than
        # whenever the collector next runs (which left a rebuild's peak RSS to chance).
        gc.collect()
        leases = self._take_shadow_leases()
        try:
            # Shadows of an earlier rebuild of these projections that was killed: no longer
            # anyone's (this rebuild holds their leases now), and never resumed from.
            for t in self.types:
                self.ledger.backend.delete_view(shadow_name(t.name))
            _pause_point("started")
            fresh = [t() for t in self.types]
            target = self.ledger.latest_offset()
            position = 0
            first = True
            while True:
                step = min(target, position + self.save_every)
                fold_range(self.ledger, fresh, through=step, page_size=self.page_size)
                position = step
                if progress is not None:
                    progress(position, target)
                if position >= target:
                    break
                # Checkpoint the shadow so a long rebuild's progress is visible and durable.
                self._save(fresh, suffix=SHADOW_SUFFIX, reset=first)
                first = False
                _pause_point("shadow-saved")
            _pause_point("before-switch")
            digests = self._save(fresh, reset=True)
            _pause_point("switched")
        except BaseException:
            # Not switched over: carry on from the stored states. If they cannot be loaded now
            # either (the store is what failed), the next catch_up or follow loads them.
            with contextlib.suppress(Exception):
                self.projections = [load_stored(self.ledger, t) for t in self.types]
            self._drop_shadows(leases)
            raise
        self.projections = fresh  # switched over: from here on memory matches the store
        self._drop_shadows(leases)
        return digests

    def _take_shadow_leases(self) -> list[RunnerLock]:
        """Lease every shadow this rebuild writes: while held, retention counts the shadows."""
        leases: list[RunnerLock] = []
        deadline = time.monotonic() + LEASE_WAIT
        for name in sorted(self.names):
            while (lease := take_shadow_lease(self.ledger.backend, name)) is None:
                if time.monotonic() >= deadline:
                    for taken in leases:
                        taken.release()
                    raise RunnerBusyError([shadow_name(name)])
                time.sleep(0.05)
            leases.append(lease)
        return leases

    def _drop_shadows(self, leases: list[RunnerLock]) -> None:
        """Delete this rebuild's shadows (switched over, or given up), then release their leases."""
        try:
            for t in self.types:
                with contextlib.suppress(Exception):  # the store failing: the next prune clears them
                    self.ledger.backend.delete_view(shadow_name(t.name))
        finally:
            for lease in leases:
                lease.release()

    def _ensure_loaded(self) -> None:
        if not self.projections:
            self.projections = [load_stored(self.ledger, t) for t in self.types]

    def follow(
        self,
        *,
        idle_timeout: float = 1.0,
        on_batch: Callable[[int], None] | None = None,
        save_interval: float = 0.0,
    ) -> None:
        """Catch up, then keep folding new events as they arrive until :meth:`stop` is called.

        ``on_batch`` gets the saved position (what readers of the stored projections see) after
        every round. Each save writes every state whole — megabytes on a large ledger — so
        ``save_interval`` spaces saves at least that many seconds apart while events keep
        coming: folding carries on in between, and what was folded is saved once the interval
        has passed, as soon as the stream goes quiet, and on stop. Readers then lag by up to
        about the interval; with 0 (the default) every round is saved.
        """
        position = self.catch_up()  # far behind: saves every save_every offsets on the way
        saved = {p.name: p.position for p in self.projections}
        saved_at = time.monotonic()
        if on_batch is not None:
            on_batch(position)

        def unsaved() -> list[Projection]:
            return [p for p in self.projections if p.position > saved[p.name]]

        def save() -> None:
            nonlocal saved_at
            for p in unsaved():
                self._save([p])
                saved[p.name] = p.position  # per projection: a save cut short is resumed, not redone
            saved_at = time.monotonic()

        folding = False
        try:
            while not self._stop.is_set():
                due = saved_at + save_interval
                timeout = idle_timeout
                if unsaved():
                    timeout = max(0.0, min(idle_timeout, due - time.monotonic()))
                arrived = self.ledger.backend.wait_for_events(position, timeout)
                if arrived:
                    # At most save_every offsets per round, so a follower that fell far behind
                    # still saves on the way, as catch_up does.
                    through = min(self.ledger.latest_offset(), position + self.save_every)
                    folding = True
                    position = fold_range(
                        self.ledger, self.projections, through=through, page_size=self.page_size
                    )
                    folding = False
                behind = position - min(saved.values()) >= self.save_every
                if unsaved() and (not arrived or behind or time.monotonic() >= due):
                    save()
                if on_batch is not None:
                    on_batch(min(saved.values()))
        except KeyboardInterrupt:
            # Ctrl-C is how a follower is usually stopped: keep what was folded — unless it
            # struck mid-fold, when a state may hold part of a page beyond its position (saving
            # it would count those events twice after a restart; the restart folds them anew).
            if folding:
                self.projections = []  # torn: the next catch_up or follow reloads the saved ones
            else:
                with contextlib.suppress(ViewConflictError):  # Ctrl-C right after a save
                    save()
            raise
        # Stopped: keep what was folded. (After an error nothing more is written; a restart
        # folds again from the last save.)
        if unsaved():
            save()
