"""Runner locks: the one active runner of a projection holds one; a file lock serves local backends."""

from __future__ import annotations

import fcntl
import os
from abc import ABC, abstractmethod

__all__ = ["FileRunnerLock", "RunnerLock"]


class RunnerLock(ABC):
    """Held by the one active runner of a projection; released on :meth:`release`."""

    @abstractmethod
    def release(self) -> None:
        """Let another runner take over."""


class FileRunnerLock(RunnerLock):
    """An exclusive ``flock`` on a file: held per open file, so it excludes threads too."""

    def __init__(self, fd: int) -> None:
        self._fd: int | None = fd

    @classmethod
    def try_acquire(cls, path: str) -> FileRunnerLock | None:
        """Return the lock on ``path`` if no one else holds it, else ``None``."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return cls(fd)

    def release(self) -> None:
        """Unlock and close the file."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
