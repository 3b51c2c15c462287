"""Signed anchors: the chain's head (offset, chain value, time) kept outside the database.

The hash chain and its checkpoints live in the same database as the events, so anyone who can
write the database can rewrite a tail, a payload or everything consistently (see
:mod:`ledger.chain`). An anchor is the head at one moment, signed with an Ed25519 key and written
elsewhere — a file, a directory of heads, stdout for a ticket or a transparency log. ``verify``
with anchors recomputes the chain and proves that the ledger still extends every anchored head,
naming the first offset where it does not.

The private key is a PKCS#8 PEM file created with mode 0600 (refused when others can read it),
encrypted when a passphrase is given (``$RLEDGER_ANCHOR_PASSPHRASE`` for ``rledger``); its
public half is written beside it (``KEYFILE.pub``) and is what a verifier should trust. Nothing
here logs or prints a private key or a passphrase.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ledger.backends.base import LedgerBackend
from ledger.errors import AnchorError
from ledger.timeutil import as_utc

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# ``cryptography`` is imported where a key or signature is used, not with the ledger: it costs
# ~80 ms, and every ``rledger`` command imports the ledger.

FORMAT = "rledger-anchor-v1"
"""The anchor format's name: part of the signed message, so a signature means nothing else."""


@dataclass(frozen=True)
class Anchor:
    """A signed head of one ledger.

    Attributes:
        offset: the head's offset (0 for an empty ledger).
        chain: the chain value at that offset (32 bytes).
        recorded_at: the head's commit time (``None`` for an empty ledger).
        anchored_at: when the anchor was made.
        ledger: the ledger's URL, password redacted (a label; signed, not checked).
        public_key: the signer's raw Ed25519 public key (32 bytes).
        signature: the Ed25519 signature of :meth:`message` (64 bytes).
        source: where it was read from (empty for a new one).
    """

    offset: int
    chain: bytes
    recorded_at: datetime | None
    anchored_at: datetime
    ledger: str
    public_key: bytes
    signature: bytes
    source: str = ""

    def message(self) -> bytes:
        """The exact bytes signed: every field but the signature, one per line."""
        recorded = "" if self.recorded_at is None else self.recorded_at.isoformat()
        return "\n".join(
            (
                FORMAT,
                str(self.offset),
                self.chain.hex(),
                recorded,
                self.anchored_at.isoformat(),
                self.ledger,
                self.public_key.hex(),
            )
        ).encode()

    def signed_by(self, public_key: bytes | None = None) -> bool:
        """Whether the signature verifies with ``public_key`` (default: the anchor's own key).

        Only a key the verifier trusts proves who signed; the anchor's own key proves the file
        is whole.
        """
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        key = self.public_key if public_key is None else public_key
        if public_key is not None and public_key != self.public_key:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(self.signature, self.message())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> bytes:
        """The anchor as one JSON object (what ``rledger anchor`` writes)."""
        return orjson.dumps(
            {
                "format": FORMAT,
                "offset": self.offset,
                "chain": self.chain.hex(),
                "recorded_at": None if self.recorded_at is None else self.recorded_at.isoformat(),
                "anchored_at": self.anchored_at.isoformat(),
                "ledger": self.ledger,
                "public_key": self.public_key.hex(),
                "signature": self.signature.hex(),
            }
        )

    @classmethod
    def from_json(cls, data: bytes, source: str) -> Anchor:
        """Parse an anchor written by :meth:`to_json`.

        Raises:
            AnchorError: it is not one (the reason names the field).
        """
        try:
            doc = orjson.loads(data)
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                raise ValueError(f"not an anchor (format is not {FORMAT!r})")
            recorded = doc["recorded_at"]
            return cls(
                offset=int(doc["offset"]),
                chain=bytes.fromhex(doc["chain"]),
                recorded_at=None if recorded is None else datetime.fromisoformat(recorded),
                anchored_at=datetime.fromisoformat(doc["anchored_at"]),
                ledger=str(doc["ledger"]),
                public_key=bytes.fromhex(doc["public_key"]),
                signature=bytes.fromhex(doc["signature"]),
                source=source,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise AnchorError(source, f"unreadable anchor: {exc}") from None


# -- keys ----------------------------------------------------------------------------------


def new_anchor_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> bytes:
    """Create an Ed25519 signing key at ``path`` (mode 0600) and ``path.pub``; return the public key.

    Args:
        path: where the private key goes (never overwritten).
        passphrase: encrypt the key with it (PKCS#8, the library's best available encryption);
            without one the key is protected by its file mode alone, like an SSH key.

    Raises:
        FileExistsError: ``path`` exists.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    # Created 0600 in one step: the private key is never readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public = key.public_key()
    Path(f"{os.fspath(path)}.pub").write_bytes(
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def load_anchor_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Load a signing key made by :func:`new_anchor_key` (with its passphrase, if it has one).

    Raises:
        AnchorError: others can read the file, it is not an Ed25519 private key, or the
            passphrase is missing or wrong.
        FileNotFoundError: there is no such file.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise AnchorError(
            os.fspath(path), f"the key file is readable by others (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=passphrase or None)
    except TypeError:
        raise AnchorError(
            os.fspath(path),
            "the key is encrypted and no passphrase was given"
            if not passphrase
            else "the key is not encrypted",
        ) from None
    except ValueError:
        # Deliberately vague: the library says the same for a wrong passphrase and a bad file.
        raise AnchorError(os.fspath(path), "not a PEM private key, or a wrong passphrase") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(os.fspath(path), "not an Ed25519 key")
    return key


def load_public_key(path: str | os.PathLike[str], passphrase: bytes | None = None) -> bytes:
    """Return the raw public key in a ``.pub`` file (or the public half of a private key file).

    Raises:
        AnchorError: the file holds no Ed25519 key.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    data = Path(path).read_bytes()
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        public = load_anchor_key(path, passphrase).public_key()
    if not isinstance(public, Ed25519PublicKey):
        raise AnchorError(os.fspath(path), "not an Ed25519 public key")
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- anchors -------------------------------------------------------------------------------


def sign_head(backend: LedgerBackend, key: Ed25519PrivateKey, now: datetime) -> Anchor:
    """Return the ledger's current head, signed."""
    from cryptography.hazmat.primitives import serialization

    head = backend.head()
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    unsigned = Anchor(
        offset=head.offset if head else 0,
        chain=head.chain if head else bytes(32),
        recorded_at=head.recorded_at if head else None,
        anchored_at=as_utc(now),
        ledger=backend.url,
        public_key=public,
        signature=b"",
    )
    return Anchor(**{**unsigned.__dict__, "signature": key.sign(unsigned.message())})


def write_anchor(anchor: Anchor, out: str | os.PathLike[str]) -> Path:
    """Write ``anchor`` to the file ``out``, or into the directory ``out`` under its own name.

    A directory gets one file per head (``head-<offset>-<time>.json``), so it keeps a history;
    a file is replaced atomically.
    """
    target = Path(out)
    if target.is_dir():
        stamp = anchor.anchored_at.strftime("%Y%m%dT%H%M%S%fZ")
        target = target / f"head-{anchor.offset:020d}-{stamp}.json"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_bytes(anchor.to_json() + b"\n")
    os.replace(partial, target)
    return target


def read_anchors(path: str | os.PathLike[str]) -> list[Anchor]:
    """Read the anchor file ``path``, or every ``*.json`` anchor in the directory ``path``.

    Returns them by offset.

    Raises:
        AnchorError: a file is not an anchor; FileNotFoundError: ``path`` does not exist.
    """
    source = Path(path)
    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    anchors = [Anchor.from_json(f.read_bytes(), str(f)) for f in files]
    return sorted(anchors, key=lambda a: (a.offset, a.anchored_at))


def anchor_pins(
    anchors: Sequence[Anchor], public_key: bytes | None
) -> tuple[dict[int, bytes], list[tuple[int, str]]]:
    """Return the chain values the anchors vouch for, by offset, and what is wrong with any.

    An anchor whose signature does not verify (with ``public_key``, else its own key) pins
    nothing and is reported; two valid anchors that disagree about one offset are reported.
    """
    pins: dict[int, bytes] = {}
    problems: list[tuple[int, str]] = []
    for anchor in anchors:
        if not anchor.signed_by(public_key):
            whose = "the trusted key" if public_key is not None else "its own key"
            problems.append(
                (anchor.offset, f"anchor {anchor.source}: the signature does not verify with {whose}")
            )
            continue
        if pins.setdefault(anchor.offset, anchor.chain) != anchor.chain:
            problems.append(
                (anchor.offset, f"anchor {anchor.source} disagrees with another anchor of this offset")
            )
    return pins, problems


__all__ = [
    "Anchor",
    "anchor_pins",
    "load_anchor_key",
    "load_public_key",
    "new_anchor_key",
    "read_anchors",
    "sign_head",
    "write_anchor",
]
