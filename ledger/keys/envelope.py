"""Sealing and opening the personal fields of events that name a subject (AES-GCM, one key per subject).

:meth:`Envelope.seal` runs in :func:`ledger.batch.prepare`, after validation and before the
chain: the stored (and hashed) form of such an event has its subject as a keyed pseudonym and
each field of :data:`ledger.keys.fields.ENCRYPTED_FIELDS` as a marker object::

    {"$enc": "v1", "k": KEY_ID, "n": NONCE_B64, "c": CIPHERTEXT_B64}

The associated data is the event id and the field name, so a ciphertext cannot be moved to
another event or field. The nonce is synthetic (a keyed BLAKE2b of the associated data and
the plaintext, under a key derived from the data key): the same event appended again seals to
the same bytes, so an idempotent retry is still recognised as the same event, and distinct
plaintexts never share one.

:meth:`Envelope.reveal` opens the markers of a stored event on read; a destroyed key reads as
:data:`ledger.keys.fields.ERASED`. Keys are cached per ledger for ``cache_seconds`` (monotonic):
another process's ``forget`` is seen by this one within that time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from ledger.errors import BatchRejectedError, Problem
from ledger.keys.errors import MasterKeyError, PrivacyError, SubjectsUnsupportedError
from ledger.keys.fields import ENCRYPTED_FIELDS, erased_value
from ledger.keys.master import ENV_KEY, ENV_KEY_FILE, MasterKey

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ledger.event_base import LedgerEvent
    from ledger.keys.stores import KeyStore

MARK = "$enc"
VERSION = "v1"
MARKER_BYTES = b'"$enc"'
"""A stored event holding sealed fields contains these bytes (a cheap filter before parsing)."""

_NO_MASTER = (
    f"none is set: events with a 'subject' are stored encrypted and need one (set ${ENV_KEY} to "
    f"base64 of 32 random bytes, or ${ENV_KEY_FILE} / ?master_key_file= to a file holding it); "
    "nothing was written"
)


class Envelope:
    """One ledger's sealing and opening of subject fields.

    Args:
        url: the ledger's URL (for messages).
        master: the master key, or ``None`` when none is configured.
        store: the key store, or ``None`` when the backend keeps no subject keys.
        horizons: retention by field: ``"Type"`` or ``"Type.field"`` → whole days its content is kept.
        cache_seconds: how long a key (or its absence) is remembered.
    """

    def __init__(
        self,
        url: str,
        master: MasterKey | None,
        store: KeyStore | None,
        *,
        horizons: Mapping[str, int] | None = None,
        cache_seconds: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.master = master
        self.store = store
        self.horizons: dict[str, int] = dict(horizons or {})
        self.cache_seconds = cache_seconds
        self._monotonic = monotonic
        self._cache: dict[str, tuple[AESGCM | None, Any, float]] = {}
        self._lock = threading.Lock()
        self._pseudonyms: dict[str, tuple[str, bytes, bytes]] = {}

    def __repr__(self) -> str:
        return f"Envelope(url={self.url!r}, master={self.master!r})"

    # -- opening the ledger ----------------------------------------------------------------

    def check(self) -> None:
        """Refuse to open a ledger whose key store holds keys the master key cannot open.

        Raises:
            MasterKeyError: keys are stored but no master key is set (reads would otherwise show
                every subject's fields as erased), or the master key is not the one that wrapped them.
        """
        if self.store is None:
            return
        sample = self.store.sample()
        if sample is None:
            return
        if self.master is None:
            raise MasterKeyError(
                f"${ENV_KEY}",
                f"none is set, but the ledger at {self.url} holds subject keys: without it their "
                "events cannot be read (set the key it was written with)",
            )
        self.master.unwrap(sample[1], sample[0])

    # -- keys --------------------------------------------------------------------------------

    def _key(self, key_id: str) -> tuple[AESGCM, Any] | None:
        """The cipher and nonce key of ``key_id`` (``None``: destroyed, or never made)."""
        hit = self._cache.get(key_id)
        if hit is not None and hit[2] > self._monotonic():
            return None if hit[0] is None or hit[1] is None else (hit[0], hit[1])
        assert self.store is not None
        wrapped = self.store.get(key_id)
        if wrapped is None:
            with self._lock:
                self._cache[key_id] = (None, None, self._monotonic() + self.cache_seconds)
            return None
        return self._remember(key_id, wrapped)

    def _remember(self, key_id: str, wrapped: bytes) -> tuple[AESGCM, Any]:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        assert self.master is not None
        raw = self.master.unwrap(wrapped, key_id)
        nonce_key = hmac.digest(raw, b"rledger/nonce/v1", hashlib.sha256)
        # A keyed BLAKE2b hasher to copy per field: cheaper than keying one each time.
        entry = (AESGCM(raw), hashlib.blake2b(key=nonce_key, digest_size=12))
        with self._lock:
            self._cache[key_id] = (entry[0], entry[1], self._monotonic() + self.cache_seconds)
        return entry

    def _keys_for(
        self, wanted: dict[str, tuple[str, int | None, str | None]]
    ) -> dict[str, tuple[AESGCM, Any]]:
        """The keys of a batch, made where missing: one read and at most one write for all of them."""
        assert self.store is not None and self.master is not None
        now = self._monotonic()
        found: dict[str, tuple[AESGCM, Any]] = {}
        missing = []
        for key_id in wanted:
            hit = self._cache.get(key_id)
            if hit is not None and hit[2] > now and hit[0] is not None and hit[1] is not None:
                found[key_id] = (hit[0], hit[1])
            else:
                missing.append(key_id)
        if missing:
            stored = self.store.get_many(missing)
            absent = [k for k in missing if k not in stored]
            if absent:
                master = self.master
                stored.update(
                    self.store.create_many([(k, *wanted[k], master.wrap(os.urandom(32), k)) for k in absent])
                )
            for key_id, wrapped in stored.items():
                found[key_id] = self._remember(key_id, wrapped)
        return found

    def _pseudonym(self, master: MasterKey, subject: str) -> tuple[str, bytes, bytes]:
        """The subject's pseudonym, and its stored field as given and as it is to be stored."""
        known = self._pseudonyms.get(subject)
        if known is None:
            if len(self._pseudonyms) >= 100_000:  # bounded: a long-lived server meets many subjects
                self._pseudonyms = {}
            ref = master.pseudonym(subject)
            known = (ref, b'"subject":' + orjson.dumps(subject), b'"subject":' + orjson.dumps(ref))
            self._pseudonyms[subject] = known
        return known

    def evict(self, key_ids: Sequence[str] | None = None) -> None:
        """Forget cached keys (all of them by default): the next use reads the store."""
        with self._lock:
            if key_ids is None:
                self._cache.clear()
            else:
                for k in key_ids:
                    self._cache.pop(k, None)

    def _horizon(self, event_type: str, field: str) -> int | None:
        if not self.horizons:
            return None
        days = self.horizons.get(f"{event_type}.{field}")
        return self.horizons.get(event_type) if days is None else days

    # -- sealing -------------------------------------------------------------------------------

    def seal(self, events: Sequence[LedgerEvent], states: list[bytes], max_bytes: int) -> list[bytes]:
        """Return ``states`` with every subject's event sealed (the others as they were).

        Raises:
            SubjectsUnsupportedError: an event names a subject and the backend keeps no keys.
            MasterKeyError: an event names a subject and no master key is set.
            BatchRejectedError: a sealed event is over ``max_bytes``.
        """
        todo = [i for i, e in enumerate(events) if e.subject is not None]
        if not todo:
            return states
        if self.store is None:
            raise SubjectsUnsupportedError(self.url)
        if self.master is None:
            raise MasterKeyError(f"${ENV_KEY}", _NO_MASTER)
        master = self.master
        horizons = self.horizons
        out = list(states)
        plans = []
        wanted: dict[str, tuple[str, int | None, str | None]] = {}
        for i in todo:
            event = events[i]
            subject, old, new = self._pseudonym(master, str(event.subject))
            event_type = str(getattr(event, "type", ""))
            names = ENCRYPTED_FIELDS.get(event_type)
            present = [f for f in names if getattr(event, f, None) is not None] if names else None
            state = states[i]
            # Nothing to seal, only the subject to replace. The first '"subject":' is the field's
            # own: the base fields come first, and a quote inside a string is escaped.
            if not present and old in state:
                out[i] = state.replace(old, new, 1)
                continue
            data = orjson.loads(state)
            data["subject"] = subject
            fields = []
            for field in present or ():
                if data.get(field) is None:
                    continue
                if horizons:
                    horizon = self._horizon(event_type, field)
                    day = None if horizon is None else _day_of(str(data["occurred_at"]))
                    key_id = subject if horizon is None else f"{subject}/{horizon}d/{day}"
                else:
                    horizon = day = None
                    key_id = subject
                fields.append((field, key_id))
                wanted[key_id] = (subject, horizon, day)
            plans.append((i, data, fields))
        keys = self._keys_for(wanted) if wanted else {}
        for i, data, fields in plans:
            out[i] = _sealed(data, fields, keys)
        problems = []
        for i in todo:
            sealed = out[i]
            if len(sealed) > max_bytes:
                problems.append(
                    Problem(
                        i,
                        None,
                        None,
                        f"encrypted event is {len(sealed)} bytes, over the limit of {max_bytes}",
                    )
                )
        if problems:
            raise BatchRejectedError(problems, len(events))
        return out

    # -- opening -------------------------------------------------------------------------------

    def reveal(self, data: dict[str, Any]) -> tuple[str, ...]:
        """Open the sealed fields of a stored event's dict in place; return the fields that are erased.

        Raises:
            PrivacyError: a sealed field does not decrypt with its key (its bytes were changed).
        """
        if data.get("subject") is None:
            return ()
        event_type = str(data.get("type"))
        erased = []
        for field in ENCRYPTED_FIELDS.get(event_type, ()):
            value = data.get(field)
            if not (isinstance(value, dict) and value.get(MARK) == VERSION):
                continue
            key = None if self.master is None or self.store is None else self._key(str(value["k"]))
            if key is None:
                data[field] = erased_value(event_type, field)
                erased.append(field)
                continue
            from cryptography.exceptions import InvalidTag

            aad = f"{data.get('event_id')}\x00{field}".encode()
            try:
                plaintext = key[0].decrypt(base64.b64decode(value["n"]), base64.b64decode(value["c"]), aad)
            except (InvalidTag, ValueError, KeyError):
                raise PrivacyError(
                    f"event {data.get('event_id')} of the ledger at {self.url}: field '{field}' does not "
                    "decrypt with its subject's key (its stored bytes were changed; run verify)"
                ) from None
            data[field] = orjson.loads(plaintext)
        return tuple(erased)

    # -- destroying ----------------------------------------------------------------------------

    def destroy_subject(self, subject_ref: str) -> int:
        """Destroy every key of a subject (its pseudonym); return how many were destroyed."""
        if self.store is None:
            raise SubjectsUnsupportedError(self.url)
        count = self.store.destroy_subject(subject_ref)
        self.evict()
        return count

    def destroy_expired(self, now: datetime) -> int:
        """Destroy the keys of every field horizon whose events are all past it; return how many."""
        if self.store is None or not self.horizons:
            return 0
        count = 0
        for days in sorted(set(self.horizons.values())):
            cutoff = (now.astimezone(UTC) - timedelta(days=days)).date().isoformat()
            count += self.store.destroy_expired(days, cutoff)
        if count:
            self.evict()
        return count


def _sealed(
    data: dict[str, Any], fields: list[tuple[str, str]], keys: dict[str, tuple[AESGCM, Any]]
) -> bytes:
    """The stored form of one event: ``fields`` replaced by their markers."""
    prefix = str(data["event_id"]) + "\x00"
    dumps = orjson.dumps
    b64 = binascii.b2a_base64
    for field, key_id in fields:
        cipher, hasher = keys[key_id]
        aad = (prefix + field).encode()
        plaintext = dumps(data[field])
        # The synthetic nonce: a keyed BLAKE2b (a PRF) of the associated data and the plaintext.
        h = hasher.copy()
        h.update(aad + b"\x00")
        h.update(plaintext)
        nonce = h.digest()
        data[field] = {
            MARK: VERSION,
            "k": key_id,
            "n": b64(nonce, newline=False).decode("ascii"),
            "c": b64(cipher.encrypt(nonce, plaintext, aad), newline=False).decode("ascii"),
        }
    return dumps(data)


def _day_of(occurred_at: str) -> str:
    """The UTC day (ISO date) of a stored ``occurred_at``."""
    return datetime.fromisoformat(occurred_at).astimezone(UTC).date().isoformat()


__all__ = ["MARKER_BYTES", "Envelope"]
