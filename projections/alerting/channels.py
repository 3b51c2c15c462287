"""Alert channels: a callback (sync or async), the ``logging`` module, and a JSON webhook with retries.

Channels raise when delivery failed; the alert manager records that and carries on with the
other channels. A sync callback runs in a worker thread, so a slow one (an HTTP client, say)
never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

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
        timeout_seconds: per attempt.
        retries: extra attempts after the first.
        backoff_seconds: the wait before the first retry.
        headers: extra request headers (an ``Authorization``, say).
        sleep: how to wait between attempts (injectable for tests).
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
        attempts = 0
        while True:
            attempts += 1
            try:
                await asyncio.to_thread(self._post, data)
                return
            except _AttemptFailedError as exc:
                if not exc.transient or attempts > self.retries:
                    raise WebhookError(self.url, attempts, str(exc)) from None
            await self.sleep(self.backoff_seconds * 2 ** (attempts - 1))

    def _post(self, data: bytes) -> None:
        request = urllib.request.Request(
            self.url,
            data=data,
            headers={"Content-Type": "application/json", "User-Agent": "rledger", **self.headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the response open; unclosed, it warns (and leaks a socket)
            detail = f"HTTP {exc.code} {exc.reason}"
            transient = exc.code >= 500 or exc.code in _RETRY_CLIENT_ERRORS
            raise _AttemptFailedError(detail, transient=transient) from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            # A timeout, a refused or reset connection: the next attempt may get through.
            raise _AttemptFailedError(f"{type(exc).__name__}: {exc}", transient=True) from None
