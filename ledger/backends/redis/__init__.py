"""The ``redis://host:port/db[?prefix=p][&ttl_days=N]`` backend (``rediss://`` for TLS): shared and fast.

Needs the ``redis`` client, an extra: ``pip install 'reliability-ledger[redis]'``. This module
imports it only when a URL is opened, so the registry can list the backend without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

from ledger.deadline import DEFAULT_TIMEOUT
from ledger.errors import BackendSetupError, InvalidURLOptionError

if TYPE_CHECKING:
    from ledger.backends.redis.recorder import RedisLedgerRecorder

SCHEMES = ("redis", "rediss")
"""The URL schemes this backend serves."""

LEDGER_PARAMS = ("prefix", "ttl_days")
"""Query parameters the ledger reads (the Redis client reads the rest)."""

INSTALL_HINT = "pip install 'reliability-ledger[redis]'"


def from_url(
    url: str, shown: str, *, create: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> RedisLedgerRecorder:
    """Connect to the Redis database a URL names and open (creating) the ledger under its prefix.

    Args:
        url: ``redis://[:password@]host:port/db[?prefix=name][&ttl_days=N]``; the prefix defaults
            to ``ledger``; ``ttl_days`` becomes the backend's ``ttl_days`` (see
            :func:`ledger.open_ledger`). Other parameters go to the client.
        shown: the URL with any password redacted (kept as the backend's ``url``).
        create: ignored (accepted so every backend opens alike).
        timeout: the deadline in seconds of every command (see :mod:`ledger.deadline`).

    Raises:
        InvalidURLOptionError: ``ttl_days`` is not a number.
        BackendSetupError: the ``redis`` client is not installed, or the server cannot be
            reached or may evict the ledger's keys.
    """
    del create  # a server's ledger is not a file a mistyped path would create
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query)
    ours = {k: v for k, v in pairs if k in LEDGER_PARAMS}
    ttl_days: float | None = None
    if "ttl_days" in ours:
        try:
            ttl_days = float(ours["ttl_days"])
        except ValueError:
            raise InvalidURLOptionError(shown, "ttl_days", ours["ttl_days"], "a number of days") from None
    try:
        from ledger.backends.redis.recorder import open_redis
    except ImportError as exc:
        if exc.name != "redis":
            raise
        raise BackendSetupError(shown, f"the Redis backend needs the redis client: {INSTALL_HINT}") from exc
    # The ledger's own parameters are not the client's: strip them before it parses the rest.
    client_url = parts._replace(
        query=urlencode([(k, v) for k, v in pairs if k not in LEDGER_PARAMS])
    ).geturl()
    backend = open_redis(client_url, prefix=ours.get("prefix", "ledger"), url=shown, timeout=timeout)
    backend.ttl_days = ttl_days
    return backend


__all__ = ["SCHEMES", "from_url"]
