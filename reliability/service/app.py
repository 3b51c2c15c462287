"""The ASGI application: routes, the error shape on every answer, request metrics, timeouts, lifespan.

:func:`create_app` builds a Starlette app for one :class:`ServiceConfig`; the ledger is opened
when the server starts (lifespan) and closed, pending group commits flushed, when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger import open_ledger
from reliability.service.admin import post_forget
from reliability.service.anchoring import Anchorer
from reliability.service.config import ServiceConfig
from reliability.service.dashboard.routes import ROUTES as DASHBOARD_ROUTES
from reliability.service.ingest import post_events, post_traces
from reliability.service.openapi import openapi_document
from reliability.service.problems import ApiError, error_body
from reliability.service.prometheus import CONTENT_TYPE, ServerMetrics
from reliability.service.reads import get_events, stream_events
from reliability.service.state import HeadWatcher, ServiceState, require, service_of
from reliability.service.tokens import TokenStore
from reliability.service.views import get_report, get_trail, get_verify, get_workflows

__all__ = ["create_app"]

_log = logging.getLogger(__name__)
STREAMS = ("/v1/events/stream",)
"""Paths whose answers last as long as the client stays: no request timeout."""


def _error(status: int, error: str, headers: dict[str, str] | None = None, problems: Any = ()) -> Response:
    return Response(
        error_body(error, problems), status_code=status, media_type="application/json", headers=headers
    )


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.error, exc.headers, exc.problems)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such endpoint: {request.url.path} (see /openapi.json)"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return _error(exc.status_code, message, dict(exc.headers or {}))


async def _server_error(request: Request, exc: Exception) -> Response:
    _log.exception("unhandled error answering %s %s", request.method, request.url.path)
    return _error(500, f"internal error: {type(exc).__name__}")


async def healthz(request: Request) -> Response:
    """The process is up."""
    del request
    return Response(b'{"status":"ok"}', media_type="application/json")


async def readyz(request: Request) -> Response:
    """The ledger answers (its head offset), within 5 s."""
    state = service_of(request)
    try:
        async with asyncio.timeout(5):
            head = await run_in_threadpool(state.ledger.latest_offset)
    except Exception as exc:  # any failure to answer is "not ready", said with its reason
        return _error(503, f"the ledger is not reachable: {type(exc).__name__}: {exc}", {"Retry-After": "1"})
    return Response(orjson.dumps({"status": "ready", "head_offset": head}), media_type="application/json")


async def openapi(request: Request) -> Response:
    """The OpenAPI document."""
    del request
    return Response(orjson.dumps(openapi_document()), media_type="application/json")


async def metrics(request: Request) -> Response:
    """The Prometheus exposition (ledger numbers read in a worker thread)."""
    state = require(request, "read")
    return Response(await run_in_threadpool(state.metrics.render), media_type=CONTENT_TYPE)


ROUTES = [
    Route("/v1/events", post_events, methods=["POST"]),
    Route("/v1/events", get_events, methods=["GET"]),
    Route("/v1/events/stream", stream_events, methods=["GET"]),
    Route("/v1/traces", post_traces, methods=["POST"]),
    Route("/v1/report", get_report, methods=["GET"]),
    Route("/v1/workflows", get_workflows, methods=["GET"]),
    Route("/v1/workflows/{workflow_id}/trail", get_trail, methods=["GET"]),
    Route("/v1/verify", get_verify, methods=["GET"]),
    Route("/v1/admin/forget", post_forget, methods=["POST"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/openapi.json", openapi, methods=["GET"]),
    *DASHBOARD_ROUTES,
]


class _Edge:
    """Outermost middleware: counts and times every answer by route template, bounds its time."""

    def __init__(self, app: ASGIApp, config: ServiceConfig, server_metrics: ServerMetrics) -> None:
        self.app = app
        self.config = config
        self.metrics = server_metrics
        # scrypt checks of tokens not seen before run in threads, at most this many at once: a
        # stranger sending new wrong secrets for a known key id costs CPU in those threads, not
        # the event loop every other request is served on.
        self._scrypt_slots = asyncio.Semaphore(2)

    async def _check_token_off_loop(self, scope: Scope) -> None:
        """Verify a bearer token not seen before in a thread, so the handler's check is a lookup."""
        state = getattr(getattr(scope.get("app"), "state", None), "service", None)
        store = getattr(state, "tokens", None)
        if store is None:
            return
        for name, value in scope["headers"]:
            if name == b"authorization":
                kind, _, token = value.decode("latin-1").partition(" ")
                token = token.strip()
                if kind.lower() == "bearer" and token and not store.is_remembered(token):
                    async with self._scrypt_slots:
                        await run_in_threadpool(store.authenticate, token)
                return

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        answered = False

        async def send_status(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
            await send(message)

        try:
            if scope["path"] in STREAMS:
                await self._check_token_off_loop(scope)
                await self.app(scope, receive, send_status)
            else:
                async with asyncio.timeout(self.config.request_timeout):
                    await self._check_token_off_loop(scope)
                    await self.app(scope, receive, send_status)
        except TimeoutError:
            if not answered:
                timeout = self.config.request_timeout
                response = _error(
                    503, f"the request did not finish within {timeout:g} s", {"Retry-After": "1"}
                )
                await response(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)


def create_app(config: ServiceConfig) -> Starlette:
    """The server for ``config``: open the ledger at start-up, close it (flushing) at shutdown."""
    server_metrics = ServerMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ledger = open_ledger(config.url, create=True, redaction=config.redaction)
        watcher = HeadWatcher(ledger, asyncio.get_running_loop())
        tokens = TokenStore(config.tokens) if config.tokens is not None else None
        state = ServiceState(
            config=config, ledger=ledger, tokens=tokens, watcher=watcher, metrics=server_metrics
        )
        server_metrics.state = state
        app.state.service = state
        anchorer = Anchorer(ledger, config.anchor) if config.anchor is not None else None
        if anchorer is not None:
            anchorer.start()
        try:
            yield
        finally:
            watcher.stop()
            if anchorer is not None:  # requests have ended: every acknowledged event is committed
                await anchorer.stop()
            ledger.close()

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _server_error},
    )
    app.add_middleware(_Edge, config=config, server_metrics=server_metrics)
    return app
