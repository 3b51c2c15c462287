"""``rledger token create|revoke|list``: API tokens in a token file (salted hashes only, never a token)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reliability.commands.output import EXIT_OK, Output
from reliability.service import SCOPES, create_token, read_tokens, revoke_token


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``token`` and its actions."""
    p = subparsers.add_parser("token", help="create, revoke or list API tokens for rledger serve")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("--tokens", type=Path, required=True, metavar="FILE", help="the token file")
        # The global --db is accepted here too, as after every command (tokens do not use it).
        sub.add_argument("--db", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        return sub

    create = action("create", "add a token; it is printed once, as the last line")
    create.add_argument("--scope", choices=SCOPES, required=True, help="admin implies ingest and read")
    create.add_argument("--name", help="a name to revoke it by (default: SCOPE-KEYID)")
    create.set_defaults(run=create_command)
    revoke = action("revoke", "remove a token by name (the server stops taking it at once)")
    revoke.add_argument("name")
    revoke.set_defaults(run=revoke_command)
    action("list", "the tokens' names, scopes and creation times").set_defaults(run=list_command)


def create_command(args: argparse.Namespace, out: Output) -> int:
    """Add a token to the file and print it (the last line of stdout); only its hash is kept."""
    entry, token = create_token(args.tokens, args.scope, args.name)
    out.error(f"created token '{entry.name}' ({entry.scope}) in {args.tokens}; it is shown once, below")
    out.write(token)
    return EXIT_OK


def revoke_command(args: argparse.Namespace, out: Output) -> int:
    """Remove the named token (not in the file: exit 2)."""
    entry = revoke_token(args.tokens, args.name)
    out.write(f"revoked token '{entry.name}' ({entry.scope})")
    return EXIT_OK


def list_command(args: argparse.Namespace, out: Output) -> int:
    """Print each token's name, scope and creation time (never a secret: none is stored)."""
    for entry in read_tokens(args.tokens):
        out.write(f"{entry.name}\t{entry.scope}\tcreated {entry.created_at}")
    return EXIT_OK
