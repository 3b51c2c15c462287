"""The webhook channel, against ``httpx.MockTransport`` and a real HTTP server on 127.0.0.1.

An endpoint answers each POST with the next status of its script (200 once the script is used
up) and keeps what it was sent. Most tests answer in-process through the channel's
``transport`` parameter; the ones marked by the ``endpoint`` fixture run on both it and a real
server (an ephemeral port, a thread), so the real network path is exercised too, and a refused
connection is a real refused socket. Waits between retries go through an injected ``sleep``
that only records them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest

from ledger import Ledger
from projections import AlertManager, AlertSeverity, WebhookAlertChannel, WebhookError
from projections.alerting.alert_fold import Alert, AlertChannel
from tests.conftest import ManualClock


@dataclass
class Received:
    path: str
    headers: Mapping[str, str]  # case-insensitive, as HTTP headers are
    body: dict[str, Any]
    timeout: Mapping[str, float | None] = field(default_factory=dict)


@dataclass
class Endpoint:
    url: str
    statuses: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    transport: httpx.AsyncBaseTransport | None = None  # None: the real network

    def channel(self, **options: Any) -> WebhookAlertChannel:
        return WebhookAlertChannel(self.url, transport=self.transport, **options)


@pytest.fixture
def mock() -> Endpoint:
    endpoint = Endpoint(url="http://alerts.example/hooks/alerts")

    def answer(request: httpx.Request) -> httpx.Response:
        endpoint.received.append(
            Received(
                request.url.path,
                request.headers,
                json.loads(request.content),
                request.extensions.get("timeout", {}),
            )
        )
        return httpx.Response(endpoint.statuses.pop(0) if endpoint.statuses else 200, content=b"ok")

    endpoint.transport = httpx.MockTransport(answer)
    return endpoint


@pytest.fixture
def loopback() -> Iterator[Endpoint]:
    loopback = Endpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        timeout = 10  # a client that stalls cannot hold the test's server forever

        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            body = json.loads(self.rfile.read(length))
            loopback.received.append(Received(self.path, httpx.Headers(list(self.headers.items())), body))
            status = loopback.statuses.pop(0) if loopback.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            del format, args  # keep the test output clean

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    loopback.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/alerts"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield loopback
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


@pytest.fixture(params=["mock", "loopback"])
def endpoint(request: pytest.FixtureRequest) -> Endpoint:
    endpoint: Endpoint = request.getfixturevalue(request.param)
    return endpoint


class Waits:
    """Stands in for ``asyncio.sleep``: records the waits, does not wait."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


class Inbox(AlertChannel):
    def __init__(self) -> None:
        self.received: list[Alert] = []

    async def send(self, alert: Alert) -> None:
        self.received.append(alert)


@pytest.fixture
def manager(ledger: Ledger, clock: ManualClock) -> AlertManager:
    return AlertManager(ledger=ledger, clock=clock)


def test_an_alert_is_posted_as_slack_compatible_json_with_its_fields(
    endpoint: Endpoint, manager: AlertManager
) -> None:
    manager.add_channel("hook", endpoint.channel(headers={"Authorization": "Bearer t0k"}))

    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10, AlertSeverity.HIGH))

    (request,) = endpoint.received
    assert request.path == "/hooks/alerts"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer t0k"
    assert request.body["text"] == (
        "[HIGH] error_rate is 0.15 (threshold 0.1)\nMetric error_rate is 0.15, past its threshold 0.1."
    )
    sent = request.body["alert"]
    assert (sent["id"], sent["alert_type"], sent["source"], sent["severity"]) == (
        str(alert.id),
        "metric",
        "error_rate",
        "high",
    )
    assert (sent["current_value"], sent["threshold"], sent["timestamp"]) == (
        0.15,
        0.10,
        alert.timestamp.isoformat(),
    )
    assert [(d.channel, d.success) for d in alert.deliveries] == [("hook", True)]


