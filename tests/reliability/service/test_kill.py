"""64 concurrent clients, the server SIGKILLed mid-load and restarted, clients retrying with the same ids.

Afterwards every acknowledged event is stored exactly once at the offset it was acknowledged
with, every batch is whole, offsets are gap-free and the hash chain verifies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ledger import open_ledger
from tests.reliability.service.conftest import Server

CLIENTS = 64
BATCHES = 6
PER_BATCH = 5


def batch(client: int, number: int) -> list[dict[str, object]]:
    wid = f"wf-{client}"
    return [
        {
            "type": "StepRecorded",
            "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{client}/{number}/{i}")),
            "workflow_id": wid,
            "agent": f"agent-{client % 4}",
            "success": True,
        }
        for i in range(PER_BATCH)
    ]


async def client(server: Server, index: int, acks: dict[str, int], retries: Counter[str]) -> None:
    headers = {"Authorization": f"Bearer {server.token['ingest']}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers, timeout=10) as http:
        for number in range(BATCHES):
            events = batch(index, number)
            for _ in range(600):  # bounded: at most ~30 s of retrying one batch
                try:
                    answer = await http.post("/v1/events", json=events)
                except httpx.TransportError:
                    retries["transport"] += 1
                    await asyncio.sleep(0.05)
                    continue
                if answer.status_code == 200:
                    for event, offset in zip(events, answer.json()["offsets"], strict=True):
                        acks[str(event["event_id"])] = offset
                    break
                retries[str(answer.status_code)] += 1
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"client {index} batch {number} was never acknowledged")


async def load_with_a_kill(server: Server) -> tuple[dict[str, int], Counter[str], int]:
    acks: dict[str, int] = {}
    retries: Counter[str] = Counter()
    clients = [asyncio.create_task(client(server, i, acks, retries)) for i in range(CLIENTS)]
    while len(acks) < CLIENTS * BATCHES * PER_BATCH // 4:  # a quarter acknowledged: kill it mid-load
        await asyncio.sleep(0.01)
    acked_at_kill = len(acks)
    server.kill()
    await asyncio.to_thread(server.start)
    await asyncio.wait_for(asyncio.gather(*clients), 120)
    return acks, retries, acked_at_kill


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_sigkill_mid_load_loses_and_duplicates_nothing_acknowledged(
    backend: str, tmp_path: Path, tokens_file: tuple[Path, dict[str, str]], request: pytest.FixtureRequest
) -> None:
    db = f"sqlite:///{tmp_path}/l.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    path, made = tokens_file
    server = Server(db=db, tokens=path, token=made).start()
    try:
        acks, retries, acked_at_kill = asyncio.run(load_with_a_kill(server))
    finally:
        server.stop()

    total = CLIENTS * BATCHES * PER_BATCH
    assert acked_at_kill < total and sum(retries.values()) > 0  # the kill really hit the load
    with open_ledger(db, create=False) as ledger:
        stored = list(ledger.read())
        report = ledger.verify()
    ids = Counter(str(r.event.event_id) for r in stored)
    assert len(acks) == total and set(ids) == set(acks)
    assert max(ids.values()) == 1  # nothing twice
    assert [r.offset for r in stored] == list(range(1, len(stored) + 1))  # gap-free
    assert {str(r.event.event_id): r.offset for r in stored} == acks  # at the offset acknowledged
    assert len(stored) == total  # nothing half-written or written beyond what was sent
    for wid in {r.event.workflow_id for r in stored}:  # each client's batches in its order
        versions = [r.version for r in stored if r.event.workflow_id == wid]
        assert versions == list(range(1, BATCHES * PER_BATCH + 1))
    assert report.ok, report.problems
