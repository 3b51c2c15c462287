"""A small HTTP/1.1 load generator for the server benchmarks: asyncio streams, keep-alive, no client library.

The benchmarks measure the server, so the client must cost as little CPU as possible on these
2-core machines: a client library such as httpx spends ~10x more per request than this loop
(each request is pre-built bytes written to a kept-alive connection; a response is its status
line, headers and a ``Content-Length`` or chunked body). It runs in a process of its own
(:func:`run_in_child`) and reports its own CPU time, so a result can say how much of the
machine the load took.

Run alone: ``python -m bench.http_load --port P --path /v1/events --body FILE --clients 64``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SPAWN = multiprocessing.get_context("spawn")


@dataclass
class LoadResult:
    """What one load run saw.

    Attributes:
        requests: responses received within the run.
        seconds: wall time from the first request to the last response.
        statuses: count of each HTTP status.
        latencies: every request's latency in seconds (write to last byte of the answer).
        cpu_seconds: CPU time the load generator's process used during the run.
        errors: connection errors (a reset, a refused connection), by repr.
    """

    requests: int = 0
    seconds: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        """The ``q`` quantile (0..1) of the latencies in seconds, interpolated linearly."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        pos = q * (len(ordered) - 1)
        low = int(pos)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def build_request(
    host: str, port: int, method: str, path: str, body: bytes, headers: dict[str, str]
) -> bytes:
    """One HTTP/1.1 request as the bytes sent on a kept-alive connection."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = -1
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length > 0:
        await reader.readexactly(length)
    return status


async def _client(
    host: str,
    port: int,
    requests: Sequence[bytes],
    start: int,
    step: int,
    deadline: float,
    count: int | None,
    result: LoadResult,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    sent = 0
    try:
        while time.perf_counter() < deadline and (count is None or sent < count):
            t0 = time.perf_counter()
            writer.write(requests[index % len(requests)])
            status = await _read_response(reader)
            result.latencies.append(time.perf_counter() - t0)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            result.requests += 1
            index += step
            sent += 1
    except (OSError, asyncio.IncompleteReadError) as exc:
        result.errors.append(repr(exc))
    finally:
        writer.close()


async def run_load(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    clients: int,
    seconds: float,
    per_client: int | None = None,
) -> LoadResult:
    """Send ``requests`` (client ``i`` sends ``i, i + clients, …``, cycling) for ``seconds``.

    Args:
        per_client: stop each client after this many requests (else only the time limit).
    """
    result = LoadResult()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(
        *(_client(host, port, requests, i, clients, deadline, per_client, result) for i in range(clients))
    )
    result.seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    return result


def _child(args: tuple[Any, ...], queue: Any) -> None:
    host, port, requests, clients, seconds, per_client = args
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # plain asyncio works too, at some more CPU per request
        pass
    result = asyncio.run(
        run_load(host, port, requests, clients=clients, seconds=seconds, per_client=per_client)
    )
    queue.put(result)


def run_in_child(
    host: str,
    port: int,
    requests: Sequence[bytes],
    *,
    clients: int,
    seconds: float,
    per_client: int | None = None,
) -> LoadResult:
    """Run :func:`run_load` in a spawned process (its CPU is its own) and return its result."""
    queue = SPAWN.Queue()
    process = SPAWN.Process(
        target=_child, args=((host, port, list(requests), clients, seconds, per_client), queue)
    )
    process.start()
    try:
        result: LoadResult = queue.get(timeout=seconds + 120)
    finally:
        process.join(30)
        if process.is_alive():
            process.kill()
    return result


def main() -> None:
    """Run a load against a server and print the rate, latency and CPU."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/v1/events")
    p.add_argument("--body", required=True, help="file with the request body")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--token", help="sent as Authorization: Bearer …")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=5.0)
    args = p.parse_args()
    with open(args.body, "rb") as f:
        body = f.read()
    headers = {"Content-Type": args.content_type}
    if args.token:
        headers["Authorization"] = f"Bearer {args.token}"
    request = build_request(args.host, args.port, "POST", args.path, body, headers)
    result = run_in_child(args.host, args.port, [request], clients=args.clients, seconds=args.seconds)
    rate = result.requests / result.seconds if result.seconds else 0.0
    print(
        f"{result.requests} requests in {result.seconds:.2f} s: {rate:,.0f} req/s, "
        f"p50 {result.percentile(0.5) * 1000:.1f} ms, p99 {result.percentile(0.99) * 1000:.1f} ms, "
        f"client CPU {result.cpu_seconds / result.seconds:.0%} of a core, statuses {result.statuses}"
    )


if __name__ == "__main__":
    main()
