"""PostgreSQL connections with a deadline: pooled, checked, cut when they block too long.

Every connection the ledger takes comes from :meth:`LedgerDatastore.get_connection`, which

- waits for a pooled connection no longer than the deadline (a server that cannot be reached
  is a :class:`~ledger.errors.BackendTimeoutError` after the deadline, not a 30 s pool wait);
- checks a pooled connection before using it: an idle connection the server wrote to was
  almost always closed by it (a reset, a restart, a killed proxy), and a round trip tells — so a
  dead connection is discarded instead of failing the caller (a live one costs nothing);
- arms the process's :data:`~ledger.backends.watchdog.WATCHDOG`, which shuts the socket down
  when the deadline runs out: libpq has no read timeout, and a reply lost in a frozen network
  would otherwise block the caller for good;
- translates every driver error into the ledger's error tree (:func:`translate`).

The server is told the same deadline (``statement_timeout``, ``lock_timeout``,
``idle_in_transaction_session_timeout``) so it drops work the client gave up on, and TCP
keepalives with ``tcp_user_timeout`` find a peer that vanished.
"""

from __future__ import annotations

import contextlib
import math
import select
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg.errors
from eventsourcing.postgres import ConnectionPool, PostgresDatastore
from psycopg import Connection
from psycopg.pq import ConnStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import PoolTimeout

from ledger import deadline
from ledger.backends.watchdog import WATCHDOG, cut_socket
from ledger.errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    LedgerError,
    StorageFullError,
)


def connect_options(timeout: float) -> dict[str, Any]:
    """libpq parameters that bound every wait of a connection by ``timeout`` seconds."""
    ms = max(1, int(timeout * 1000))
    return {
        # libpq counts whole seconds and takes 2 as its least; the pool's wait is exact.
        "connect_timeout": max(2, math.ceil(timeout)),
        "keepalives": 1,
        "keepalives_idle": max(1, int(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 3,
        "tcp_user_timeout": ms,
        "options": (
            f"-c statement_timeout={ms} -c lock_timeout={ms} -c idle_in_transaction_session_timeout={ms}"
        ),
    }


def translate(exc: BaseException, url: str, operation: str, timeout: float, *, cut: bool) -> LedgerError:
    """The ledger error for a driver error (``cut``: the watchdog shut the socket at the deadline)."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if cut:
        return BackendTimeoutError(
            url, operation, timeout, "no reply from the server; the connection was cut"
        )
    if isinstance(exc, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable | PoolTimeout):
        return BackendTimeoutError(url, operation, timeout, reason)
    if isinstance(exc, psycopg.errors.DiskFull | psycopg.errors.OutOfMemory):
        return StorageFullError(url, reason)
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        return BackendUnavailableError(url, reason)
    return BackendError(f"PostgreSQL refused an operation of the ledger at {url}: {reason}")


def _cut(conn: Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error, OSError):
        cut_socket(conn.pgconn.socket)


def _alive(conn: Connection[Any], when: float) -> bool:
    """Whether a pooled connection still works (a round trip only if the server wrote to it)."""
    if conn.closed or conn.pgconn.status != ConnStatus.OK:
        return False
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if not readable:
        return True  # nothing arrived on an idle connection: the usual case, no round trip
    alarm = WATCHDOG.arm(when, lambda: _cut(conn))
    try:
        conn.execute("")
    except psycopg.Error:
        return False
    finally:
        alarm.cancel()
    return True


class LedgerDatastore(PostgresDatastore):
    """The library's datastore with the ledger's own pool and a deadline on every connection.

    The library's insert function and its composite type are never created here (the ledger
    inserts by ``COPY``), so there are no type adapters to look up — and looking up an absent
    type in a schema whose name needs quoting fails.
    """

    def __init__(
        self,
        *,
        dbname: str,
        host: str,
        port: int,
        user: str,
        password: str,
        pool_size: int,
        max_overflow: int,
        schema: str,
        timeout: float,
        url: str,
    ) -> None:
        super().__init__(
            dbname=dbname,
            host=host,
            port=port,
            user=user,
            password=password,
            pool_size=pool_size,
            max_overflow=max_overflow,
            schema=schema,
            connect_timeout=timeout,
            idle_in_transaction_session_timeout=timeout,
        )
        self.timeout = timeout
        self.url = url
        # The library's pool is never opened; this one checks connections and bounds waits.
        self.pool = ConnectionPool(
            connection_class=Connection[DictRow],
            kwargs={
                "dbname": dbname,
                "host": host,
                "port": port,
                "user": user,
                "password": password,
                "row_factory": dict_row,
                **connect_options(timeout),
            },
            min_size=pool_size,
            max_size=pool_size + max_overflow,
            open=False,
            configure=self.after_connect_func(),
            timeout=timeout,
            max_lifetime=60 * 60.0,
        )

    def register_type_adapters(self) -> None:
        """Nothing to register."""

    @contextmanager
    def get_connection(self, operation: str = "read") -> Iterator[Connection[DictRow]]:
        """Yield a checked pooled connection, cut if ``operation`` outlives the deadline.

        Raises:
            BackendTimeoutError: no connection in time, or the operation outlived the deadline.
            BackendUnavailableError: the server closed the connection or cannot be reached.
            StorageFullError: the server is out of disk.
        """
        left = deadline.remaining(self.timeout)
        if left <= 0:
            raise BackendTimeoutError(self.url, operation, self.timeout, "no time left before it began")
        when = time.monotonic() + left
        self.pool.open(wait=False)
        while True:
            try:
                conn = self.pool.getconn(timeout=max(0.0, when - time.monotonic()))
            except psycopg.Error as exc:
                raise translate(exc, self.url, operation, self.timeout, cut=False) from exc
            if _alive(conn, when):
                break
            # Dead (reset, restarted server, killed proxy): discard it and take another.
            conn.close()
            self.pool.putconn(conn)
        alarm = WATCHDOG.arm(when, lambda: _cut(conn))
        try:
            yield conn
        except psycopg.Error as exc:
            raise translate(exc, self.url, operation, self.timeout, cut=alarm.fired) from exc
        finally:
            alarm.cancel()
            self.pool.putconn(conn)
