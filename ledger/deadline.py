"""Deadlines: how long one append or read may wait on its store, and the ``timeout`` URL option.

Every ledger has a deadline in seconds (:data:`DEFAULT_TIMEOUT` unless ``open_ledger(url,
timeout=…)`` or the URL's ``?timeout=S`` says otherwise). Each round of work with the store —
one write transaction, one page of a read — must finish within it, on every backend; one that
does not raises :class:`~ledger.errors.BackendTimeoutError` naming the operation and the
deadline. The option's name and its parsing live here, once, for every backend
(:func:`timeout_of`, :func:`without_timeout`).

A caller that waited in a queue first (group commit) narrows the store's deadline to its own
with :func:`until`: the backends read :func:`remaining`, which is the nearer of the scope's end
and the backend's own deadline.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlsplit

from ledger.errors import InvalidURLOptionError

DEFAULT_TIMEOUT = 5.0
"""Seconds one append or read may wait on its store unless the ledger was given another."""

TIMEOUT_OPTION = "timeout"
"""The URL query parameter (and ``open_ledger`` argument) that sets a ledger's deadline."""

_scope = threading.local()


def parse_timeout(value: object, url: str) -> float:
    """Return ``value`` as a deadline in seconds (a positive, finite number).

    Raises:
        InvalidURLOptionError: it is not one (the error names the URL and the value).
    """
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidURLOptionError(url, TIMEOUT_OPTION, str(value), "a positive number of seconds")
    return seconds


def timeout_of(url: str, timeout: float | None = None, shown: str | None = None) -> float:
    """Return a ledger's deadline: ``timeout`` if given, else the URL's ``?timeout=``, else the default.

    Args:
        url: the ledger URL (its query may carry ``timeout``).
        timeout: an explicit deadline (``open_ledger(url, timeout=…)``), which wins.
        shown: the URL as errors show it (password redacted); ``url`` if not given.

    Raises:
        InvalidURLOptionError: the deadline is not a positive, finite number.
    """
    shown = url if shown is None else shown
    if timeout is not None:
        return parse_timeout(timeout, shown)
    given = [v for k, v in parse_qsl(urlsplit(url).query) if k == TIMEOUT_OPTION]
    return parse_timeout(given[-1], shown) if given else DEFAULT_TIMEOUT


def without_timeout(url: str) -> str:
    """Return ``url`` without its ``timeout`` parameter (for a client that parses the rest).

    The rest of the URL is kept as written (re-assembling it would drop the empty host of
    ``sqlite:////abs/path``).
    """
    base, sep, query = url.partition("?")
    if not sep:
        return url
    fragment = ""
    if "#" in query:
        query, _, fragment = query.partition("#")
        fragment = "#" + fragment
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] != TIMEOUT_OPTION]
    return base + ("?" + "&".join(kept) if kept else "") + fragment


@contextmanager
def until(when: float | None, operation: str | None = None) -> Iterator[None]:
    """Narrow this thread's store deadline to the monotonic time ``when`` (``None``: no change).

    ``operation`` names what is waiting (``"append"``) for the errors raised meanwhile.
    """
    previous = getattr(_scope, "when", None)
    previous_operation = getattr(_scope, "operation", None)
    if when is not None and (previous is None or when < previous):
        _scope.when = when
    if operation is not None:
        _scope.operation = operation
    try:
        yield
    finally:
        _scope.when = previous
        _scope.operation = previous_operation


def operation(default: str) -> str:
    """What this thread is waiting for (as :func:`until` named it), else ``default``."""
    named: str | None = getattr(_scope, "operation", None)
    return named or default


def remaining(timeout: float) -> float:
    """Seconds left for this thread's store operation: ``timeout``, or less inside :func:`until`."""
    when: float | None = getattr(_scope, "when", None)
    if when is None:
        return timeout
    return min(timeout, when - time.monotonic())


def scoped() -> bool:
    """Whether a narrower deadline is in force (:func:`until`) on this thread."""
    return getattr(_scope, "when", None) is not None
