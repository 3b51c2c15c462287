"""The guide's "Storage Backends" section, run as written (issue #12).

The section's three ``python`` blocks are read from the guide at test time
(``tests/reliability/reliability-guide.md``, the user's guide kept in the repository; absent,
every test fails). The changes are the two the issue allows: top-level ``await`` runs inside a
coroutine, and what the guide leaves undefined is supplied by the test:

- ``ia_modules.database.get_database`` is a small real module installed in ``sys.modules``; its
  ``get_database(url)`` returns a real connection a user of that code would have: a psycopg
  connection to the test server (the guide's ``postgresql://localhost/metrics`` names a database the
  test server does not have) in a fresh schema, or a sqlite3 connection to a file;
- the ``...`` of ``record_step(...)``, the guide's placeholder for a step's arguments, is
  ``**STEP`` (the only text replaced, each time asserted to be there);
- the Redis ledger's default key prefix ``ledger`` is swapped for the test's own at the backend's
  seam (the guide's URL names none; the server is shared, and the test deletes its keys after).
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger import Ledger, StepRecorded, open_ledger
from ledger.backends.redis import recorder as redis_recorder
from projections import MemoryMetricStorage, RedisMetricStorage, ReliabilityMetrics, SQLMetricStorage
from tests.conftest import sqlite_url, with_prefix, with_schema
from tests.reliability.guide import GUIDE

STEP = {"agent": "planner", "success": True, "mode": "execute", "declared_mode": "execute"}
PLACEHOLDER = "record_step(...)"


def section_blocks() -> dict[str, str]:
    """The section's ``python`` blocks by their ``###`` title; fails the test if the guide is absent."""
    if not GUIDE.is_file():
        pytest.fail(f"the user's guide is missing: expected it at {GUIDE.resolve()}", pytrace=False)
    text = GUIDE.read_text(encoding="utf-8")
    section = text.split("\n## Storage Backends\n", 1)[1].split("\n## ", 1)[0]
    blocks = {}
    for part in section.split("\n### ")[1:]:
        title, _, body = part.partition("\n")
        (code,) = re.findall(r"```python\n(.*?)```", body, flags=re.S)
        blocks[title.strip()] = code
    assert list(blocks) == ["In-Memory Storage (Default)", "SQL Storage", "Redis Storage"]
    return blocks


def run_guide(code: str) -> dict[str, Any]:
    """Run a block as the body of a coroutine (its top-level ``await``) and return its names."""
    source = "async def guide():\n" + textwrap.indent(code, "    ") + "    return locals()\n"
    namespace: dict[str, Any] = {"STEP": STEP}
    exec(compile(source, str(GUIDE), "exec"), namespace)
    names: dict[str, Any] = asyncio.run(namespace["guide"]())
    return names


def with_step(code: str) -> str:
    assert code.count(PLACEHOLDER) == 1
    return code.replace(PLACEHOLDER, "record_step(**STEP)")


def recorded_steps(ledger: Ledger) -> list[tuple[str, bool]]:
    return [(r.event.agent, r.event.success) for r in ledger.read() if isinstance(r.event, StepRecorded)]


def test_in_memory_storage_is_the_default(capsys: pytest.CaptureFixture[str]) -> None:
    names = run_guide(section_blocks()["In-Memory Storage (Default)"])

    metrics = names["metrics"]
    assert isinstance(metrics, ReliabilityMetrics) and names["MemoryMetricStorage"] is MemoryMetricStorage
    assert metrics.ledger.backend.url == "memory://"
    assert metrics.report().total_steps == 0 and metrics.report().svr == None  # noqa: E711 (n/a)
    assert capsys.readouterr().out == ""


@pytest.fixture
def connection(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, str]]:
    """What ``get_database`` returns, and the ledger URL of the database it connects to."""
    if request.param == "sqlite":
        conn: Any = sqlite3.connect(tmp_path / "metrics.db")
        yield conn, sqlite_url(tmp_path / "metrics.db")
    else:
        server: str = request.getfixturevalue("pg_server_url")
        schema: str = request.getfixturevalue("pg_schema")
        conn = psycopg.connect(server, options=f"-c search_path={schema}")
        yield conn, with_schema(server, schema)
    conn.close()


@pytest.mark.parametrize(
    "connection",
    [pytest.param("postgres", marks=pytest.mark.postgres), pytest.param("sqlite")],
    indirect=True,
)
def test_sql_storage_takes_the_users_connection_and_persists(
    connection: tuple[Any, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    conn, url = connection
    asked: list[str] = []

    def get_database(database_url: str) -> Any:
        asked.append(database_url)
        return conn

    database = types.ModuleType("ia_modules.database")
    database.get_database = get_database  # type: ignore[attr-defined]
    package = types.ModuleType("ia_modules")
    package.database = database  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ia_modules", package)
    monkeypatch.setitem(sys.modules, "ia_modules.database", database)

    names = run_guide(with_step(section_blocks()["SQL Storage"]))
    names["storage"].close()

    assert asked == ["postgresql://localhost/metrics"]
    assert names["db"] is conn and isinstance(names["storage"], SQLMetricStorage)
    with open_ledger(url) as reopened:  # "Metrics persist to database": another ledger sees them
        assert recorded_steps(reopened) == [("planner", True)]
        assert ReliabilityMetrics(ledger=reopened).report().svr == 1.0
    assert capsys.readouterr().out == ""


@pytest.mark.redis
def test_redis_storage_persists_with_its_ttl(
    redis_server_url: str,
    redis_prefix: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    real_open = redis_recorder.open_redis
    asked: list[str] = []

    def open_redis(client_url: str, *, prefix: str, url: str, **options: Any) -> Any:
        asked.append(prefix)
        return real_open(
            client_url, prefix=redis_prefix if prefix == "ledger" else prefix, url=url, **options
        )

    monkeypatch.setattr(redis_recorder, "open_redis", open_redis)

    names = run_guide(with_step(section_blocks()["Redis Storage"]))
    storage = names["storage"]
    storage.close()

    assert asked == ["ledger"]  # the guide's URL names no prefix: the default, swapped for the test's
    assert isinstance(storage, RedisMetricStorage) and storage.ttl_days == 90
    with open_ledger(with_prefix(redis_server_url, redis_prefix)) as reopened:
        assert recorded_steps(reopened) == [("planner", True)]
    assert capsys.readouterr().out == ""
