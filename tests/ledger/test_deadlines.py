"""No caller waits without bound: a loopback proxy between the ledger and its server fails it.

Each test opens a ledger through a :class:`~tests.ledger.proxy.Proxy` with a 1 s deadline, then
freezes the proxy (a stopped server), mutes it (lost replies), resets its connections (a server
restart) or kills it (a server gone). Every caller must be answered within deadline + 1 s, with
the ledger's own error; what was acknowledged stays, and a retry with the same ids is harmless
(checked through a second ledger that does not go through the proxy). The shared servers are
never touched.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from urllib.parse import urlsplit
from uuid import UUID

import pytest

from ledger import (
    DEFAULT_TIMEOUT,
    BackendTimeoutError,
    BackendUnavailableError,
    InvalidURLOptionError,
    Ledger,
    StepRecorded,
    open_ledger,
)
from tests.ledger.proxy import Proxy

DEADLINE = 1.0
SLACK = 1.0
"""Every caller is answered within DEADLINE + SLACK seconds."""


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("nats", marks=pytest.mark.nats),
    ]
)
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh ledger URL on each server (its own schema, key prefix or JetStream ledger)."""
    fixture = {"postgres": "pg_url", "redis": "redis_url", "nats": "nats_url"}[request.param]
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def proxy(server_url: str) -> Iterator[Proxy]:
    parts = urlsplit(server_url)
    p = Proxy(parts.hostname or "127.0.0.1", parts.port or 0)
    yield p
    p.kill()


@pytest.fixture
def proxied(server_url: str, proxy: Proxy) -> Iterator[Ledger]:
    """A ledger through the proxy, with a 1 s deadline."""
    ledger = open_ledger(proxy.url_of(server_url), timeout=DEADLINE)
    yield ledger
    ledger.close()


@pytest.fixture
def direct(server_url: str) -> Iterator[Ledger]:
    """The same ledger, straight to the server: what is really stored."""
    ledger = open_ledger(server_url)
    yield ledger
    ledger.close()


def _event(i: int) -> StepRecorded:
    return StepRecorded(
        event_id=UUID(int=i + 1, version=4), workflow_id=f"wf-{i % 4}", agent="a", success=True
    )


def _stored_ids(ledger: Ledger) -> list[UUID]:
    return [r.event.event_id for r in ledger.read()]


def _timed(call: object) -> tuple[BaseException | None, float]:
    start = time.monotonic()
    try:
        call()  # type: ignore[operator]
    except Exception as exc:
        return exc, time.monotonic() - start
    return None, time.monotonic() - start


def test_the_deadline_is_per_ledger_and_in_the_url(tmp_path: object) -> None:
    assert DEFAULT_TIMEOUT == 5.0
    with open_ledger("memory://") as ledger:
        assert ledger.backend.timeout == DEFAULT_TIMEOUT
    with open_ledger(f"sqlite:///{tmp_path}/a.db?timeout=2.5") as ledger:
        assert ledger.backend.timeout == 2.5
        ledger.append(_event(0))
    with open_ledger(f"sqlite:///{tmp_path}/a.db?timeout=2.5", timeout=0.5) as ledger:
        assert ledger.backend.timeout == 0.5  # the argument wins
        assert len(_stored_ids(ledger)) == 1  # the same file: the option is not part of the path
    for bad in ("abc", "0", "-1", "inf", "nan"):
        with pytest.raises(InvalidURLOptionError) as caught:
            open_ledger(f"sqlite:///{tmp_path}/b.db?timeout={bad}")
        assert caught.value.option == "timeout" and caught.value.value == bad
        assert f"option 'timeout' is '{bad}', expected a positive number of seconds" in str(caught.value)
    with pytest.raises(InvalidURLOptionError):
        open_ledger("memory://", timeout=0)


