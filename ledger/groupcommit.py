"""Group commit: one writer thread that commits concurrent async appends in shared transactions.

Each caller of :meth:`ledger.Ledger.append_async` validates its events in its own event
loop, queues them, and awaits a future; the writer takes everything queued (after a short
linger for the callers its last commit resumed), commits it in one transaction, and resolves
each future with that caller's own result once the commit is durable — in one hand-off per
event loop.

Every caller has its deadline (the backend's, from when it queued): the shared transaction must
finish by the earliest one (:func:`ledger.deadline.until`), so no caller waits on the store
longer than its deadline, however long it queued. When the shared transaction fails because of
the store (unreachable, timed out, full: a :class:`~ledger.errors.BackendError`) every caller of
it gets that error at once — retrying them one by one would make the last wait for all the
others' timeouts. When it fails because of one batch (a version conflict, a conflicting
duplicate), each batch is retried alone within its own deadline, so only its caller sees the
error.

The writer is given what it calls: a :class:`~ledger.commit.Committer` and the ledger's
after-commit hook (the retention sweep); it knows nothing else of the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from ledger.batch import AppendResult, PreparedBatch
from ledger.commit import Committer
from ledger.errors import BackendError, LedgerClosedError

_log = logging.getLogger(__name__)


class GroupCommitter:
    """One writer thread that commits queued async batches together (group commit)."""

    MAX_EVENTS_PER_TRANSACTION = 5000
    LINGER_SECONDS = 0.0005
    """After waking, wait up to this long for more callers before committing: producers that
    were just resolved are re-submitting, and a short wait lets them share the next transaction
    (longer waits cost more than they gained in ``bench.ingest``'s concurrent case; results in
    bench/results/ingest.json). The wait ends early once as many callers are
    queued as the last commit served, so a lone caller never waits at all."""

    def __init__(self, committer: Committer, after_commit: Callable[[], None]) -> None:
        self._committer = committer
        self._after_commit = after_commit
        self._queue: deque[_Queued] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._last_callers = 0
        self._thread = threading.Thread(target=self._run, name="ledger-group-commit", daemon=True)
        self._thread.start()

    def submit(self, prepared: PreparedBatch, future: asyncio.Future[AppendResult]) -> None:
        """Queue a batch; ``future`` resolves (in its own loop) once it is committed or failed.

        Raises:
            LedgerClosedError: the writer is stopping.
        """
        with self._cond:
            if self._stopping:
                raise LedgerClosedError
            self._queue.append((prepared, future, time.monotonic() + self._committer.backend.timeout))
            self._cond.notify()

    def stop(self) -> None:
        """Commit what is queued, then end the writer thread (waits for it)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        self._thread.join()

    def _take(self) -> list[_Queued]:
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._stopping:
                # Linger for the callers the last commit resumed: they are re-submitting now.
                # Stop as soon as as many callers are queued as that commit served (or after
                # the linger), so the transaction carries them all without idling longer.
                deadline = time.monotonic() + self.LINGER_SECONDS
                while len(self._queue) < self._last_callers and not self._stopping:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._cond.wait(left):
                        break
            taken: list[_Queued] = []
            count = 0
            while self._queue and (
                not taken or count + len(self._queue[0][0].events) <= self.MAX_EVENTS_PER_TRANSACTION
            ):
                item = self._queue.popleft()
                taken.append(item)
                count += len(item[0].events)
            self._last_callers = len(taken)
            return taken

    def _run(self) -> None:
        while True:
            taken = self._take()
            if not taken:
                return
            outcomes = self._commit(taken)
            # A due retention sweep runs before the callers resume, as it does for a plain
            # append: it sees the clock of this commit, and callers see the ledger it leaves.
            # Their events are committed whatever the sweep does: a failing sweep is logged,
            # never allowed to end this thread (every later await would then hang forever).
            try:
                self._after_commit()
            except Exception:
                _log.exception("retention sweep after a group commit failed; the commit stands")
            # One hand-off per event loop, not per caller: each call_soon_threadsafe wakes
            # the loop through its self-pipe (a system call), 64 of them per commit at 64
            # producers.
            by_loop: dict[asyncio.AbstractEventLoop, list[_Settlement]] = {}
            for (_, future, _), (result, error) in zip(taken, outcomes, strict=True):
                by_loop.setdefault(future.get_loop(), []).append((future, result, error))
            for loop, settlements in by_loop.items():
                if not loop.is_closed():
                    with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                        loop.call_soon_threadsafe(_settle, settlements)

    def _commit(self, taken: list[_Queued]) -> list[_Outcome]:
        """Commit the taken batches together by the earliest deadline; each caller's outcome."""
        try:
            results = self._committer.commit([p for p, _, _ in taken], until=min(d for _, _, d in taken))
            return [(r, None) for r in results]
        except BackendError as exc:
            # The store failed (or the deadline ran out): every caller shares that fate, now.
            return [(None, exc) for _ in taken]
        except Exception:
            # One batch may be at fault (a version conflict, a conflicting duplicate):
            # commit each on its own so only the offending caller sees the error.
            outcomes: list[_Outcome] = []
            for prepared, _, until in taken:
                try:
                    (alone,) = self._committer.commit([prepared], until=until)
                except Exception as exc:
                    outcomes.append((None, exc))
                else:
                    outcomes.append((alone, None))
            return outcomes


_Queued = tuple[PreparedBatch, "asyncio.Future[AppendResult]", float]
"""A queued batch, its caller's future and its deadline (monotonic)."""
_Outcome = tuple["AppendResult | None", "BaseException | None"]
_Settlement = tuple["asyncio.Future[AppendResult]", "AppendResult | None", "BaseException | None"]


def _settle(settlements: list[_Settlement]) -> None:
    """Resolve futures in their loop's thread (a cancelled caller is skipped).

    ``done()``, not ``cancelled()``: setting a result on a finished future raises, and that
    would leave every caller after it in this hand-off unresolved.
    """
    for future, result, error in settlements:
        if future.done():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]
