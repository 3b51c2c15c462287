"""What a JetStream ledger keeps beside its events, in key-value buckets: views, marks, leases.

Every record that guards an invariant is written with a revision check (the bucket's
compare-and-set), so two processes cannot both move a projection's position, lose a checkpoint
or a prune mark, or hold one runner lease. A view's state larger than one message is written
in chunks under a fresh generation first; its head record, written last with the revision
check, is what makes it current.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from collections.abc import Callable

from nats.aio.client import Client
from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError
from nats.js.kv import KeyValue

from ledger.backends.locks import RunnerLock
from ledger.backends.nats.jetstream import JetStreamError, Loop
from ledger.backends.nats.layout import (
    MarkRecord,
    Names,
    name_token,
    pack_checkpoints,
    pack_marks,
    pack_view_head,
    stream_token,
    unpack_checkpoints,
    unpack_marks,
    unpack_view_head,
)
from ledger.backends.nats.reads import NatsReads
from ledger.backends.pruning import PruneMark
from ledger.backends.rows import Checkpoint, SavedView, Tail
from ledger.errors import ViewConflictError
from ledger.timeutil import from_epoch_us, to_epoch_us

CHUNK = 256 * 1024
"""The largest piece of a view's state in one message (servers allow 1 MB by default)."""

LEASE_SECONDS = 6.0
"""A runner lease expires this long after its holder last renewed it (the bucket's max age)."""

RENEW_SECONDS = LEASE_SECONDS / 3
"""How often the holder renews its lease."""


