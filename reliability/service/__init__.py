"""``rledger serve``: the ledger over HTTP (events in and out, reports, trails, OTLP, Prometheus, tokens).

The server needs the ``serve`` extra (Starlette, uvicorn, prometheus_client); tokens do not, so
``rledger token`` works on the core install. :func:`create_app` is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reliability.service.config import AnchorSchedule, ServiceConfig, is_loopback
from reliability.service.tokens import (
    SCOPES,
    TokenEntry,
    TokenFileError,
    TokenStore,
    create_token,
    read_tokens,
    revoke_token,
)

if TYPE_CHECKING:
    from reliability.service.app import create_app

__all__ = [
    "SCOPES",
    "AnchorSchedule",
    "ServiceConfig",
    "TokenEntry",
    "TokenFileError",
    "TokenStore",
    "create_app",
    "create_token",
    "is_loopback",
    "read_tokens",
    "revoke_token",
]


def __getattr__(name: str) -> Any:
    """Import :func:`create_app` (and with it Starlette) only when a server is built."""
    if name == "create_app":
        from reliability.service.app import create_app

        return create_app
    raise AttributeError(f"module 'reliability.service' has no attribute '{name}'")
