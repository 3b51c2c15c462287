"""What one running server holds: its ledger, settings, tokens, the head watcher and the caches.

Handlers reach it as ``request.app.state.service`` (:func:`service_of`) and check a request's
token with :func:`require`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ledger import Ledger
from reliability.service.config import ServiceConfig
from reliability.service.problems import ApiError
from reliability.service.tokens import TokenStore

if TYPE_CHECKING:
    from reliability.service.prometheus import ServerMetrics

__all__ = ["HeadWatcher", "ServiceState", "require", "service_of"]

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="rledger"'}


class HeadWatcher:
    """One thread that waits on the ledger for new events and wakes every waiting stream.

    Server-Sent-Event streams wait here rather than each in a thread of its own: the backend's
    wait (``LISTEN`` on PostgreSQL, a channel on Redis, polling on SQLite) runs once for all.
    """

    WAIT_SECONDS = 1.0
    MIN_INTERVAL = 0.05
    """After a change, wait this long before asking again: on a busy ledger the head moves all
    the time, and re-reading it at once kept a thread busy polling (a fifth of the server's
    samples under 64 concurrent writers on SQLite, py-spy). A stream then sees an outside
    writer's events up to this much later; the server's own appends wake streams at once."""

    def __init__(self, ledger: Ledger, loop: asyncio.AbstractEventLoop) -> None:
        self._ledger = ledger
        self._loop = loop
        self.head = ledger.latest_offset()
        self._changed = asyncio.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rledger-head-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seen = self.head  # this thread's own view; self.head moves in the loop's thread
        while not self._stopping.is_set():
            try:
                self._ledger.backend.wait_for_events(max(seen, self.head), self.WAIT_SECONDS)
                head = self._ledger.latest_offset()
            except Exception:  # a store briefly down: keep watching, streams just wait longer
                self._stopping.wait(self.WAIT_SECONDS)
                continue
            if head > seen:
                seen = head
                self._loop.call_soon_threadsafe(self.advance, head)
                self._stopping.wait(self.MIN_INTERVAL)

    def advance(self, head: int) -> None:
        """Record a new head (in the loop's thread) and wake the waiting streams."""
        if head > self.head:
            self.head = head
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def wait_beyond(self, after: int, timeout: float) -> bool:
        """Wait up to ``timeout`` s until the head is past ``after``; return whether it is."""
        if self.head > after:
            return True
        changed = self._changed
        try:
            await asyncio.wait_for(changed.wait(), timeout)
        except TimeoutError:
            return False
        return self.head > after

    def stop(self) -> None:
        """End the thread (within :data:`WAIT_SECONDS`)."""
        self._stopping.set()
        self._thread.join(self.WAIT_SECONDS * 3)


@dataclass
class ServiceState:
    """Everything the handlers share."""

    config: ServiceConfig
    ledger: Ledger
    tokens: TokenStore | None
    watcher: HeadWatcher
    metrics: ServerMetrics
    caches: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    """Serialises the report facades, which fold incrementally and are not thread-safe."""


def service_of(request: Request) -> ServiceState:
    """The server's state, for a handler."""
    state: ServiceState = request.app.state.service
    return state


def require(request: Request, scope: str) -> ServiceState:
    """Check the request's bearer token for ``scope``; return the server's state.

    Raises:
        ApiError: 401 with no or a wrong token, 403 when its scope does not cover ``scope``.
    """
    state = service_of(request)
    store = state.tokens
    if store is None:
        return state
    header = request.headers.get("authorization", "")
    kind, _, token = header.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise ApiError(
            401, "this endpoint needs a token: send 'Authorization: Bearer <token>'", headers=CHALLENGE
        )
    entry = store.authenticate(token.strip())
    if entry is None:
        reason = f" ({store.problem})" if store.problem else ""
        raise ApiError(
            401, f"the token is not valid (unknown, revoked or mistyped){reason}", headers=CHALLENGE
        )
    if not entry.allows(scope):
        raise ApiError(
            403, f"token '{entry.name}' has scope '{entry.scope}'; this endpoint needs '{scope}' (or admin)"
        )
    return state
