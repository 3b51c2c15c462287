"""API tokens: a JSON file of salted scrypt hashes, scopes, and a store that re-reads it when it changes.

A token is ``rlt_<key id>_<secret>``: the key id (not secret) finds the file's entry without
trying every hash, the secret is 32 random bytes. The file keeps only the key id, a random salt
and ``scrypt(secret, salt)``; the token itself is shown once, when it is created, and never
written or logged. :class:`TokenStore` checks a request's token in constant time
(:func:`hmac.compare_digest`) and notices an edited file (``rledger token create`` /
``revoke``) by its stat signature on each request, so no restart is needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "SCOPES",
    "TokenEntry",
    "TokenFileError",
    "TokenStore",
    "create_token",
    "read_tokens",
    "revoke_token",
]

_log = logging.getLogger(__name__)

SCOPES = ("ingest", "read", "admin")
"""What a token may do: ``ingest`` (POST events and traces), ``read`` (every GET), ``admin`` (all)."""

PREFIX = "rlt_"
SCRYPT = {"n": 2**14, "r": 8, "p": 1}
"""scrypt's cost: ~16 MiB and tens of ms per check; a verified token is then remembered by its
SHA-256 (in memory only) so each request does not pay it again."""


class TokenFileError(ValueError):
    """The token file cannot be read or has the wrong shape (the CLI exits 2 on it)."""


@dataclass(frozen=True)
class TokenEntry:
    """One token as the file keeps it: no secret, only its salted hash.

    Attributes:
        name: a label to revoke it by (unique in the file).
        scope: ``ingest``, ``read`` or ``admin``.
        key_id: the public part of the token, to find this entry.
        salt: scrypt's salt (hex).
        digest: scrypt of the secret (hex).
        created_at: when it was created (ISO 8601).
    """

    name: str
    scope: str
    key_id: str
    salt: str
    digest: str
    created_at: str

    def allows(self, scope: str) -> bool:
        """Whether this token may act in ``scope`` (``admin`` implies the others)."""
        return self.scope in ("admin", scope)


def _hash(secret: str, salt: bytes) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, maxmem=64 * 2**20, dklen=32, **SCRYPT)


def read_tokens(path: Path) -> list[TokenEntry]:
    """Return the entries of a token file (none when it does not exist).

    Raises:
        TokenFileError: the file is not a token file.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise TokenFileError(f"cannot read token file {path}: {exc.strerror}") from None
    document: Any
    try:
        document = orjson.loads(raw) if raw.strip() else {"version": 1, "tokens": []}
        entries = [TokenEntry(**item) for item in document["tokens"]]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise TokenFileError(f"{path} is not a token file ({type(exc).__name__}: {exc})") from None
    for entry in entries:
        if entry.scope not in SCOPES:
            raise TokenFileError(f"{path}: token '{entry.name}' has unknown scope '{entry.scope}'")
    return entries


