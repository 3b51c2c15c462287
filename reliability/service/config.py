"""What a server is started with: the ledger, the token file and the limits that bound a client."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["AnchorSchedule", "ServiceConfig", "is_loopback"]

MIB = 2**20


@dataclass(frozen=True)
class AnchorSchedule:
    """Periodic signed heads (``rledger serve --anchor-every S --anchor-out DIR``).

    Attributes:
        every: seconds between anchors; a head that has not moved since the last one is not
            signed again.
        out: the directory of signed heads (one file each, as ``rledger anchor --out DIR``).
        key: the Ed25519 signing key, loaded (and unlocked) when the server starts, so a wrong
            passphrase or an exposed key file stops the start, not the first anchor.
    """

    every: float
    out: Path
    key: Any = field(repr=False)  # an Ed25519PrivateKey: never in a repr or a log line


@dataclass(frozen=True)
class ServiceConfig:
    """Settings of one ``rledger serve``.

    Attributes:
        url: the ledger URL.
        tokens: the token file; ``None`` serves without authentication (loopback or
            ``--insecure`` only).
        max_body_bytes: largest request body; a larger one is 413 before it is read whole.
        max_events: most events in one POST (413 past it).
        max_line_bytes: longest NDJSON line (413 past it).
        body_timeout: seconds a client may take to send its body (408 after).
        request_timeout: seconds a non-streaming request may take in all (503 after).
        max_page: most events one ``GET /v1/events`` returns (its ``limit`` is capped to it).
        metrics_agents: most agents ``/metrics`` labels (the first by name; the rest are summed
            in no label and counted in ``rledger_metrics_agents_dropped``).
        metrics_cache_seconds: a scrape within this of the last one is answered from it.
        sse_heartbeat_seconds: an idle event stream sends a comment this often.
        anchor: sign the chain's head periodically into a directory (``None``: never).
        redaction: the redaction policy's JSON file applied to HTTP and OTLP ingest (``None``: none).
    """

    url: str
    tokens: Path | None = None
    max_body_bytes: int = 20 * MIB
    max_events: int = 10_000
    max_line_bytes: int = 1 * MIB
    body_timeout: float = 30.0
    request_timeout: float = 60.0
    max_page: int = 10_000
    metrics_agents: int = 50
    metrics_cache_seconds: float = 5.0
    sse_heartbeat_seconds: float = 15.0
    anchor: AnchorSchedule | None = None
    redaction: str | None = None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) binds only to this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
