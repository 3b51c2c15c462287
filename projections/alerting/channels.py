"""Alert channels: a callback (sync or async), the ``logging`` module, and a JSON webhook with retries.

Channels raise when delivery failed; the alert manager records that and carries on with the
other channels. A sync callback runs in a worker thread, so a slow one (an HTTP client, say)
never blocks the event loop; the webhook posts with ``httpx``'s async client, on the loop itself.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

from ledger import LedgerError
from projections.alerting.alert_fold import Alert, AlertChannel, AlertSeverity

AlertCallback = Callable[[Alert], object]
"""Called with each alert; may return an awaitable (an ``async`` function), which is awaited."""
Sleep = Callable[[float], Awaitable[None]]


class CallbackAlertChannel(AlertChannel):
    """Hands each alert to a function, plain or ``async``."""

    def __init__(self, callback: AlertCallback) -> None:
        self.callback = callback

    async def send(self, alert: Alert) -> None:
        """Call the callback (a plain one in a worker thread) and await what it returns."""
        if inspect.iscoroutinefunction(self.callback):
            await self.callback(alert)
            return
        result = await asyncio.to_thread(self.callback, alert)
        if inspect.isawaitable(result):
            await result


_LEVELS = {
    AlertSeverity.INFO: logging.INFO,
    AlertSeverity.WARNING: logging.WARNING,
    AlertSeverity.HIGH: logging.ERROR,
    AlertSeverity.CRITICAL: logging.CRITICAL,
}


class LogAlertChannel(AlertChannel):
    """Logs each alert at a level matching its severity (HIGH logs as ERROR)."""

    def __init__(self, logger: logging.Logger | str = "rledger.alerts") -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    async def send(self, alert: Alert) -> None:
        """Log the alert with its fields as ``extra``."""
        self.logger.log(
            _LEVELS[alert.severity],
            "[%s] %s: %s",
            alert.severity.value.upper(),
            alert.title,
            alert.message,
            extra={"alert": alert.to_json()},
        )


class WebhookError(LedgerError):
    """A webhook did not accept an alert (after its retries)."""

    def __init__(self, url: str, attempts: int, detail: str) -> None:
        self.url = url
        self.attempts = attempts
        self.detail = detail
        super().__init__(f"webhook {url} failed after {attempts} attempt(s): {detail}")


class _AttemptFailedError(Exception):
    """One attempt failed; ``transient`` says whether another attempt could succeed."""

    def __init__(self, detail: str, *, transient: bool) -> None:
        super().__init__(detail)
        self.transient = transient


# Client errors other than these will fail the same way again: no retry.
_RETRY_CLIENT_ERRORS = {408, 425, 429}


class WebhookAlertChannel(AlertChannel):
    """POSTs each alert as JSON: a Slack-compatible ``{"text": …}`` plus the alert's fields.

    Server errors, timeouts and connection failures are retried ``retries`` times with
    exponential backoff (``backoff_seconds``, doubling); other client errors are not.

    Args:
        url: an ``http://`` or ``https://`` URL.
        timeout_seconds: per attempt (connecting, writing, reading, each).
        retries: extra attempts after the first.
        backoff_seconds: the wait before the first retry.
        headers: extra request headers (an ``Authorization``, say).
        sleep: how to wait between attempts (injectable for tests).
        transport: the ``httpx`` transport requests go through; by default the network. Tests
            pass an ``httpx.MockTransport`` to answer in-process.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 10.0,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        headers: Mapping[str, str] | None = None,
        sleep: Sleep = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"a webhook needs an http:// or https:// URL, got '{url}'")
        if retries < 0 or timeout_seconds <= 0 or backoff_seconds < 0:
            raise ValueError("retries and backoff_seconds must be >= 0 and timeout_seconds > 0")
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.headers = dict(headers or {})
        self.sleep = sleep
        self.transport = transport

    @staticmethod
    def body(alert: Alert) -> dict[str, Any]:
        """The JSON posted for ``alert``."""
        text = f"[{alert.severity.value.upper()}] {alert.title}"
        if alert.message:
            text += f"\n{alert.message}"
        return {"text": text, "alert": alert.to_json()}

    async def send(self, alert: Alert) -> None:
        """POST the alert; raise :class:`WebhookError` when every attempt failed."""
        data = orjson.dumps(self.body(alert))
        # A client per send, not per channel: a client's connections belong to the event loop
        # that opened them, and a channel may outlive its loop (the CLI runs one per check).
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout_seconds, follow_redirects=False
        ) as client:
            attempts = 0
            while True:
                attempts += 1
                try:
                    await self._post(client, data)
                    return
                except _AttemptFailedError as exc:
                    if not exc.transient or attempts > self.retries:
                        raise WebhookError(self.url, attempts, str(exc)) from None
                await self.sleep(self.backoff_seconds * 2 ** (attempts - 1))

    async def _post(self, client: httpx.AsyncClient, data: bytes) -> None:
        try:
            response = await client.post(
                self.url,
                content=data,
                headers={"Content-Type": "application/json", "User-Agent": "rledger", **self.headers},
            )
        except httpx.TransportError as exc:
            # A timeout, a refused or reset connection: the next attempt may get through.
            raise _AttemptFailedError(_describe(exc), transient=True) from None
        if response.is_success:
            return
        detail = f"HTTP {response.status_code} {response.reason_phrase}"
        code = response.status_code
        transient = code >= 500 or code in _RETRY_CLIENT_ERRORS
        raise _AttemptFailedError(detail, transient=transient)


def _describe(exc: httpx.TransportError) -> str:
    """The error's type and message, plus the operating system's reason when it had one.

    httpx words a refused connection as its asyncio cause does ("Connect call failed"); the
    ``strerror`` underneath ("Connection refused") is what an operator searches for.
    """
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            reason = os.strerror(cause.errno)
            return text if reason in text else f"{text} ({reason})"
        cause = cause.__cause__ or cause.__context__
    return text
