"""A workflow's history: its events in order, from the ledger or a JSON-lines file.

A history is immutable. It can stop at a checkpoint — a ``CheckpointMarked`` id, an event id,
or a global offset — and it round-trips through JSON lines (one event per line, with its
offset), so a production run can be replayed on a laptop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ledger import EVENT_ADAPTER, Ledger, LedgerError, Recorded, ToolCalled
from ledger.events import as_utc


class WorkflowNotFoundError(LedgerError):
    """The ledger has no events for that workflow."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        super().__init__(f"no events recorded for workflow '{workflow_id}'")


class CheckpointNotFoundError(LedgerError):
    """The checkpoint is not in the workflow's history."""

    def __init__(self, workflow_id: str, checkpoint: str | int) -> None:
        self.workflow_id = workflow_id
        self.checkpoint = checkpoint
        super().__init__(
            f"workflow '{workflow_id}' has no checkpoint '{checkpoint}' "
            "(use a CheckpointMarked id, an event id, or an offset)"
        )


@dataclass(frozen=True)
class History:
    """One workflow's recorded events, in offset order."""

    workflow_id: str
    events: tuple[Recorded, ...]
    checkpoint: str | None = None

    @classmethod
    def load(cls, ledger: Ledger, workflow_id: str, checkpoint: str | int | None = None) -> History:
        """Read a workflow's events from the ledger, up to ``checkpoint`` if given."""
        events = tuple(ledger.read(workflow_id=workflow_id))
        if not events:
            raise WorkflowNotFoundError(workflow_id)
        return cls(workflow_id, events).upto(checkpoint)

    def upto(self, checkpoint: str | int | None) -> History:
        """Return the history cut after the checkpoint event (or offset), inclusive."""
        if checkpoint is None:
            return self
        cut: int | None = None
        if isinstance(checkpoint, int) or (isinstance(checkpoint, str) and checkpoint.isdigit()):
            offset = int(checkpoint)
            cut = sum(1 for r in self.events if r.offset <= offset)
            if cut == 0:
                raise CheckpointNotFoundError(self.workflow_id, checkpoint)
        else:
            for i, r in enumerate(self.events):
                e = r.event
                if getattr(e, "checkpoint_id", None) == checkpoint and e.type == "CheckpointMarked":
                    cut = i + 1
                    break
                if str(e.event_id) == checkpoint:
                    cut = i + 1
                    break
            if cut is None:
                raise CheckpointNotFoundError(self.workflow_id, checkpoint)
        return History(self.workflow_id, self.events[:cut], str(checkpoint))

    def __iter__(self) -> Iterator[Recorded]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of_type(self, *types: str) -> list[Any]:
        """The events (models) of the given types, in order."""
        return [r.event for r in self.events if r.event.type in types]

    @property
    def tape(self) -> list[ToolCalled]:
        """The recorded tool calls in call order."""
        calls: list[ToolCalled] = self.of_type("ToolCalled")
        return sorted(calls, key=lambda c: (c.call_index is None, c.call_index or 0))

    @property
    def started_at(self) -> datetime:
        """When the first event occurred."""
        return self.events[0].event.occurred_at

    # -- JSON lines ------------------------------------------------------------------------

    def to_jsonl(self) -> bytes:
        """Return the history as JSON lines (each event with its offset, stream and version)."""
        return b"".join(orjson.dumps(r.to_json_dict()) + b"\n" for r in self.events)

    def write(self, path: str | Path) -> None:
        """Write :meth:`to_jsonl` to a file."""
        Path(path).write_bytes(self.to_jsonl())

    @classmethod
    def from_jsonl(cls, lines: bytes | str | Sequence[bytes | str]) -> History:
        """Load a history written by :meth:`to_jsonl` (one workflow's events)."""
        if isinstance(lines, bytes | str):
            lines = lines.splitlines()
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
                meta = {k: data.pop(k) for k in ("offset", "stream", "version", "recorded_at")}
                event = EVENT_ADAPTER.validate_python(data)
            except (orjson.JSONDecodeError, KeyError, ValueError) as exc:
                raise LedgerError(f"history line {number}: not a recorded event ({exc})") from exc
            records.append(
                Recorded(
                    offset=int(meta["offset"]),
                    stream=str(meta["stream"]),
                    version=int(meta["version"]),
                    recorded_at=as_utc(datetime.fromisoformat(meta["recorded_at"])),
                    event=event,
                )
            )
        if not records:
            raise LedgerError("history is empty")
        workflows = {r.event.workflow_id for r in records}
        if len(workflows) != 1 or None in workflows:
            raise LedgerError(f"a history holds one workflow's events; found {sorted(map(str, workflows))}")
        return cls(str(workflows.pop()), tuple(records))

    @classmethod
    def read(cls, path: str | Path) -> History:
        """Load a history from a JSON-lines file."""
        return cls.from_jsonl(Path(path).read_bytes())
