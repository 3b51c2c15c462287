"""``rledger rebuild`` and ``follow``: keep the stored projections, from offset 0 or as events arrive."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from projections import CORE_PROJECTIONS, Projection, ProjectionRunner
from reliability.commands.anchor import KEY_ENV, key_path, write_signed_head
from reliability.commands.options import open_db
from reliability.commands.output import EXIT_OK, Output


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``rebuild`` and ``follow``."""
    p = subparsers.add_parser("rebuild", help="rebuild stored projections from offset 0, then switch over")
    p.add_argument("names", nargs="*", help="projections (default: all core ones)")
    p.add_argument("--wait", action="store_true", help="wait for another runner instead of failing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--save-every",
        type=int,
        default=100_000,
        metavar="N",
        help="save the shadow copy every N offsets on the way (default 100000)",
    )
    p.set_defaults(run=rebuild)

    p = subparsers.add_parser("follow", help="keep stored projections current as events arrive")
    p.add_argument("names", nargs="*", help="projections (default: all core ones)")
    p.add_argument("--wait", action="store_true", help="wait for another runner instead of failing")
    p.add_argument("--seconds", type=float, help="stop after this long (default: until Ctrl-C)")
    p.add_argument(
        "--save-interval",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="save at most this often while events keep coming (each save writes the states whole)",
    )
    p.add_argument(
        "--anchor-every",
        type=float,
        metavar="SECONDS",
        help="sign the chain's head this often and write it to --anchor-out (rledger anchor)",
    )
    p.add_argument("--anchor-out", metavar="DIR", help="the directory of signed heads (with --anchor-every)")
    p.add_argument("--anchor-key", metavar="KEYFILE", help=f"the signing key (default: ${KEY_ENV})")
    p.set_defaults(run=follow)


def selected(names: Sequence[str]) -> list[type[Projection]]:
    """The core projections named (all of them for none); an unknown name is an error."""
    known = {p.name: p for p in CORE_PROJECTIONS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[n] for n in names] if names else list(CORE_PROJECTIONS)


def rebuild(args: argparse.Namespace, out: Output) -> int:
    """Rebuild projections from offset 0 into a shadow copy, then switch over."""
    with open_db(args) as ledger:
        if args.save_every < 1:
            raise ValueError(f"--save-every must be a positive number of offsets, got {args.save_every}")
        runner = ProjectionRunner(ledger, selected(args.names), save_every=args.save_every)
        runner.acquire(wait=args.wait)
        try:
            total = ledger.latest_offset()
            started = time.perf_counter()
            with out.progress(total, "rebuilding", quiet=args.quiet) as progress:
                digests = runner.rebuild(progress=lambda done, _total: progress(done))
            elapsed = time.perf_counter() - started
        finally:
            runner.release()
    out.write(
        f"rebuilt {', '.join(digests)} over {total} event(s) in {elapsed:.2f}s "
        f"({total / elapsed if elapsed else 0:,.0f} events/s)"
    )
    for name, digest in digests.items():
        out.write(f"  {name:12} digest {digest}")
    return EXIT_OK


def follow(args: argparse.Namespace, out: Output) -> int:
    """Keep stored projections current as events arrive (Ctrl-C to stop); anchor periodically."""
    anchoring = args.anchor_every is not None or args.anchor_out is not None
    if anchoring:
        if args.anchor_every is None or args.anchor_out is None or args.anchor_every <= 0:
            raise ValueError("anchoring needs both --anchor-every SECONDS (> 0) and --anchor-out DIR")
        if not Path(args.anchor_out).is_dir():
            raise FileNotFoundError(f"--anchor-out must be an existing directory: {args.anchor_out}")
        key_file = key_path(args.anchor_key)
    with open_db(args) as ledger:
        runner = ProjectionRunner(ledger, selected(args.names))
        runner.acquire(wait=args.wait)
        deadline = None if args.seconds is None else time.monotonic() + args.seconds
        last = -1

        anchored_at: float | None = None

        def on_batch(position: int) -> None:
            nonlocal last, anchored_at
            if anchoring and (anchored_at is None or time.monotonic() - anchored_at >= args.anchor_every):
                out.write(f"anchored the head in {write_signed_head(ledger, key_file, args.anchor_out, out)}")
                anchored_at = time.monotonic()
            if position != last:
                out.write(f"{', '.join(runner.names)} at offset {position}", flush=True)
                last = position
            if deadline is not None and time.monotonic() >= deadline:
                runner.stop()

        try:
            runner.follow(idle_timeout=0.5, on_batch=on_batch, save_interval=args.save_interval)
        except KeyboardInterrupt:
            pass
        finally:
            runner.release()
    return EXIT_OK
