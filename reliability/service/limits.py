"""What bounds one client: the body's size and the time it takes to send it, NDJSON line lengths.

A body is read chunk by chunk and refused (413) as soon as it passes the limit, so a huge
upload never sits in memory whole; a declared ``Content-Length`` over the limit is refused
before any of it is read. A client trickling its body is cut off (408) after the body timeout.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request

from reliability.service.config import ServiceConfig
from reliability.service.problems import ApiError, ApiProblem

__all__ = ["read_body", "split_lines"]


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        f"request body over the limit of {limit} bytes (rledger serve --max-body-mb); nothing written",
    )


async def read_body(request: Request, config: ServiceConfig) -> bytes:
    """Return the request body, refusing it early when it is over the limit or too slow.

    Raises:
        ApiError: 413 over ``max_body_bytes``, 408 when not sent within ``body_timeout``,
            400 for an unreadable ``Content-Length``.
    """
    limit = config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise ApiError(400, f"Content-Length '{declared}' is not a number") from None
        if size > limit:
            raise _too_large(limit)
    chunks: list[bytes] = []
    received = 0
    try:
        async with asyncio.timeout(config.body_timeout):
            async for chunk in request.stream():
                received += len(chunk)
                if received > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise ApiError(
            408, f"the request body was not received within {config.body_timeout:g} s; nothing written"
        ) from None
    return b"".join(chunks)


def split_lines(body: bytes, config: ServiceConfig) -> list[bytes]:
    """Split an NDJSON body into its lines (blank ones kept: line numbers stay the sender's).

    Raises:
        ApiError: 413 for a line over ``max_line_bytes``.
    """
    lines = body.split(b"\n")
    for number, line in enumerate(lines, start=1):
        if len(line) > config.max_line_bytes:
            raise ApiError(
                413,
                f"NDJSON line {number} is {len(line)} bytes, over the limit of {config.max_line_bytes}; "
                "nothing written",
                [ApiProblem(message="line too long", index=number - 1, line=number)],
            )
    return lines
