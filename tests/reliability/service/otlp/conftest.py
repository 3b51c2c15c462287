"""An OTLP/HTTP traces endpoint on loopback that writes into a ledger file the test can read.

``otlp_endpoint`` is the one place the tests get a receiver from: a real ``rledger serve``
subprocess on ``otlp_db``, so the OpenTelemetry SDK's own exporter talks to the server users run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import sqlite_url
from tests.reliability.service.conftest import Server


@pytest.fixture
def otlp_db(tmp_path: Path) -> str:
    """The ledger URL the endpoint writes into (a SQLite file; the test opens it to read)."""
    return sqlite_url(tmp_path / "otlp.db")


@pytest.fixture
def otlp_endpoint(otlp_db: str, tmp_path: Path) -> Iterator[str]:
    """The ``/v1/traces`` URL of a real ``rledger serve`` on 127.0.0.1 writing into ``otlp_db``.

    Started without tokens (loopback only), so an OTLP exporter configured as users configure
    it for a local collector sends to it as it is; auth on this path is tested in
    ``tests/reliability/service/test_traces.py``.
    """
    server = Server(db=otlp_db, tokens=tmp_path / "unused-tokens.json", auth=False).start()
    try:
        yield f"{server.base}/v1/traces"
    finally:
        server.stop()
