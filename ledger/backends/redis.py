"""Redis backend: an ``eventsourcing`` process recorder keeping the ledger in one Redis database.

Writes are optimistic and atomic. A transaction reads the head, stream versions and (on a retry)
known ids with plain commands, computes offsets and chain links in Python, then sends every row
to one Lua script (:data:`~ledger.backends.redis_layout.COMMIT`) that re-checks on the server
that the head has not moved, that no id is stored and that each stream is at the version the
rows continue from, and only then writes. A moved head raises
:class:`~ledger.backends.base.CommitConflictError` and the ledger runs the transaction again, so
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import redis
from eventsourcing.persistence import (
    IntegrityError,
    ListenNotifySubscription,
    ProcessRecorder,
    StoredEvent,
    Subscription,
    Tracking,
)

from ledger.backends.base import (
    GENESIS,
    Checkpoint,
    CommitConflictError,
    DuplicateKeyError,
    Existing,
    LedgerBackend,
    ReadQuery,
    RunnerLock,
    SavedView,
    StoredRow,
    Tail,
    WriteTransaction,
)
from ledger.backends.redis_layout import (
    COMMIT,
    RELEASE_LOCK,
    RENEW_LOCK,
    SAVE_VIEW,
    Keys,
    as_bytes,
    as_int,
    commit_member,
    pack_chain_at,
    pack_row,
    pack_view,
    unpack_row,
    unpack_view,
)
from ledger.backends.redis_prune import RedisPruning
from ledger.errors import BackendError, BackendUnavailableError, ViewConflictError
from ledger.events import from_epoch_us, to_epoch_us

RUNNER_LOCK_MS = 30_000
"""A runner lock expires this long after its holder stops renewing it (e.g. the process died)."""


class RedisLedgerRecorder(RedisPruning, LedgerBackend, ProcessRecorder):
    """The ledger in Redis, plus tracking positions for projections (a library process recorder)."""

    def __init__(self, client: redis.Redis, keys: Keys, url: str) -> None:
        super().__init__(client, keys, url)
        self._commit = client.register_script(COMMIT)
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
        tx = _RedisWrite(self)
        yield tx
        tx.commit()

    def close(self) -> None:
        """Close the client's connections."""
        self.r.close()
        self.r.connection_pool.disconnect()

    # -- projection views and tracking -------------------------------------------------------

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state."""
        data = self.r.hget(self.k.views, name)
        return None if data is None else unpack_view(name, as_bytes(data))

    def _record_position(self, name: str, position: int, packed: bytes, *, reset: bool) -> bytes | None:
        answer = self._save_view(args=[self.k.base, name, position, packed, "1" if reset else "0"])
        return None if answer[0] == b"ok" else as_bytes(answer[1])

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position in one script; a position that does not advance is refused."""
        current = self._record_position(view.name, view.position, pack_view(view), reset=reset)
        if current is not None:
            raise ViewConflictError(
                view.name, view.position, f"offset {int(current)} is already recorded for it"
            )

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""
        pipe = self.r.pipeline(transaction=True)
        pipe.hdel(self.k.tracking, name)
        pipe.hdel(self.k.views, name)
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
        value = self.r.hget(self.k.tracking, application_name)
        return None if value is None else as_int(value)

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Take an expiring lock key, renewed in the background while held."""
        token = secrets.token_hex(16)
        if not self.r.set(self.k.runner(name), token, nx=True, px=RUNNER_LOCK_MS):
            return None
        return _RunnerLock(self, self.k.runner(name), token)

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists, woken by the commit script's PUBLISH."""
        if self.max_offset() > after:
            return True
        pubsub = self.r.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        try:
            pubsub.subscribe(self.k.channel)
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

    # -- the library's recorder API ----------------------------------------------------------

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Not supported: ledger events need ids, times and chain links (use ``Ledger.append``)."""
        raise NotImplementedError(
            "append through ledger.Ledger.append: a ledger row needs an event id, times and a "
            "chain link that the library's StoredEvent does not carry"
        )

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """Return one stream's events (the library's aggregate read)."""
        rows = [
            r
            for r in self.iter_rows(ReadQuery(stream=str(originator_id)))
            if (gt is None or r.version > gt) and (lte is None or r.version <= lte)
        ]
        if desc:
            rows.reverse()
        return [
            StoredEvent(originator_id=r.stream, originator_version=r.version, topic=r.topic, state=r.state)
            for r in rows[:limit]
        ]

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> Subscription[Any]:
        """Return an iterator of notifications after ``gt`` that blocks for new ones."""
        return _RedisSubscription(self, gt=gt, topics=topics)


class _RedisWrite(WriteTransaction):
    """Reads go straight to Redis; the writes wait for :meth:`commit`, which checks and applies them."""

    def __init__(self, backend: RedisLedgerRecorder) -> None:
        self.b = backend
        self.expected_head = 0
        self.rows: list[StoredRow] = []
        self.head: Tail | None = None
        self.checkpoints: list[Checkpoint] = []

    def existing(self, event_ids: list[UUID]) -> dict[UUID, Existing]:
        offsets = self.b.r.hmget(self.b.k.ids, [e.bytes for e in event_ids])
        known = [(e, as_int(o)) for e, o in zip(event_ids, offsets, strict=True) if o is not None]
        if not known:
            return {}
        states = self.b.r.hmget(self.b.k.rows, [o for _, o in known])
        return {
            e: Existing(o, unpack_row(o, as_bytes(data)).state)
            for (e, o), data in zip(known, states, strict=True)
            if data is not None
        }

    def stream_versions(self, streams: list[str]) -> dict[str, int]:
        values = self.b.r.hmget(self.b.k.versions, streams)
        return {s: as_int(v) for s, v in zip(streams, values, strict=True) if v is not None}

    def tail(self) -> Tail:
        offset, chain, recorded = self.b.r.hmget(self.b.k.head, ["offset", "chain", "recorded_us"])
        if offset is None:
            return Tail(0, GENESIS, None)
        self.expected_head = as_int(offset)
        return Tail(self.expected_head, as_bytes(chain), from_epoch_us(as_int(recorded)))

    def insert(self, rows: list[StoredRow]) -> None:
        # Checked on the server at commit (it raises DuplicateKeyError there).
        self.rows = rows

    def save_head(self, tail: Tail, checkpoints: list[Checkpoint]) -> None:
        self.head = tail
        self.checkpoints = checkpoints

    def commit(self) -> None:
        if not self.rows or self.head is None or self.head.recorded_at is None:
            return  # nothing new (every event was already stored)
        recorded_us = to_epoch_us(self.head.recorded_at)
        args: list[Any] = [
            self.b.k.base,
            self.b.incarnation,
            self.expected_head,
            self.head.offset,
            self.head.chain,
            recorded_us,
            commit_member(self.rows[0].offset, recorded_us),
            len(self.checkpoints),
        ]
        for cp in self.checkpoints:
            args += [cp.offset, pack_chain_at(cp.chain, cp.recorded_at)]
        # The script places row i at expected_head + 1 + i: the store assigns them that way.
        assert self.rows[0].offset == self.expected_head + 1
        assert self.rows[-1].offset == self.expected_head + len(self.rows)
        args += [pack_row(r) for r in self.rows]
        answer = self.b._commit(args=args)
        verdict = answer[0]
        if verdict == b"ok":
            return
        if verdict == b"moved":
            raise CommitConflictError(f"the head moved to {int(answer[1])} (another writer committed)")
        if verdict == b"duplicate":
            raise DuplicateKeyError(f"an event id of the batch is already stored at offset {int(answer[1])}")
        if verdict == b"lost":
            self.b.check_incarnation(answer[1] if len(answer) > 1 else None)
        # The head did not move, yet a stream is not where the rows continue from: the store
        # disagrees with itself (edited behind the ledger's back); retrying would not help.
        raise BackendError(
            f"stream '{answer[1].decode()}' is at version {int(answer[2])} in {self.b.url} although "
            "the head did not move: the stored versions were changed outside the ledger"
        )


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
            except redis.RedisError:
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


class _RedisSubscription(ListenNotifySubscription[RedisLedgerRecorder]):
    """The library's subscription, woken by the commit script's PUBLISH."""

    def __init__(self, recorder: RedisLedgerRecorder, gt: int | None, topics: Sequence[str]) -> None:
        self._pubsub = recorder.r.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        self._pubsub.subscribe(recorder.k.channel)
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._listener = threading.Thread(target=self._listen, name="rledger-redis-subscription", daemon=True)
        self._listener.start()

    def _listen(self) -> None:
        while not self._has_been_stopped:
            try:
                message = self._pubsub.get_message(timeout=0.2)
            except redis.RedisError:
                message = None
            if message is not None:
                self._has_been_notified.set()

    def stop(self) -> None:
        super().stop()
        listener = getattr(self, "_listener", None)
        if listener is not None and listener is not threading.current_thread():
            listener.join()
        self._pubsub.close()


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


def open_redis(client_url: str, *, prefix: str, url: str) -> RedisLedgerRecorder:
    """Connect and open (creating if needed) the ledger ``prefix`` in the database ``client_url`` names."""
    if not prefix or any(c in prefix for c in "{}*?[]\\ "):
        raise BackendUnavailableError(url, f"'{prefix}' is not a usable ledger prefix")
    client: redis.Redis = redis.Redis.from_url(client_url, socket_connect_timeout=5)
    try:
        client.ping()
        problem = _eviction_problem(client)
        if problem is not None:
            raise BackendUnavailableError(url, problem)
        return RedisLedgerRecorder(client, Keys(prefix), url)
    except redis.RedisError as exc:
        client.close()
        raise BackendUnavailableError(url, str(exc).strip().splitlines()[0]) from exc
    except BaseException:
        client.close()
        raise