class NatsMeta(NatsReads):
    """The key-value side of :class:`~ledger.backends.nats.recorder.NatsLedgerRecorder`."""

    def __init__(
        self, loop: Loop, nc: Client, names: Names, url: str, meta: KeyValue, leases: KeyValue
    ) -> None:
        super().__init__(loop, nc, names, url)
        self.meta = meta
        self.leases = leases

    # -- small helpers -----------------------------------------------------------------------

    def _get(self, key: str, bucket: KeyValue | None = None) -> tuple[bytes, int] | None:
        async def get() -> tuple[bytes, int] | None:
            try:
                entry = await (bucket or self.meta).get(key)
            except KeyNotFoundError:
                return None
            return entry.value or b"", entry.revision or 0

        return self.loop.run(get(), "read")

    def _cas(
        self, key: str, value: bytes, revision: int | None, bucket: KeyValue | None = None
    ) -> int | None:
        """Write ``key`` if it is still at ``revision`` (``None``: absent); return the new revision."""

        async def put() -> int | None:
            kv = bucket or self.meta
            try:
                if revision is None:
                    return await kv.create(key, value)
                return await kv.update(key, value, last=revision)
            except KeyWrongLastSequenceError:
                return None
            except NotFoundError:
                # nats-py's create() re-reads a key it found taken; when the entry expired (a
                # lease's max age) between the two, the read finds no message. The key was not
                # free when we asked: the same answer as a lost race, and the caller asks again.
                return None

        return self.loop.run(put(), "write")

    def _append_record(self, key: str, change: Callable[[bytes], bytes]) -> None:
        while True:
            found = self._get(key)
            value, revision = found if found is not None else (b"", None)
            if self._cas(key, change(value), revision) is not None:
                return

    # -- chain metadata ----------------------------------------------------------------------

    def add_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        """Record checkpoints crossed by a commit (after it: a lost one only weakens ``verify``)."""
        new = [(c.offset, c.chain, c.recorded_at) for c in checkpoints]

        def change(value: bytes) -> bytes:
            known = {o for o, _, _ in unpack_checkpoints(value)}
            return value + pack_checkpoints([c for c in new if c[0] not in known])

        self._append_record("checkpoints", change)

    def checkpoints(self) -> list[Checkpoint]:
        """Return every recorded checkpoint in offset order."""
        found = self._get("checkpoints")
        items = unpack_checkpoints(found[0]) if found else []
        return sorted((Checkpoint(o, c, t) for o, c, t in items), key=lambda c: c.offset)

    def mark_records(self) -> list[MarkRecord]:
        """Every stored prune mark, in offset order."""
        found = self._get("marks")
        return sorted(unpack_marks(found[0]) if found else [])

    def add_mark(self, mark: MarkRecord) -> None:
        """Record a prune mark (before the purge it allows)."""
        self._append_record("marks", lambda value: value + pack_marks([mark]))

    def prune_marks(self) -> list[PruneMark]:
        """Return every prune mark in offset order."""
        return [PruneMark(o, c, t, n) for o, c, t, n, _ in self.mark_records()]

    def mark_tail(self, offset: int) -> Tail | None:
        """The tail a prune mark recorded at ``offset``."""
        for o, chain, _, _, recorded_us in self.mark_records():
            if o == offset:
                return Tail(o, chain, from_epoch_us(recorded_us))
        return None

    def version_floor(self, stream: str) -> int:
        """The version a stream had when pruning removed its last event (0: never)."""
        found = self._get(f"ver.{stream_token(stream)}")
        return int(found[0]) if found else 0

    def set_version_floor(self, stream: str, version: int) -> None:
        """Keep a stream's version before pruning removes its last event."""

        async def put() -> None:
            await self.meta.put(f"ver.{stream_token(stream)}", str(version).encode())

        self.loop.run(put(), "prune")

    # -- projection views and tracking -------------------------------------------------------

    def _view_key(self, name: str) -> str:
        return f"view.{name_token(name)}"

    def load_view(self, name: str) -> SavedView | None:
        """Return a projection's stored state (``None`` if never saved, or only its position)."""
        while True:
            found = self._get(self._view_key(name))
            if found is None:
                return None
            (position, updated, digest, chunks, generation), inline = unpack_view_head(found[0])
            if chunks == 0:
                if not digest:
                    return None  # a tracking position only (the library's API)
                return SavedView(name, position, inline, digest, from_epoch_us(updated))
            parts = [self._get(f"viewc.{name_token(name)}.{generation}.{i}") for i in range(chunks)]
            if all(p is not None for p in parts):
                state = b"".join(p[0] for p in parts if p is not None)
                return SavedView(name, position, state, digest, from_epoch_us(updated))
            # Replaced (and its chunks purged) while we read: read the new one.

    def _record_position(
        self, name: str, position: int, view: SavedView | None, *, reset: bool
    ) -> int | None:
        """Store a position (and state); return the stored position that refused it, else ``None``."""
        key = self._view_key(name)
        while True:
            found = self._get(key)
            old_chunks = 0
            old_generation = 0
            if found is not None:
                (current, _, _, old_chunks, old_generation), _ = unpack_view_head(found[0])
                if not reset and current >= position:
                    return current
            value, generation = self._pack_view(name, position, view, found)
            if self._cas(key, value, found[1] if found else None) is None:
                continue  # another save won: re-check against its position
            if old_chunks and old_generation != generation:
                self._purge_chunks(name, old_generation, old_chunks)
            return None

    def _pack_view(
        self, name: str, position: int, view: SavedView | None, found: tuple[bytes, int] | None
    ) -> tuple[bytes, int]:
        if view is None:
            if found is None:
                return pack_view_head(position, 0, "", 0, 0), 0
            # A position only (the library's tracking API): the stored state stays as it is.
            (_, updated, digest, chunks, generation), inline = unpack_view_head(found[0])
            return pack_view_head(position, updated, digest, chunks, generation) + inline, generation
        updated = to_epoch_us(view.updated_at)
        if len(view.state) <= CHUNK:
            return pack_view_head(position, updated, view.digest, 0, 0) + view.state, 0
        generation = secrets.randbits(62)
        pieces = [view.state[i : i + CHUNK] for i in range(0, len(view.state), CHUNK)]

        async def put_all() -> None:
            for i, piece in enumerate(pieces):
                await self.meta.put(f"viewc.{name_token(name)}.{generation}.{i}", piece)

        self.loop.run(put_all(), "write")
        return pack_view_head(position, updated, view.digest, len(pieces), generation), generation

    def _purge_chunks(self, name: str, generation: int, chunks: int) -> None:
        async def purge_all() -> None:
            for i in range(chunks):
                await self.meta.purge(f"viewc.{name_token(name)}.{generation}.{i}")

        self.loop.run(purge_all(), "write")

    def save_view(self, view: SavedView, *, reset: bool = False) -> None:
        """Store state and position with a revision check; a position that does not advance is refused."""
        current = self._record_position(view.name, view.position, view, reset=reset)
        if current is not None:
            raise ViewConflictError(view.name, view.position, f"offset {current} is already recorded for it")

    def delete_view(self, name: str) -> None:
        """Forget a projection's state and position."""

        async def purge() -> None:
            await self.meta.purge(self._view_key(name))

        self.loop.run(purge(), "write")

    def view_positions(self) -> dict[str, int]:
        """Every stored projection's position (what pruning may not pass)."""

        async def keys() -> list[str]:
            # The stream's per-subject counts, one request. Not ``KeyValue.keys()``: its watcher
            # can signal "no more" before the first entry arrives (nats-py checks the consumer's
            # pending count against what its callback has counted so far), so under load it
            # answered "no keys" for a bucket that had them.
            prefix = f"{self.meta._pre}view."
            info = await self.meta._js.stream_info(self.meta._stream, subjects_filter=f"{prefix}>")
            subjects = info.state.subjects or {}
            return [s[len(self.meta._pre) :] for s in subjects]

        out: dict[str, int] = {}
        for key in self.loop.run(keys(), "read"):
            found = self._get(key)
            if found is not None:
                out[bytes.fromhex(key.split(".", 1)[1]).decode()] = unpack_view_head(found[0])[0][0]
        return out

    def view_names(self) -> list[str]:
        """Return the names of every stored projection (a position without a state counts too)."""
        return sorted(self.view_positions())

    def max_tracking_id(self, application_name: str) -> int | None:
        """Return the recorded position of ``application_name`` (``None`` if none)."""
        found = self._get(self._view_key(application_name))
        return None if found is None else unpack_view_head(found[0])[0][0]

    # -- runner leases -----------------------------------------------------------------------

    def try_lock_runner(self, name: str) -> RunnerLock | None:
        """Create the projection's lease entry (absent or expired only); renewed while held."""
        key = f"lease.{name_token(name)}"
        token = secrets.token_hex(16).encode()
        revision = self._cas(key, token, None, self.leases)
        if revision is None:
            return None
        return LeaseLock(self, key, revision)


class LeaseLock(RunnerLock):
    """A key-value lease that expires unless renewed: a killed holder loses it within the bucket's max age."""

    def __init__(self, backend: NatsMeta, key: str, revision: int) -> None:
        self._backend = backend
        self._key = key
        self._revision = revision
        self._stop = threading.Event()
        self.lost = False
        self._thread: threading.Thread | None = threading.Thread(
            target=self._renew, name=f"rledger-lease:{key}", daemon=True
        )
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            try:
                revision = self._backend._cas(self._key, b"renewed", self._revision, self._backend.leases)
            except (JetStreamError, Exception):
                continue  # the cluster is unreachable for a moment: try again before it expires
            if revision is None:
                # Expired and maybe taken by another runner: the view positions still stop both
                # from saving the same position twice.
                self.lost = True
                return
            self._revision = revision

    def release(self) -> None:
        """Stop renewing and delete the lease (if still ours), so another runner takes over at once."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        if self.lost:
            return

        async def delete() -> None:
            with contextlib.suppress(KeyWrongLastSequenceError):
                await self._backend.leases.delete(self._key, last=self._revision)

        with contextlib.suppress(Exception):
            self._backend.loop.run(delete(), "release")
