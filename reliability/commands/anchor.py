"""``rledger anchor``: sign the chain's head and keep it outside the database (or make a key).

``rledger anchor --new-key KEYFILE`` creates an Ed25519 key (mode 0600, public half in
``KEYFILE.pub``); ``rledger anchor --out FILE|DIR|- [--key KEYFILE]`` writes the current head,
signed, to a file, into a directory of heads, or to stdout. ``rledger verify --anchor FILE|DIR``
checks the ledger against them; ``rledger follow --anchor-every S --anchor-out DIR`` anchors
periodically.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ledger import Ledger, load_anchor_key, new_anchor_key, sign_head, write_anchor
from reliability.commands.options import open_db
from reliability.commands.output import EXIT_OK, Output

KEY_ENV = "RLEDGER_ANCHOR_KEY"
"""The signing key file used when ``--key`` is not given."""

PASSPHRASE_ENV = "RLEDGER_ANCHOR_PASSPHRASE"
"""When set, the passphrase that encrypts a new key and unlocks the signing key (never an option:
command lines are visible to other users)."""


def passphrase() -> bytes | None:
    """The key's passphrase from ``$RLEDGER_ANCHOR_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode() if value else None


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``anchor``."""
    p = subparsers.add_parser(
        "anchor", help="sign the chain's head and write it outside the database (or create a key)"
    )
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument(
        "--out",
        metavar="FILE|DIR|-",
        help="where the signed head goes: a file, a directory of heads, - for stdout",
    )
    what.add_argument(
        "--new-key", metavar="KEYFILE", help="create an Ed25519 signing key (mode 0600) and KEYFILE.pub"
    )
    p.add_argument("--key", metavar="KEYFILE", help=f"the signing key (default: ${KEY_ENV})")
    p.set_defaults(run=anchor)


def key_path(given: str | None) -> str:
    """The signing key file: ``given``, else ``$RLEDGER_ANCHOR_KEY``.

    Raises:
        ValueError: neither names one.
    """
    path = given or os.environ.get(KEY_ENV)
    if not path:
        raise ValueError(
            f"no signing key: pass --key KEYFILE or set ${KEY_ENV} "
            "(create one with `rledger anchor --new-key KEYFILE`)"
        )
    return path


def write_signed_head(ledger: Ledger, key_file: str, out: str, output: Output) -> str:
    """Sign the head of ``ledger`` and write it to ``out`` (``-``: stdout); return where it went."""
    anchor = sign_head(ledger.backend, load_anchor_key(key_file, passphrase()), ledger.clock())
    if out == "-":
        output.write_bytes(anchor.to_json() + b"\n")
        return "stdout"
    return str(write_anchor(anchor, out))


def anchor(args: argparse.Namespace, out: Output) -> int:
    """Create a key, or sign the head and write it."""
    if args.new_key:
        try:
            public = new_anchor_key(args.new_key, passphrase())
        except FileExistsError:
            raise ValueError(
                f"{args.new_key} exists: a key is never overwritten (choose another path)"
            ) from None
        encrypted = f", encrypted with ${PASSPHRASE_ENV}" if passphrase() else ""
        out.write(f"created signing key {args.new_key} (mode 0600{encrypted}; keep it private)")
        out.write(f"public key {public.hex()} in {args.new_key}.pub (for verifiers: verify --trusted-key)")
        return EXIT_OK
    key_file = key_path(args.key)
    if args.out != "-" and not Path(args.out).parent.exists():
        raise FileNotFoundError(f"no such directory for --out: {Path(args.out).parent}")
    with open_db(args) as ledger:
        where = write_signed_head(ledger, key_file, args.out, out)
        head = ledger.backend.head()
    if args.out != "-":
        out.write(f"anchored head at offset {head.offset if head else 0} in {where}")
    return EXIT_OK