def _write_tokens(path: Path, entries: list[TokenEntry]) -> None:
    document: dict[str, Any] = {"version": 1, "tokens": [e.__dict__ for e in entries]}
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Serialise writers of one token file (two ``token create`` at once lose no entry)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def create_token(path: Path, scope: str, name: str | None = None) -> tuple[TokenEntry, str]:
    """Add a new token to the file; return its entry and the token (shown once, never stored).

    Raises:
        ValueError: an unknown scope, or the name is taken.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope '{scope}': use one of {', '.join(SCOPES)}")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    with _locked(path):
        entries = read_tokens(path)
        label = name or f"{scope}-{key_id}"
        if any(e.name == label for e in entries):
            raise ValueError(f"a token named '{label}' is already in {path}: revoke it or pick another name")
        entry = TokenEntry(
            name=label,
            scope=scope,
            key_id=key_id,
            salt=salt.hex(),
            digest=_hash(secret, salt).hex(),
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        _write_tokens(path, [*entries, entry])
    return entry, f"{PREFIX}{key_id}_{secret}"


def revoke_token(path: Path, name: str) -> TokenEntry:
    """Remove the token named ``name`` from the file; return its entry.

    Raises:
        FileNotFoundError: no token of that name is in the file (the CLI exits 2).
    """
    with _locked(path):
        entries = read_tokens(path)
        doomed = [e for e in entries if e.name == name]
        if not doomed:
            known = ", ".join(e.name for e in entries) or "none"
            raise FileNotFoundError(f"no token named '{name}' in {path} (tokens: {known})")
        _write_tokens(path, [e for e in entries if e.name != name])
    return doomed[0]


class TokenStore:
    """The server's view of a token file, re-read whenever the file changes.

    Args:
        path: the token file.
    """

    CACHE_SIZE = 1024
    STAT_INTERVAL = 0.05
    """A changed file counts from the first request at least this long after the last look."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._signature: tuple[int, int, int] | None = None
        self._stat_at = 0.0
        self._by_key: dict[str, TokenEntry] = {}
        self._problem: str | None = None
        # sha256(token) -> entry or None (a known wrong token): scrypt runs once per token
        # and file version. Keyed by a digest so no token is kept in memory as it was sent.
        self._checked: OrderedDict[bytes, TokenEntry | None] = OrderedDict()
        self.refresh()

    @property
    def problem(self) -> str | None:
        """Why the file could not be read at its last change (every token is refused then)."""
        return self._problem

    def refresh(self) -> None:
        """Re-read the file if its stat signature (inode, size, mtime) changed.

        The file is looked at most every :data:`STAT_INTERVAL` seconds: a ``stat`` releases the
        GIL, and getting it back from the busy group-commit thread cost the event loop more than
        the call itself (a tenth of a server's samples under 64 concurrent clients, py-spy).
        """
        now = time.monotonic()
        if now - self._stat_at < self.STAT_INTERVAL and self._signature is not None:
            return
        self._stat_at = now
        try:
            st = os.stat(self.path)
            signature: tuple[int, int, int] | None = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            signature = None
        with self._lock:
            if signature == self._signature and self._signature is not None:
                return
            try:
                entries = read_tokens(self.path)
            except TokenFileError as exc:
                # Fail closed: a revoked token must not keep working because the file broke.
                self._by_key, self._problem = {}, str(exc)
                _log.error("token file unusable, refusing every token: %s", exc)
            else:
                self._by_key, self._problem = {e.key_id: e for e in entries}, None
            self._signature = signature
            self._checked.clear()

    def is_remembered(self, token: str) -> bool:
        """Whether :meth:`authenticate` answers ``token`` without running scrypt (cheap, no I/O).

        True for a token checked before (right or wrong) and for one that names no known key,
        which is refused at once; False means a scrypt check (~tens of ms of CPU) is due.
        """
        self.refresh()  # a key added to the file since the last look is known here too
        fingerprint = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if fingerprint in self._checked:
                return True
            by_key = self._by_key
        if not token.startswith(PREFIX):
            return True
        key_id, sep, _secret = token[len(PREFIX) :].partition("_")
        return not sep or key_id not in by_key

    def authenticate(self, token: str) -> TokenEntry | None:
        """Return the entry ``token`` belongs to, or ``None`` when it is not a valid token."""
        self.refresh()
        fingerprint = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if fingerprint in self._checked:
                return self._checked[fingerprint]
            by_key = self._by_key
        entry = self._verify(token, by_key)
        with self._lock:
            self._checked[fingerprint] = entry
            while len(self._checked) > self.CACHE_SIZE:
                self._checked.popitem(last=False)
        return entry

    @staticmethod
    def _verify(token: str, by_key: dict[str, TokenEntry]) -> TokenEntry | None:
        if not token.startswith(PREFIX):
            return None
        key_id, sep, secret = token[len(PREFIX) :].partition("_")
        entry = by_key.get(key_id)
        if not sep or entry is None:
            return None
        expected = bytes.fromhex(entry.digest)
        return entry if hmac.compare_digest(_hash(secret, bytes.fromhex(entry.salt)), expected) else None
