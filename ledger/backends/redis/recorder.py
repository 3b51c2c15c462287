"""Redis backend: the ledger in one Redis database, under one key prefix.

Writes are optimistic and atomic. A transaction reads the head, stream versions and (on a retry)
known ids with plain commands, computes offsets and chain links in Python, then sends every row
to one Lua script (:data:`~ledger.backends.redis.scripts.COMMIT`) that re-checks on the server
that the head has not moved, that no id is stored and that each stream is at the version the
rows continue from, and only then writes. A moved head raises
:class:`~ledger.backends.transaction.CommitConflictError` and the ledger runs the transaction again, so
offsets stay gapless and in commit order across any number of processes, with no lock to leak.

Each handle remembers the ledger's *incarnation* (a random token written when the ledger was
created). A Redis that restarted empty has lost it: writes and head reads through an old handle
raise :class:`~ledger.errors.LedgerLostError` instead of silently starting a second ledger.
Durability is Redis's own: see the README ("Redis and retention").
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from eventsourcing.persistence import IntegrityError, Tracking

from ledger.backends.base import LedgerBackend
from ledger.backends.locks import RunnerLock
from ledger.backends.redis.client import connect
from ledger.backends.redis.layout import (
    Keys,
    as_bytes,
    as_int,
    pack_view,
    unpack_view,
)
from ledger.backends.redis.prune import RedisPruning
from ledger.backends.redis.scripts import COMMIT, RELEASE_LOCK, RENEW_LOCK, SAVE_VIEW
from ledger.backends.redis.writes import RedisWrite
from ledger.backends.rows import SavedView
from ledger.backends.transaction import WriteTransaction
from ledger.deadline import DEFAULT_TIMEOUT
from ledger.errors import BackendError, BackendUnavailableError, ViewConflictError

RUNNER_LOCK_MS = 30_000
"""A runner lock expires this long after its holder stops renewing it (e.g. the process died)."""


class RedisLedgerRecorder(RedisPruning, LedgerBackend):
    """The ledger in Redis, plus tracking positions for projections (a library process recorder)."""

    def __init__(self, client: redis.Redis, keys: Keys, url: str) -> None:
        super().__init__(client, keys, url)
        self.commit_script = client.register_script(COMMIT)
        """The server-side commit (:data:`~ledger.backends.redis.scripts.COMMIT`), run by a write."""
        self._save_view = client.register_script(SAVE_VIEW)
        self._renew_lock = client.register_script(RENEW_LOCK)
        self._release_lock = client.register_script(RELEASE_LOCK)
        # The first opener names the ledger's incarnation; later openers adopt it.
        client.hsetnx(keys.meta, "incarnation", secrets.token_hex(16))
        client.hsetnx(keys.meta, "format", "1")
        self.incarnation = as_bytes(client.hget(keys.meta, "incarnation"))

    # -- writes ------------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield a transaction that commits atomically when the block ends without error."""
        tx = RedisWrite(self)
        yield tx
        tx.commit()

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()
        self.client.connection_pool.disconnect()

    # -- projection views and tracking -------------------------------------------------------

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state."""
        data = self.client.hget(self.keys.views, name)
        return None if data is None else unpack_view(name, as_bytes(data))

    def _record_position(self, name: str, position: int, packed: bytes, *, reset: bool) -> bytes | None:
        answer = self._save_view(args=[self.keys.base, name, position, packed, "1" if reset else "0"])
        return None if answer[0] == b"ok" else as_bytes(answer[1])

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position in one script; a position that does not advance is refused."""
        current = self._record_position(view.name, view.position, pack_view(view), reset=reset)
        if current is not None:
            raise ViewConflictError(
                view.name, view.position, f"offset {int(current)} is already recorded for it"
            )

    def view_names(self) -> list[str]:
        """Return the names of every stored projection (a position without a state counts too:
        retention reads the positions)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.hkeys(self.keys.views)
        pipe.hkeys(self.keys.tracking)
        views, positions = pipe.execute()
        return sorted({as_bytes(n).decode() for n in [*views, *positions]})

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        pipe = self.client.pipeline(transaction=True)
        pipe.hdel(self.keys.tracking, name)
        pipe.hdel(self.keys.views, name)
        pipe.execute()

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position (the library's tracking API); refuses one that does not advance."""
        current = self._record_position(tracking.application_name, tracking.notification_id, b"", reset=False)
        if current is not None:
            raise IntegrityError(
                f"Tracking notification ID {tracking.notification_id} not greater than "
                f"current max tracking ID {int(current)}"
            )

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the recorded position of ``application_name`` (``None`` if none)."""
        value = self.client.hget(self.keys.tracking, application_name)
        return None if value is None else as_int(value)

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take an expiring lock key, renewed in the background while held."""
        token = secrets.token_hex(16)
        if not self.client.set(self.keys.runner(name), token, nx=True, px=RUNNER_LOCK_MS):
            return None
        return _RunnerLock(self, self.keys.runner(name), token)

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists, woken by the commit script's PUBLISH."""
        if self.max_offset() > after:
            return True
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.keys.channel)
            deadline = time.monotonic() + timeout
            while True:
                # Checked after subscribing: a commit just before it sent its message to no one.
                if self.max_offset() > after:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                pubsub.get_message(timeout=remaining)
        finally:
            pubsub.close()


