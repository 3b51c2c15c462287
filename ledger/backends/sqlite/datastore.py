"""The SQLite datastore of a ledger: the deadline as the busy timeout, driver errors translated.

Every connection of a SQLite ledger comes from :meth:`LedgerSQLiteDatastore.get_connection`, so
this is the one seam where ``sqlite3`` (and the library's wrappers of it) meet the ledger's
error tree: a full disk or a database over its size limit is
:class:`~ledger.errors.StorageFullError`, a lock not granted within the deadline (another process
writing) :class:`~ledger.errors.BackendTimeoutError`, a file that cannot be read
:class:`~ledger.errors.BackendUnavailableError`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing.persistence import ConnectionUnavailableError, IntegrityError, PersistenceError
from eventsourcing.sqlite import SQLiteConnection, SQLiteDatastore

from ledger.errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    LedgerError,
    StorageFullError,
)

_FULL = (sqlite3.SQLITE_FULL,)
_BUSY = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def translate(exc: BaseException, url: str, operation: str, timeout: float) -> LedgerError:
    """The ledger error for a ``sqlite3`` error (or the library's wrapper of one)."""
    cause = exc if isinstance(exc, sqlite3.Error) else exc.__cause__
    reason = (str(cause or exc).strip().splitlines() or [type(exc).__name__])[0]
    code = getattr(cause, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in _FULL or "database or disk is full" in reason:
        return StorageFullError(url, reason)
    if primary in _BUSY or "database is locked" in reason or isinstance(exc, ConnectionUnavailableError):
        return BackendTimeoutError(url, operation, timeout, reason)
    if isinstance(cause, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
        cause, sqlite3.IntegrityError | sqlite3.DataError
    ):
        return BackendUnavailableError(url, reason)
    return BackendError(f"SQLite refused an operation of the ledger at {url}: {reason}")


class LedgerSQLiteDatastore(SQLiteDatastore):
    """The library's SQLite datastore, waiting for the file's lock no longer than the deadline."""

    def __init__(self, db_name: str, *, timeout: float, url: str) -> None:
        # sqlite3's timeout (the busy timeout) is a float of seconds, whatever the hint says.
        super().__init__(db_name=db_name, lock_timeout=timeout, pool_timeout=timeout)  # type: ignore[arg-type]
        self.timeout = timeout
        self.url = url

    @contextmanager
    def get_connection(self, *, commit: bool) -> Iterator[SQLiteConnection]:
        """Yield a pooled connection; any driver error leaves as the ledger's own.

        Raises:
            StorageFullError: the disk (or the database's page limit) is full.
            BackendTimeoutError: the lock was not granted within the deadline.
            BackendUnavailableError: the file cannot be read or written.
        """
        try:
            with super().get_connection(commit=commit) as conn:
                yield conn
        except (sqlite3.IntegrityError, IntegrityError):
            raise  # the library's tracking API refuses a position this way; callers handle it
        except (sqlite3.Error, PersistenceError) as exc:
            raise translate(exc, self.url, "write" if commit else "read", self.timeout) from exc
