"""An OTLP/HTTP traces endpoint on loopback that writes into a ledger file the test can read.

``otlp_endpoint`` is the one place the tests get a receiver from: today a ``http.server`` in a
thread whose handler calls :func:`reliability.service.otlp.ingest_otlp` on an event loop of its
own (as an ASGI server would); once ``rledger serve`` is merged it can start that on
``otlp_db`` instead and yield its ``/v1/traces`` URL.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ledger import Ledger, open_ledger
from reliability.service.otlp import ingest_otlp
from tests.conftest import sqlite_url


@pytest.fixture
def otlp_db(tmp_path: Path) -> str:
    """The ledger URL the endpoint writes into (a SQLite file; the test opens it to read)."""
    return sqlite_url(tmp_path / "otlp.db")


def _handler(ledger: Ledger, loop: asyncio.AbstractEventLoop) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            if self.path != "/v1/traces":
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            coro = ingest_otlp(
                ledger,
                body,
                content_type=self.headers.get("Content-Type", ""),
                content_encoding=self.headers.get("Content-Encoding"),
            )
            answer = asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=30)
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.media_type)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the tests read answers, not access logs

    return Handler


@pytest.fixture
def otlp_endpoint(otlp_db: str) -> Iterator[str]:
    """The URL of an OTLP/HTTP ``/v1/traces`` endpoint on 127.0.0.1 writing into ``otlp_db``."""
    ledger = open_ledger(otlp_db)
    loop = asyncio.new_event_loop()
    loop_thread = threading.Thread(target=loop.run_forever, daemon=True)
    loop_thread.start()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ledger, loop))
    server_thread = threading.Thread(target=server.serve_forever, daemon=True)
    server_thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()
        server.server_close()
        server_thread.join(timeout=10)
        ledger.close()
        loop.call_soon_threadsafe(loop.stop)
        loop_thread.join(timeout=10)
        loop.close()
