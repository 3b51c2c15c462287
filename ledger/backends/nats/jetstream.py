"""The JetStream calls the backend makes, and the event-loop thread that runs them for sync code.

nats-py is asyncio; the ledger's backend interface is synchronous and called from any thread.
Each backend owns one :class:`Loop`: a private event loop on a daemon thread holding the
connection. :meth:`Loop.run` hands it a coroutine and waits, at most the URL's ``timeout``, so a
cluster that cannot answer (no quorum, no server) surfaces as
:class:`~ledger.errors.BackendTimeoutError` or :class:`~ledger.errors.BackendUnavailableError`,
never a hang. The raw JetStream API requests (atomic batch publish, leader and direct gets,
batched direct gets) are here too: nats-py 2.16 has no atomic batch publish of its own.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from ledger.errors import BackendTimeoutError, BackendUnavailableError

T = TypeVar("T")

NO_QUORUM = (
    "the JetStream cluster did not answer: no quorum (a majority of its servers is down or cut "
    "off) or no server reachable; appends resume once it has one again"
)

MAX_BATCH = 1000
"""The most messages JetStream commits in one atomic batch (the server's default limit)."""


class JetStreamError(Exception):
    """A JetStream API request answered with an error."""

    def __init__(self, code: int, err_code: int, description: str) -> None:
        self.code = code
        self.err_code = err_code
        self.description = description
        super().__init__(f"{description} (JetStream error {err_code}, status {code})")


WRONG_LAST_SEQUENCE = (10071, 10164)
"""Error codes of a failed ``Nats-Expected-Last-(Subject-)Sequence`` check."""


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message: its stream sequence, subject and body."""

    seq: int
    subject: str
    data: bytes


class Loop:
    """A private event loop on a daemon thread; :meth:`run` runs coroutines on it with a deadline."""

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="rledger-nats", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], operation: str, timeout: float | None = None) -> T:
        """Run ``coro`` on the loop; raise the ledger's errors when it fails or runs out of time."""
        deadline = self.timeout if timeout is None else timeout
        if self._loop.is_closed():
            coro.close()
            raise BackendUnavailableError(self.url, f"{operation}: the ledger's connection is closed")
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(coro, deadline), self._loop)
        try:
            # A little past the deadline: wait_for cancels the coroutine on the loop itself.
            return future.result(deadline + 1.0)
        except (TimeoutError, concurrent.futures.TimeoutError, nats.errors.TimeoutError):
            future.cancel()
            raise BackendTimeoutError(self.url, operation, deadline, NO_QUORUM) from None
        except nats.errors.NoRespondersError:
            raise BackendUnavailableError(self.url, f"{operation}: {NO_QUORUM}") from None
        except (nats.errors.ConnectionClosedError, nats.errors.NoServersError) as exc:
            raise BackendUnavailableError(self.url, f"{operation}: {exc}") from exc

    def close(self) -> None:
        """Stop the loop and its thread."""
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


async def connect(servers: list[str], timeout: float, **options: Any) -> Client:
    """Connect to the cluster, reconnecting for ever (a deadline per call bounds each wait)."""

    async def quiet(*_: Any) -> None:
        # Reconnects are expected in a cluster; callers see errors through the ledger's calls.
        return None

    return await nats.connect(
        servers=servers,
        connect_timeout=timeout,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.25,
        allow_reconnect=True,
        error_cb=quiet,
        disconnected_cb=quiet,
        reconnected_cb=quiet,
        **options,
    )


def _answer(msg: Msg) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(msg.data) if msg.data else {}
    error = body.get("error")
    if error:
        raise JetStreamError(
            int(error.get("code", 0)), int(error.get("err_code", 0)), str(error.get("description"))
        )
    return body


async def api(nc: Client, subject: str, request: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
    """Send one JetStream API request (``$JS.API.…``) and return its JSON answer."""
    payload = b"" if request is None else json.dumps(request).encode()
    return _answer(await nc.request(f"$JS.API.{subject}", payload, timeout=timeout))


async def publish_batch(
    nc: Client, messages: list[tuple[str, dict[str, str], bytes]], timeout: float
) -> dict[str, Any]:
    """Publish ``messages`` as one atomic batch; return the commit's pub ack.

    The first message is a request (the server answers an empty body, or an error such as
    atomic publish not enabled), the middle ones plain publishes, the last one commits: the
    server checks every expectation header at commit, under its lock, and stores all or none.
    """
    if not 0 < len(messages) <= MAX_BATCH:
        raise ValueError(f"an atomic batch holds 1 to {MAX_BATCH} messages, not {len(messages)}")
    batch_id = uuid.uuid4().hex
    last = len(messages)
    for number, (subject, extra, body) in enumerate(messages, 1):
        headers = {**extra, "Nats-Batch-Id": batch_id, "Nats-Batch-Sequence": str(number)}
        if number == last:
            headers["Nats-Batch-Commit"] = "1"
            return _answer(await nc.request(subject, body, timeout=timeout, headers=headers))
        if number == 1:
            _answer(await nc.request(subject, body, timeout=timeout, headers=headers))
        else:
            await nc.publish(subject, body, headers=headers)
    raise AssertionError("unreachable")


async def leader_get(nc: Client, stream: str, request: dict[str, Any], timeout: float) -> Message | None:
    """Get one message from the stream leader (current: the write path decides by it)."""
    try:
        body = await api(nc, f"STREAM.MSG.GET.{stream}", request, timeout)
    except JetStreamError as exc:
        if exc.err_code == 10037:  # no message found
            return None
        raise
    msg = body["message"]
    return Message(int(msg["seq"]), str(msg["subject"]), base64.b64decode(msg.get("data") or ""))


async def direct_batch(
    nc: Client, stream: str, start: int, count: int, subjects: str, timeout: float
) -> list[Message]:
    """Return up to ``count`` messages from sequence ``start`` on, matching ``subjects``.

    One batched direct get: any replica answers with the messages, then an end-of-batch status.
    Collected by a callback (not ``next_msg`` per message: a future and a timer each, which
    made reads several times slower).
    """
    out: list[Message] = []
    done = asyncio.get_running_loop().create_future()

    async def collect(msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is None:
            out.append(Message(int(headers["Nats-Sequence"]), headers["Nats-Subject"], msg.data))
            if len(out) < count:
                return
            status = "204"
        if not done.done():
            done.set_result((status, headers.get("Description", "direct get failed")))

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=collect, pending_msgs_limit=count + 16)
    try:
        request = {"seq": start, "batch": count, "next_by_subj": subjects}
        await nc.publish(f"$JS.API.DIRECT.GET.{stream}", json.dumps(request).encode(), reply=inbox)
        status, description = await asyncio.wait_for(done, timeout)
    finally:
        await sub.unsubscribe()
    if status in ("404", "204"):
        return out[:count]
    if status == "503":
        raise nats.errors.NoRespondersError
    raise JetStreamError(int(status), 0, description)
