"""The master key: where it is read from, and the two keys derived from it (wrapping, pseudonyms).

The master key is 32 random bytes, given as base64 in ``$RLEDGER_MASTER_KEY`` or in a key file
(``?master_key_file=PATH`` on the ledger URL, else ``$RLEDGER_MASTER_KEY_FILE``). It never
leaves this object: not in a repr, a log line or an error message. Subject data keys are
stored wrapped by it (AES-GCM), and a subject's id is stored as a keyed pseudonym made with it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ledger.keys.errors import MasterKeyError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEY = "RLEDGER_MASTER_KEY"
"""The environment variable holding the master key (base64 of 32 bytes)."""
ENV_KEY_FILE = "RLEDGER_MASTER_KEY_FILE"
"""The environment variable naming a file that holds the master key (base64 of 32 bytes)."""
KEY_BYTES = 32
PSEUDONYM_PREFIX = "sub:"
"""How a stored subject starts: ``sub:`` and 32 hex digits of a keyed hash of the given id."""


class MasterKey:
    """A master key: wraps and unwraps subject data keys, and names subjects by keyed hash.

    Args:
        raw: the 32 key bytes.
        source: where it came from, for error messages (never the key).
    """

    __slots__ = ("_pseudonym_key", "_wrap", "source")

    def __init__(self, raw: bytes, source: str) -> None:
        if len(raw) != KEY_BYTES:
            raise MasterKeyError(source, f"a master key is {KEY_BYTES} bytes, this one is {len(raw)}")
        # The cipher loads with the first key (~40 ms): a ledger opened without one never needs it.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.source = source
        # Separate derived keys: a pseudonym never doubles as (or reveals) the wrapping key.
        self._wrap: AESGCM = AESGCM(hmac.digest(raw, b"rledger/wrap/v1", hashlib.sha256))
        self._pseudonym_key = hmac.digest(raw, b"rledger/subject/v1", hashlib.sha256)

    def __repr__(self) -> str:
        return f"MasterKey(source={self.source!r})"

    def pseudonym(self, subject: str) -> str:
        """Return the stored name of a subject: ``sub:`` + a keyed hash (the id itself is never stored).

        A subject already given as a pseudonym (an event read back and appended again) is kept.
        """
        if is_pseudonym(subject):
            return subject
        digest = hmac.new(self._pseudonym_key, subject.encode(), hashlib.sha256).hexdigest()
        return PSEUDONYM_PREFIX + digest[:32]

    def wrap(self, data_key: bytes, key_id: str) -> bytes:
        """Return ``data_key`` encrypted under the master key, bound to ``key_id``."""
        nonce = os.urandom(12)
        return nonce + self._wrap.encrypt(nonce, data_key, key_id.encode())

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        """Return the data key ``wrapped`` holds.

        Raises:
            MasterKeyError: this master key did not wrap it (a wrong key, or a row moved).
        """
        from cryptography.exceptions import InvalidTag

        try:
            return self._wrap.decrypt(wrapped[:12], wrapped[12:], key_id.encode())
        except (InvalidTag, ValueError):
            raise MasterKeyError(
                self.source, "it does not open the stored subject keys (a different master key?)"
            ) from None


def is_pseudonym(subject: str) -> bool:
    """Whether ``subject`` is already a stored pseudonym (``sub:`` and 32 hex digits)."""
    tail = subject[len(PSEUDONYM_PREFIX) :]
    hexdigits = "0123456789abcdef"
    return subject.startswith(PSEUDONYM_PREFIX) and len(tail) == 32 and all(c in hexdigits for c in tail)


def parse_master_key(text: str | bytes, source: str) -> MasterKey:
    """Return the master key that base64 ``text`` spells.

    Raises:
        MasterKeyError: not base64, or not 32 bytes.
    """
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError(source, "not valid base64 (expected base64 of 32 random bytes)") from None
    return MasterKey(raw, source)


def load_master_key(
    key_file: str | None = None, environ: Mapping[str, str] | None = None
) -> MasterKey | None:
    """Return the master key: from ``key_file``, else ``$RLEDGER_MASTER_KEY``, else its file (or ``None``).

    Raises:
        MasterKeyError: a key is given but cannot be read or used.
    """
    env = os.environ if environ is None else environ
    path = key_file or None
    if path is None and env.get(ENV_KEY):
        return parse_master_key(env[ENV_KEY], f"${ENV_KEY}")
    path = path or env.get(ENV_KEY_FILE) or None
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            text = f.read()
    except OSError as exc:
        raise MasterKeyError(f"key file {path}", f"cannot be read ({exc.strerror or exc})") from None
    return parse_master_key(text, f"key file {path}")


def new_master_key_text() -> str:
    """Return a fresh master key as base64 (what ``$RLEDGER_MASTER_KEY`` or a key file holds)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


__all__ = [
    "ENV_KEY",
    "ENV_KEY_FILE",
    "MasterKey",
    "is_pseudonym",
    "load_master_key",
    "new_master_key_text",
    "parse_master_key",
]
