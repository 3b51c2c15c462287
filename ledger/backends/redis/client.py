"""The Redis client of a ledger: every wait bounded by the deadline, errors in the ledger's tree.

- Each read of a reply waits no longer than what is left of the operation's deadline
  (:func:`ledger.deadline.remaining`; the socket timeout is the ledger's deadline), so a frozen
  server or a lost reply is a :class:`~ledger.errors.BackendTimeoutError`, never a hang.
- A broken connection is retried once on a fresh one, at once, not with the client's default
  backoff (seconds); a timeout is not retried (the deadline is spent). Re-running a command whose
  reply was lost is safe: the commit script refuses a head that moved, and the ledger then finds
  its own events by id.
- :func:`translate`: connection and timeout errors, and a server out of memory, become the
  ledger's errors. Replies the ledger handles itself (a missing script, a refused ``WATCH``,
  ``CONFIG`` disabled) pass through untouched.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.client
from redis.backoff import NoBackoff
from redis.retry import Retry

from ledger import deadline
from ledger.errors import BackendTimeoutError, BackendUnavailableError, LedgerError, StorageFullError

_FLOOR = 0.001
"""Least socket timeout: a deadline already spent still fails through the socket, at once."""


def translate(exc: redis.RedisError, url: str, timeout: float, command: str) -> LedgerError | None:
    """The ledger error for a client error, or ``None`` for one the ledger handles itself."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    operation = f"{deadline.operation('read')} (Redis {command or 'command'})"
    if isinstance(exc, redis.TimeoutError):
        return BackendTimeoutError(url, operation, timeout, reason)
    if isinstance(exc, redis.ConnectionError):
        return BackendUnavailableError(url, reason)
    if isinstance(exc, redis.ResponseError) and str(exc).startswith("OOM"):
        return StorageFullError(url, reason)
    return None


class _DeadlineReads:
    """Mixin for a connection: each reply is awaited only as long as the deadline has left."""

    socket_timeout: float | None
    _sock: Any

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        sock = self._sock
        if sock is not None and self.socket_timeout is not None:
            sock.settimeout(max(_FLOOR, deadline.remaining(self.socket_timeout)))
        return super().read_response(*args, **kwargs)  # type: ignore[misc]


class DeadlineConnection(_DeadlineReads, redis.Connection):
    """A TCP connection whose reads honour the operation's deadline."""


class DeadlineSSLConnection(_DeadlineReads, redis.SSLConnection):
    """A TLS connection whose reads honour the operation's deadline."""


class _Translating:
    """Mixin for a client or pipeline: its errors leave in the ledger's tree."""

    ledger_url: str
    ledger_timeout: float

    def _translated(self, exc: redis.RedisError, args: tuple[Any, ...]) -> BaseException:
        command = str(args[0]) if args else ""
        return translate(exc, self.ledger_url, self.ledger_timeout, command) or exc


class LedgerRedis(_Translating, redis.Redis):
    """A ``redis.Redis`` whose commands and pipelines raise the ledger's errors."""

    def execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            error = self._translated(exc, args)
            if error is exc:
                raise
            raise error from exc

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> redis.client.Pipeline:
        pipe = LedgerPipeline(self.connection_pool, self.response_callbacks, transaction, shard_hint)
        pipe.ledger_url = self.ledger_url
        pipe.ledger_timeout = self.ledger_timeout
        return pipe


class LedgerPipeline(_Translating, redis.client.Pipeline):
    """A pipeline whose immediate commands (under ``WATCH``) and ``execute`` raise the ledger's errors."""

    def immediate_execute_command(self, *args: Any, **options: Any) -> Any:
        try:
            return super().immediate_execute_command(*args, **options)  # type: ignore[no-untyped-call]
        except redis.RedisError as exc:
            error = self._translated(exc, args)
            if error is exc:
                raise
            raise error from exc

    def execute(self, raise_on_error: bool = True) -> list[Any]:
        try:
            return super().execute(raise_on_error)
        except redis.RedisError as exc:
            error = self._translated(exc, ("pipeline",))
            if error is exc:
                raise
            raise error from exc


def connect(client_url: str, *, url: str, timeout: float) -> LedgerRedis:
    """Return a client for ``client_url`` with the ledger's deadline and error translation."""
    secure = client_url.startswith("rediss:")
    client = LedgerRedis.from_url(
        client_url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        connection_class=DeadlineSSLConnection if secure else DeadlineConnection,
        retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
    )
    client.ledger_url = url  # type: ignore[attr-defined]
    client.ledger_timeout = timeout  # type: ignore[attr-defined]
    return client  # type: ignore[return-value]
