"""``rledger serve``: the ledger over HTTP (an ASGI app under uvicorn; needs the ``serve`` extra)."""

from __future__ import annotations

import argparse
from pathlib import Path

from reliability.commands.anchor import KEY_ENV, key_path, passphrase
from reliability.commands.output import EXIT_OK, Output
from reliability.service import AnchorSchedule, ServiceConfig, is_loopback, read_tokens

EXTRA = "pip install 'reliability-ledger[serve]'"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve``."""
    p = subparsers.add_parser("serve", help="serve the ledger over HTTP (API, OTLP, Prometheus)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default: 8000)")
    p.add_argument(
        "--tokens", type=Path, metavar="FILE", help="token file (rledger token create); re-read on change"
    )
    p.add_argument(
        "--max-body-mb", type=float, default=20.0, metavar="MB", help="largest request body (default: 20)"
    )
    p.add_argument(
        "--max-events", type=int, default=10_000, help="most events in one request (default: 10000)"
    )
    p.add_argument(
        "--request-timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="longest request, streams aside (default: 60)",
    )
    p.add_argument(
        "--metrics-agents",
        type=int,
        default=50,
        metavar="N",
        help="most agents /metrics labels (default: 50)",
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="allow a non-loopback address without --tokens (anyone who can connect may write)",
    )
    p.add_argument(
        "--anchor-every",
        type=float,
        metavar="SECONDS",
        help="sign the chain's head this often into --anchor-out (as rledger anchor), and at shutdown",
    )
    p.add_argument("--anchor-out", type=Path, metavar="DIR", help="the directory of signed heads")
    p.add_argument("--anchor-key", metavar="KEYFILE", help=f"the signing key (default: ${KEY_ENV})")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(run=run)


def config_from(args: argparse.Namespace) -> ServiceConfig:
    """The server's settings from the options, refusing an open bind and unusable limits.

    Raises:
        ValueError: a non-loopback host without ``--tokens`` or ``--insecure``, a bad limit, or
            an unreadable token file (the entry point exits 2).
    """
    if not is_loopback(args.host) and args.tokens is None and not args.insecure:
        raise ValueError(
            f"refusing to serve on {args.host} without --tokens: anyone who can reach it could write "
            "to the ledger (give --tokens FILE, or --insecure if that is what you want)"
        )
    if args.max_body_mb <= 0 or args.max_events <= 0 or args.request_timeout <= 0:
        raise ValueError("--max-body-mb, --max-events and --request-timeout must be positive")
    if not 0 < args.port < 65536:
        raise ValueError(f"--port {args.port} is not a TCP port")
    redaction = getattr(args, "redaction", None)
    if redaction is not None:
        from ledger import Redactor

        Redactor(redaction)  # a bad policy or a missing hash key stops the start, not the first POST
    if args.tokens is not None:
        if not args.tokens.exists():
            raise FileNotFoundError(
                f"token file '{args.tokens}' does not exist (rledger token create makes it)"
            )
        read_tokens(args.tokens)  # a broken file is an error now, not 401s later
    return ServiceConfig(
        anchor=anchor_schedule(args),
        url=args.db,
        tokens=args.tokens,
        max_body_bytes=int(args.max_body_mb * 2**20),
        max_events=args.max_events,
        request_timeout=args.request_timeout,
        metrics_agents=args.metrics_agents,
        redaction=getattr(args, "redaction", None),
    )


def anchor_schedule(args: argparse.Namespace) -> AnchorSchedule | None:
    """The periodic anchoring asked for, its key loaded now (``None`` when not asked for).

    Raises:
        ValueError: only one of ``--anchor-every`` and ``--anchor-out``, a period of 0 or less,
            or no key named.
        FileNotFoundError: the directory or the key file does not exist.
        AnchorError: the key file is readable by others, or its passphrase is missing or wrong.
    """
    every, out = getattr(args, "anchor_every", None), getattr(args, "anchor_out", None)
    if every is None and out is None:
        return None
    if every is None or out is None or every <= 0:
        raise ValueError("anchoring needs both --anchor-every SECONDS (> 0) and --anchor-out DIR")
    if not out.is_dir():
        raise FileNotFoundError(f"--anchor-out must be an existing directory: {out}")
    from ledger import load_anchor_key

    key = load_anchor_key(key_path(getattr(args, "anchor_key", None)), passphrase())
    return AnchorSchedule(every=every, out=out, key=key)


def run(args: argparse.Namespace, out: Output) -> int:
    """Serve until interrupted (SIGINT / SIGTERM: pending appends are committed first)."""
    config = config_from(args)
    try:
        import prometheus_client
        import uvicorn

        from reliability.service import create_app
    except ImportError as exc:
        raise ValueError(f"rledger serve needs the serve extra ({exc.name} is missing): {EXTRA}") from None
    prometheus_client.disable_created_metrics()  # type: ignore[no-untyped-call] # the *_created series only double a scrape's size
    auth = f"tokens from {args.tokens}" if args.tokens else "NO authentication"
    out.error(f"rledger serve: {config.url} on http://{args.host}:{args.port} ({auth})")
    uvicorn.run(
        create_app(config),
        host=args.host,
        port=args.port,
        workers=1,
        log_level=args.log_level,
        access_log=args.log_level == "debug",
        # A bounded number of connections: each may hold at most one body of max_body_bytes.
        limit_concurrency=1024,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=5,
        h11_max_incomplete_event_size=64 * 1024,
    )
    return EXIT_OK