def test_a_frozen_server_times_out_appends_and_reads(proxied: Ledger, direct: Ledger, proxy: Proxy) -> None:
    proxied.append(_event(0))
    proxy.freeze()
    error, took = _timed(lambda: proxied.append(_event(1)))
    assert isinstance(error, BackendTimeoutError), error
    assert took < DEADLINE + SLACK
    assert error.deadline == DEADLINE and error.operation.startswith("append")
    assert f"within its deadline of {DEADLINE:g} s" in str(error) and proxied.url in str(error)
    error, took = _timed(lambda: list(proxied.read()))
    assert isinstance(error, BackendTimeoutError) and took < DEADLINE + SLACK
    proxy.thaw()
    # The retry with the same id is harmless: the event is stored once, whatever the first did.
    again = proxied.append(_event(1))
    assert again.offsets == (2,)
    assert _stored_ids(direct) == [_event(0).event_id, _event(1).event_id]


def test_a_lost_commit_reply_is_a_timeout_and_the_retry_finds_the_event(
    proxied: Ledger, direct: Ledger, proxy: Proxy
) -> None:
    proxied.append(_event(0))
    proxy.mute()
    error, took = _timed(lambda: proxied.append([_event(1), _event(2)]))
    assert isinstance(error, BackendTimeoutError) and took < DEADLINE + SLACK
    proxy.thaw()
    result = proxied.append([_event(1), _event(2)])
    assert result.offsets == (2, 3) and result.written + result.duplicates == 2
    assert _stored_ids(direct) == [_event(i).event_id for i in range(3)]


def test_a_killed_server_is_unavailable_within_the_deadline(proxied: Ledger, proxy: Proxy) -> None:
    proxied.append(_event(0))
    proxy.kill()
    for call in (lambda: proxied.append(_event(1)), lambda: list(proxied.read())):
        error, took = _timed(call)
        assert isinstance(error, BackendUnavailableError), error  # a timeout is one too
        assert took < DEADLINE + SLACK


def test_connections_reset_by_the_server_are_not_handed_out(
    proxied: Ledger, direct: Ledger, proxy: Proxy
) -> None:
    # Fill the pool with connections, then cut them all (a server restart, a reset network).
    for i in range(3):
        proxied.append(_event(i))
    proxy.reset()
    time.sleep(0.05)  # the resets reach the client's sockets
    # Every call succeeds at the first try: dead pooled connections are found and replaced.
    assert proxied.append(_event(3)).offsets == (4,)
    assert len(_stored_ids(proxied)) == 4
    assert _stored_ids(direct) == [_event(i).event_id for i in range(4)]


@pytest.mark.slow
@pytest.mark.parametrize("callers", [1, 64])
def test_concurrent_async_callers_are_all_answered_within_the_deadline(
    proxied: Ledger, direct: Ledger, proxy: Proxy, callers: int
) -> None:
    proxied.append(_event(10_000))
    batches = [[_event(c * 3 + k) for k in range(3)] for c in range(callers)]

    async def one(batch: list[StepRecorded]) -> tuple[BaseException | None, float]:
        start = time.monotonic()
        try:
            await proxied.append_async(batch)
        except Exception as exc:
            return exc, time.monotonic() - start
        return None, time.monotonic() - start

    async def everyone() -> list[tuple[BaseException | None, float]]:
        return await asyncio.gather(*(one(b) for b in batches))

    proxy.freeze()
    outcomes = asyncio.run(everyone())
    slowest = max(took for _, took in outcomes)
    assert slowest < DEADLINE + SLACK, f"a caller waited {slowest:.2f} s"
    assert all(isinstance(error, BackendTimeoutError) for error, _ in outcomes), outcomes[:3]
    proxy.thaw()

    async def retry() -> None:
        await asyncio.gather(*(proxied.append_async(b) for b in batches))

    asyncio.run(retry())
    asyncio.run(retry())  # and once more: retries with the same ids write nothing new
    stored = _stored_ids(direct)
    assert len(stored) == len(set(stored)) == 1 + 3 * callers
    assert set(stored) == {e.event_id for b in batches for e in b} | {_event(10_000).event_id}
