"""Which web framework the server is built on: 10-event POSTs, one worker, each framework alike.

Every candidate serves one route, ``POST /v1/events``, doing the same work the real endpoint
does before it commits: read the body, ``orjson.loads`` it, validate the events with the
ledger's own ``validate_batch`` and answer a small JSON document. The ASGI frameworks
(Starlette, FastAPI, Litestar) run under uvicorn (one worker, uvloop + httptools); aiohttp runs
its own server (one process). The load is :mod:`bench.http_load` (raw asyncio HTTP/1.1,
keep-alive) in a separate process; candidates alternate round by round.

    pip install fastapi litestar aiohttp   # the candidates are not the project's dependencies
    python -m bench.serve_frameworks [--work validate|parse] [--seconds 3] [--runs 3] [--clients 32]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from bench.common import alternate, format_table, provenance, result_row, write_results
from bench.http_load import build_request, run_in_child
from ledger import BatchRejectedError, generate_workload, validate_batch

CANDIDATES = ("starlette", "aiohttp", "fastapi", "litestar")


WORK = {"mode": "validate"}
"""What a handler does with the body: ``validate`` (the real endpoint's work) or ``parse``
(``orjson.loads`` only: the framework's own cost shows)."""


def _validate(body: bytes) -> tuple[int, bytes]:
    if WORK["mode"] == "parse":
        return 200, orjson.dumps({"accepted": len(orjson.loads(body))})
    try:
        events = validate_batch(orjson.loads(body))
    except BatchRejectedError as exc:
        return 422, orjson.dumps({"error": str(exc)})
    return 200, orjson.dumps({"accepted": len(events)})


def starlette_app() -> Any:
    """The Starlette candidate: a plain ``Route``."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def post(request: Request) -> Response:
        status, body = _validate(await request.body())
        return Response(body, status_code=status, media_type="application/json")

    return Starlette(routes=[Route("/v1/events", post, methods=["POST"])])


def fastapi_app() -> Any:
    """The FastAPI candidate: the raw request body (so pydantic validates once, as the ledger does)."""
    from fastapi import FastAPI, Request, Response

    app = FastAPI()

    async def post(request: Request) -> Response:
        status, body = _validate(await request.body())
        return Response(body, status_code=status, media_type="application/json")

    # Resolved here: this module's postponed annotations name the lazily imported classes.
    post.__annotations__ = {"request": Request, "return": Response}
    app.post("/v1/events")(post)
    return app


def litestar_app() -> Any:
    """The Litestar candidate: a handler taking the body as bytes."""
    from litestar import Litestar, Request, Response, post

    async def handler(request: Request[Any, Any, Any]) -> Response[bytes]:
        status, body = _validate(await request.body())
        return Response(body, status_code=status, media_type="application/json")

    # Resolved here: this module's postponed annotations name the lazily imported classes.
    handler.__annotations__ = {"request": Request, "return": Response}
    return Litestar(route_handlers=[post("/v1/events")(handler)])


def serve(name: str, port: int) -> None:
    """Serve candidate ``name`` on 127.0.0.1:``port`` until killed."""
    if name == "aiohttp":
        from aiohttp import web

        async def post(request: web.Request) -> web.Response:
            status, body = _validate(await request.read())
            return web.Response(body=body, status=status, content_type="application/json")

        app = web.Application()
        app.router.add_post("/v1/events", post)
        web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
        return
    import uvicorn

    factory: dict[str, Callable[[], Any]] = {
        "starlette": starlette_app,
        "fastapi": fastapi_app,
        "litestar": litestar_app,
    }
    uvicorn.run(
        factory[name](),
        host="127.0.0.1",
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_listening(port: int, timeout: float = 30.0) -> None:
    """Block until something accepts connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from ``/proc``)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Measure every candidate, alternating, and write ``bench/results/serve_frameworks_<work>.json``."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--seconds", type=float, default=3.0, help="length of one measurement")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--candidates", default=",".join(CANDIDATES))
    p.add_argument("--work", choices=("validate", "parse"), default="validate")
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        WORK["mode"] = args.work
        serve(args.serve, args.port)
        return
    start = provenance()
    events = [e.model_dump(mode="json") for e in generate_workload(1000, seed=3)]
    bodies = [orjson.dumps(events[i : i + 10]) for i in range(0, len(events), 10)]
    names = args.candidates.split(",")
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    extra: dict[str, dict[str, list[float]]] = {
        n: {"p99_ms": [], "client_cpu": [], "server_cpu": []} for n in names
    }
    try:
        for name in names:
            port = free_port()
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.serve_frameworks",
                    "--serve",
                    name,
                    "--port",
                    str(port),
                    "--work",
                    args.work,
                ]
            )
            servers[name] = (proc, port)
            wait_listening(port)

        def case(name: str) -> Callable[[], float]:
            proc, port = servers[name]
            headers = {"Content-Type": "application/json"}
            requests = [build_request("127.0.0.1", port, "POST", "/v1/events", b, headers) for b in bodies]

            def measure() -> float:
                cpu0 = process_cpu_seconds(proc.pid)
                result = run_in_child("127.0.0.1", port, requests, clients=args.clients, seconds=args.seconds)
                server_cpu = process_cpu_seconds(proc.pid) - cpu0
                if set(result.statuses) != {200} or result.errors:
                    raise RuntimeError(f"{name}: statuses {result.statuses}, errors {result.errors[:3]}")
                extra[name]["p99_ms"].append(round(result.percentile(0.99) * 1000, 2))
                extra[name]["client_cpu"].append(round(result.cpu_seconds / result.seconds, 2))
                extra[name]["server_cpu"].append(round(server_cpu / result.seconds, 2))
                return result.requests / result.seconds

            return measure

        cases = {n: case(n) for n in names}
        spreads = alternate(cases, args.runs, warmup=cases, log=lambda s: print(s, file=sys.stderr))
    finally:
        for proc, _ in servers.values():
            proc.kill()
            proc.wait()
    baseline = spreads["starlette"] if "starlette" in spreads else next(iter(spreads.values()))
    rows = [
        result_row(
            f"{name}, 10-event POSTs, {args.clients} clients",
            f"none ({args.work} only)",
            spreads[name],
            baseline,
            "starlette",
            unit="requests/s",
            note=f"p99 ms {extra[name]['p99_ms']}; server CPU (cores) {extra[name]['server_cpu']}; "
            f"load generator CPU (cores) {extra[name]['client_cpu']}",
        )
        for name in names
    ]
    print(format_table(rows))
    path = write_results(
        f"serve_frameworks_{args.work}",
        len(events),
        rows,
        start=start,
        load_generator="bench.http_load: raw asyncio HTTP/1.1 keep-alive client on uvloop, separate process",
        seconds_per_run=args.seconds,
        clients=args.clients,
    )
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
