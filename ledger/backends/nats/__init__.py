"""The ``nats://host:port[,host:port…]/LEDGER[?replicas=3][&timeout=S]`` backend: NATS JetStream.

``tls://`` serves TLS; ``user:password@`` or ``token@`` in the URL are passed to the client.
Needs the ``nats-py`` client, an extra: ``pip install 'reliability-ledger[nats]'``, and a
nats-server 2.12 or later (atomic batch publish). This module imports the client only when a
URL is opened, so the registry can list the backend without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ledger.deadline import DEFAULT_TIMEOUT, parse_timeout
from ledger.errors import BackendSetupError, UnsupportedURLError

if TYPE_CHECKING:
    from ledger.backends.nats.recorder import NatsLedgerRecorder

SCHEMES = ("nats", "tls")
"""The URL schemes this backend serves."""

INSTALL_HINT = "pip install 'reliability-ledger[nats]'"


def _number(url: str, value: str, *, integer: bool = False) -> float:
    try:
        number = int(value) if integer else float(value)
    except ValueError:
        raise UnsupportedURLError(url) from None
    if number <= 0:
        raise UnsupportedURLError(url)
    return number


def from_url(
    url: str, shown: str, *, create: bool = True, timeout: float = DEFAULT_TIMEOUT
) -> NatsLedgerRecorder:
    """Connect to the cluster a URL names and open (creating) the ledger its path names.

    Args:
        url: ``nats://[user:password@]host:port[,host:port…]/LEDGER[?replicas=N][&timeout=S]``;
            the ledger name (letters, digits, ``-`` and ``_``) defaults to ``ledger``;
            ``replicas`` (default 1) is the stream's replication factor when it is created;
            ``timeout`` the seconds each call may wait (``ledger.url`` parses it once for every
            backend and passes it as ``timeout``).
        shown: the URL with any password redacted (kept as the backend's ``url``).
        create: ignored (accepted so every backend opens alike).
        timeout: the ledger's deadline in seconds (``open_ledger(url, timeout=…)`` or ``?timeout=``).

    Raises:
        UnsupportedURLError: a malformed ledger name, ``replicas`` or ``timeout``.
        BackendSetupError: ``nats-py`` is not installed, the cluster cannot be reached, or
            its server is older than 2.12.
    """
    del create  # a server's ledger is not a file a mistyped path would create
    from ledger.backends.nats.layout import LEDGER_NAME

    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"replicas", "timeout"}
    ledger = parts.path.strip("/") or "ledger"
    if unknown or not LEDGER_NAME.match(ledger) or not parts.netloc:
        raise UnsupportedURLError(url)
    replicas = int(_number(url, query.get("replicas", "1"), integer=True))
    if "timeout" in query:  # a caller that bypassed ledger.url: parse it the shared way
        timeout = parse_timeout(query["timeout"], shown)
    auth, _, hosts = parts.netloc.rpartition("@")
    options: dict[str, Any] = {}
    if auth:
        user, colon, password = auth.partition(":")
        if colon:
            options.update(user=unquote(user), password=unquote(password))
        else:
            options["token"] = unquote(user)
    servers = [f"{parts.scheme}://{host}" for host in hosts.split(",") if host]
    try:
        from ledger.backends.nats.recorder import open_nats
    except ImportError as exc:
        if exc.name is None or not exc.name.startswith("nats"):
            raise
        raise BackendSetupError(shown, f"the NATS backend needs the nats-py client: {INSTALL_HINT}") from exc
    return open_nats(servers, ledger=ledger, replicas=replicas, timeout=timeout, url=shown, options=options)


__all__ = ["SCHEMES", "from_url"]
