"""The dashboard's routes: the page at ``/``, its static files, ``/v1/series`` and ``/v1/signals``."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reliability.service.dashboard.page import CSP, STATIC_FILES, page_html, static_file
from reliability.service.dashboard.signals import SignalIndex
from reliability.service.documents import dumps
from reliability.service.params import known_only
from reliability.service.problems import ApiError
from reliability.service.state import ServiceState, require
from reliability.service.views import dashboard_of

__all__ = ["ROUTES"]

SECURITY = {
    "Content-Security-Policy": CSP.format(inline=""),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def index(request: Request) -> Response:
    """The page. It holds no data, so it needs no token: its script asks for one when the API does."""
    known_only(request, ())
    auth = request.app.state.service.tokens is not None
    return Response(page_html(auth=auth), media_type="text/html; charset=utf-8", headers=SECURITY)


async def static(request: Request) -> Response:
    """One of the vendored or hand-written static files (a fixed list; no path is resolved)."""
    name = request.path_params["name"]
    if name not in STATIC_FILES:
        raise ApiError(404, f"no such static file: {name}")
    headers = {**SECURITY, "Cache-Control": "no-cache"}
    return Response(static_file(name), media_type=STATIC_FILES[name], headers=headers)


async def _locked(state: ServiceState, fn: Any) -> Response:
    def run() -> bytes:
        with state.lock:
            return dumps(fn())

    return Response(await run_in_threadpool(run), media_type="application/json")


async def get_series(request: Request) -> Response:
    """The seven metrics overall and per agent, and the spend per day, per bucket of the data's span."""
    state = require(request, "read")
    known_only(request, ())
    return await _locked(state, lambda: dashboard_of(state).series())


async def get_signals(request: Request) -> Response:
    """Breaker states and transitions, alerts with deliveries, mode violations, replays by workflow."""
    state = require(request, "read")
    known_only(request, ())
    signals: SignalIndex = state.caches.setdefault("signals", SignalIndex())

    def build() -> dict[str, Any]:
        signals.catch_up(state.ledger)
        return signals.document()

    return await _locked(state, build)


ROUTES = [
    Route("/", index, methods=["GET"]),
    Route("/static/{name}", static, methods=["GET"]),
    Route("/v1/series", get_series, methods=["GET"]),
    Route("/v1/signals", get_signals, methods=["GET"]),
]
