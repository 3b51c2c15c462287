"""A watchdog that cuts a blocked connection at its deadline.

A driver blocked reading a socket (psycopg waiting for a reply through a frozen proxy or a dead
network) has no timeout of its own; shutting the socket down wakes it with an error at once, and
the pool then discards the connection. One daemon thread serves every connection of the process:
arming and disarming are a heap push and a flag, cheap enough for every transaction.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable


class Alarm:
    """One armed deadline; :meth:`cancel` it when the guarded work finished in time.

    Attributes:
        fired: the deadline ran out and the action ran.
    """

    __slots__ = ("action", "cancelled", "fired")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        """Stop the alarm (a no-op once it fired)."""
        self.cancelled = True


class Watchdog:
    """Runs each armed action at its deadline unless cancelled first (one thread per process)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Alarm]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, action: Callable[[], None]) -> Alarm:
        """Run ``action`` at the monotonic time ``when`` unless the returned alarm is cancelled."""
        alarm = Alarm(action)
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ledger-watchdog", daemon=True)
                self._thread.start()
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (when, next(self._seq), alarm))
            if earliest is None or when < earliest:
                self._cond.notify()
        return alarm

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait(60.0)
                    continue
                when, _, alarm = self._heap[0]
                left = when - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                heapq.heappop(self._heap)
            if not alarm.cancelled:
                alarm.fired = True
                with contextlib.suppress(OSError):  # the socket was closed meanwhile
                    alarm.action()


WATCHDOG = Watchdog()
"""The process's watchdog."""


def cut_socket(fd: int) -> None:
    """Shut the socket ``fd`` down both ways (the descriptor stays open for its owner to close)."""
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.shutdown(socket.SHUT_RDWR)
    finally:
        sock.close()
