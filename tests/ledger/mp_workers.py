"""Writer processes for the multi-process tests (a module of its own so ``spawn`` can import it)."""

from __future__ import annotations

from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...


def event_id(writer: int, seq: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"rledger-test/{writer}/{seq}")


def plan(writer: int, count: int) -> list[list[dict[str, Any]]]:
    """The batches one writer appends: its own workflow and a shared one, in sizes 1 to 7."""
    events = [
        {
            "type": "ToolCalled",
            "event_id": str(event_id(writer, seq)),
            "workflow_id": "shared" if seq % 3 == 0 else f"own-{writer}",
            "agent": f"writer-{writer}",
            "tool": "t",
            "call_index": seq,
        }
        for seq in range(count)
    ]
    batches: list[list[dict[str, Any]]] = []
    size = 1
    while events:
        batches.append(events[:size])
        events = events[size:]
        size = size % 7 + 1
    return batches


def append_plan(url: str, writer: int, count: int, barrier: Barrier) -> None:
    """Open the ledger, wait for every writer, then append this writer's plan."""
    from ledger import open_ledger

    with open_ledger(url) as ledger:
        barrier.wait(timeout=60)
        for batch in plan(writer, count):
            ledger.append(batch)


def open_and_append_one(urls: list[str], writer: int, barrier: Barrier) -> None:
    """For each (new) ledger in turn: wait for every writer, then all open it and append at once."""
    from ledger import open_ledger

    failures = []
    for url in urls:
        barrier.wait(timeout=60)
        try:
            with open_ledger(url) as ledger:
                ledger.append(plan(writer, 1)[0])
        except Exception as exc:
            failures.append(f"{url}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    if failures:
        raise SystemExit("\n".join(failures))