class _RunnerLock(RunnerLock):
    """An expiring lock key renewed by a background thread until released."""

    def __init__(self, backend: RedisLedgerRecorder, key: str, token: str) -> None:
        self._backend = backend
        self._key = key
        self._token = token
        self._stop = threading.Event()
        self.lost = False
        self._thread: threading.Thread | None = threading.Thread(
            target=self._renew, name=f"rledger-runner-lock:{key}", daemon=True
        )
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RUNNER_LOCK_MS / 3000):
            try:
                renewed = self._backend._renew_lock(keys=[self._key], args=[self._token, RUNNER_LOCK_MS])
            except (redis.RedisError, BackendError):
                continue  # Redis unreachable for a moment: try again before the lock expires
            if not renewed:
                # Expired and maybe taken by another runner: the tracking positions still stop
                # both from saving the same position twice.
                self.lost = True
                return

    def release(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self._backend._release_lock(keys=[self._key], args=[self._token])


def _eviction_problem(client: redis.Redis) -> str | None:
    try:
        policy = client.config_get("maxmemory-policy").get("maxmemory-policy", "noeviction")
    except redis.ResponseError:
        return None  # CONFIG is disabled (managed Redis): the README says what to set
    if str(policy).startswith("allkeys"):
        return (
            f"maxmemory-policy is {policy}: Redis may evict ledger keys, losing acknowledged events "
            "(set it to noeviction or a volatile-* policy)"
        )
    return None


def open_redis(
    client_url: str, *, prefix: str, url: str, timeout: float = DEFAULT_TIMEOUT
) -> RedisLedgerRecorder:
    """Connect and open (creating if needed) the ledger ``prefix`` in the database ``client_url`` names.

    Every command waits at most ``timeout`` seconds (see :mod:`ledger.backends.redis.client`).
    """
    if not prefix or any(c in prefix for c in "{}*?[]\\ "):
        raise BackendUnavailableError(url, f"'{prefix}' is not a usable ledger prefix")
    client = connect(client_url, url=url, timeout=timeout)
    try:
        client.ping()
        problem = _eviction_problem(client)
        if problem is not None:
            raise BackendUnavailableError(url, problem)
        return RedisLedgerRecorder(client, Keys(prefix), url)
    except redis.RedisError as exc:
        client.close()
        raise BackendUnavailableError(url, str(exc).strip().splitlines()[0]) from exc
    except BackendUnavailableError:
        client.close()
        raise
    except BaseException:
        client.close()
        raise