def test_a_server_error_is_retried_with_backoff(endpoint: Endpoint, manager: AlertManager) -> None:
    endpoint.statuses = [500, 503]
    waits = Waits()
    manager.add_channel("hook", endpoint.channel(retries=3, backoff_seconds=0.5, sleep=waits))

    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert len(endpoint.received) == 3
    assert [r.body["alert"]["id"] for r in endpoint.received] == [str(alert.id)] * 3
    assert waits.seconds == [0.5, 1.0]
    assert [(d.channel, d.success) for d in alert.deliveries] == [("hook", True)]


def test_a_webhook_that_keeps_failing_loses_no_alert_and_stops_no_channel(
    mock: Endpoint, manager: AlertManager
) -> None:
    mock.statuses = [500, 500, 500]
    inbox = Inbox()
    manager.add_channel("hook", mock.channel(retries=2, sleep=Waits()))
    manager.add_channel("inbox", inbox)

    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))

    assert len(mock.received) == 3
    assert len(inbox.received) == 1
    hook, other = alert.deliveries
    assert (hook.success, other.success) == (False, True)
    assert hook.error == (
        f"WebhookError: webhook {mock.url} failed after 3 attempt(s): HTTP 500 Internal Server Error"
    )
    assert [a.id for a in manager.get_alerts()] == [alert.id]


def test_a_client_error_is_not_retried(mock: Endpoint) -> None:
    mock.statuses = [400]
    waits = Waits()
    channel = mock.channel(retries=3, sleep=waits)
    manager = AlertManager()
    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    manager.close()

    with pytest.raises(WebhookError, match="after 1 attempt"):
        asyncio.run(channel.send(alert))
    assert (len(mock.received), waits.seconds) == (1, [])


def test_too_many_requests_is_retried_like_a_server_error(mock: Endpoint) -> None:
    mock.statuses = [429]
    waits = Waits()
    channel = mock.channel(retries=3, backoff_seconds=2, sleep=waits)
    manager = AlertManager()
    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    manager.close()

    asyncio.run(channel.send(alert))
    assert (len(mock.received), waits.seconds) == (2, [2])


def test_each_attempt_has_the_timeout_and_a_timed_out_one_is_retried() -> None:
    timeouts: list[Mapping[str, float | None]] = []

    def stall_once(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        if len(timeouts) == 1:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(204)

    waits = Waits()
    channel = WebhookAlertChannel(
        "https://alerts.example/",
        timeout_seconds=2.5,
        retries=1,
        backoff_seconds=0.25,
        sleep=waits,
        transport=httpx.MockTransport(stall_once),
    )
    manager = AlertManager()
    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    manager.close()

    asyncio.run(channel.send(alert))
    assert timeouts == [dict.fromkeys(("connect", "read", "write", "pool"), 2.5)] * 2
    assert waits.seconds == [0.25]


def test_an_attempt_that_always_times_out_is_reported() -> None:
    def stall(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    channel = WebhookAlertChannel(
        "https://alerts.example/", retries=1, sleep=Waits(), transport=httpx.MockTransport(stall)
    )
    manager = AlertManager()
    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    manager.close()

    with pytest.raises(WebhookError, match="after 2 attempt") as caught:
        asyncio.run(channel.send(alert))
    assert caught.value.detail == "ReadTimeout: timed out"


def test_a_refused_connection_is_retried_then_reported() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now: every attempt is refused.
    waits = Waits()
    channel = WebhookAlertChannel(f"http://127.0.0.1:{port}/", retries=2, backoff_seconds=1, sleep=waits)
    manager = AlertManager()
    alert = asyncio.run(manager.trigger_metric_alert("error_rate", 0.15, 0.10))
    manager.close()

    with pytest.raises(WebhookError, match="after 3 attempt") as caught:
        asyncio.run(channel.send(alert))
    assert "Connection refused" in caught.value.detail
    assert waits.seconds == [1, 2]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "not a url"])
def test_only_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookAlertChannel(url)
