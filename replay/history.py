"""A workflow's history: its events in order, from the ledger or a JSON-lines file.

A history is immutable. It can stop at a checkpoint — a ``CheckpointMarked`` id, an event id,
or a global offset — and it round-trips through JSON lines (one event per line, with its
offset), so a production run can be replayed on a laptop.

Events were validated when they were written, so a history keeps them as decoded JSON and
builds the pydantic model of an event only when something asks for it: explaining a
thousand-event workflow reads plain dicts (``docs/performance.md``: a rebuild need not validate).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from ledger import (
    EVENT_ADAPTER,
    Ledger,
    LedgerError,
    ModelCalled,
    ToolCalled,
    as_utc,
    from_epoch_us,
    to_epoch_us,
)
from projections.fold import gc_paused


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


class HistoryRecord:
    """One recorded event of a history: where it is stored and what it says (as JSON).

    ``event`` builds (and keeps) the validated pydantic model on first use. A plain slotted
    class, not a frozen dataclass: a thousand of these are made per trail, and cheaply.
    """

    __slots__ = ("_model", "data", "offset", "recorded_us", "stream", "version")

    def __init__(
        self, offset: int, stream: str, version: int, recorded_us: int | None, data: dict[str, Any]
    ) -> None:
        self.offset = offset
        self.stream = stream
        self.version = version
        self.recorded_us = recorded_us
        self.data = data
        self._model: Any = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HistoryRecord):
            return NotImplemented
        return (self.offset, self.stream, self.version, self.recorded_us, self.data) == (
            other.offset,
            other.stream,
            other.version,
            other.recorded_us,
            other.data,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable cache, compared by value

    def __repr__(self) -> str:
        return f"HistoryRecord(offset={self.offset}, type={self.data.get('type')!r})"

    @property
    def recorded_at(self) -> datetime | None:
        """When the event was committed (aware UTC), if known."""
        return None if self.recorded_us is None else from_epoch_us(self.recorded_us)

    @property
    def type(self) -> str:
        """The event type."""
        return str(self.data["type"])

    @property
    def event(self) -> Any:
        """The event as its model (validated once, then cached)."""
        if self._model is None:
            self._model = EVENT_ADAPTER.validate_python(self.data)
        return self._model

    def to_json_dict(self) -> dict[str, Any]:
        """The event's JSON form plus its offset, stream, version and commit time."""
        out = dict(self.data)
        out["offset"] = self.offset
        out["stream"] = self.stream
        out["version"] = self.version
        out["recorded_at"] = None if self.recorded_at is None else self.recorded_at.isoformat()
        return out


@dataclass(frozen=True)
class History:
    """One workflow's recorded events, in offset order."""

    workflow_id: str
    events: tuple[HistoryRecord, ...]
    checkpoint: str | None = None

    @classmethod
    def load(cls, ledger: Ledger, workflow_id: str, checkpoint: str | int | None = None) -> History:
        """Read a workflow's events from the ledger, up to ``checkpoint`` if given."""
        loads = orjson.loads
        opened = ledger.open_sealed
        stream = f"wf:{workflow_id}"
        with gc_paused():
            events = tuple(
                HistoryRecord(offset, stream, version, recorded_us, loads(state))
                for offset, version, recorded_us, state in ledger.read_stream(stream)
            )
            # Events about a subject hold sealed fields: open them (or read them as erased).
            for record in events:
                if record.data.get("subject") is not None:
                    opened(record.data)
        if not events:
            raise WorkflowNotFoundError(workflow_id)
        return cls(workflow_id, events).upto(checkpoint)

    def upto(self, checkpoint: str | int | None) -> History:
        """Return the history cut after the checkpoint event (or offset), inclusive.

        A checkpoint is looked up as a ``CheckpointMarked`` id, then an event id; an int (or
        an all-digit string that names neither) is an offset.
        """
        if checkpoint is None:
            return self
        cut: int | None = None
        if isinstance(checkpoint, str):
            for i, r in enumerate(self.events):
                d = r.data
                if (d["type"] == "CheckpointMarked" and d.get("checkpoint_id") == checkpoint) or d.get(
                    "event_id"
                ) == checkpoint:
                    cut = i + 1
                    break
        if cut is None and (isinstance(checkpoint, int) or checkpoint.isdigit()):
            offset = int(checkpoint)
            cut = sum(1 for r in self.events if r.offset <= offset) or None
        if cut is None:
            raise CheckpointNotFoundError(self.workflow_id, checkpoint)
        return History(self.workflow_id, self.events[:cut], str(checkpoint))

    def __iter__(self) -> Iterator[HistoryRecord]:
        return iter(self.events)

    def __len__(self) -> int:
        return len(self.events)

    def of_type(self, *types: str) -> list[Any]:
        """The events (models) of the given types, in order."""
        return [r.event for r in self.events if r.data["type"] in types]

    @property
    def tape(self) -> list[ToolCalled]:
        """The recorded tool calls in call order."""
        calls: list[ToolCalled] = self.of_type("ToolCalled")
        return sorted(calls, key=lambda c: (c.call_index is None, c.call_index or 0))

    @property
    def model_tape(self) -> list[ModelCalled]:
        """The recorded model calls in call order (their own ordinals, apart from tool calls)."""
        calls: list[ModelCalled] = self.of_type("ModelCalled")
        return sorted(calls, key=lambda c: (c.call_index is None, c.call_index or 0))

    @property
    def started_at(self) -> datetime:
        """When the first event occurred."""
        return as_utc(datetime.fromisoformat(self.events[0].data["occurred_at"]))

    # -- JSON lines ------------------------------------------------------------------------

    def to_jsonl(self) -> bytes:
        """Return the history as JSON lines (each event with its offset, stream and version)."""
        return b"".join(orjson.dumps(r.to_json_dict()) + b"\n" for r in self.events)

    def write(self, path: str | Path) -> None:
        """Write :meth:`to_jsonl` to a file."""
        Path(path).write_bytes(self.to_jsonl())

    @classmethod
    def from_jsonl(cls, lines: bytes | str | Sequence[bytes | str]) -> History:
        """Load a history written by :meth:`to_jsonl` (one workflow's events), validating it."""
        if isinstance(lines, bytes | str):
            lines = lines.splitlines()
        records = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                data = orjson.loads(line)
                meta = {k: data.pop(k) for k in ("offset", "stream", "version", "recorded_at")}
                # A file is input from outside the ledger: validate it, and keep the event's
                # canonical JSON form.
                event = EVENT_ADAPTER.validate_python(data)
            except (orjson.JSONDecodeError, KeyError, ValueError) as exc:
                raise LedgerError(f"history line {number}: not a recorded event ({exc})") from exc
            record = HistoryRecord(
                int(meta["offset"]),
                str(meta["stream"]),
                int(meta["version"]),
                None
                if meta["recorded_at"] is None
                else to_epoch_us(datetime.fromisoformat(meta["recorded_at"])),
                event.model_dump(mode="json"),
            )
            record._model = event
            records.append(record)
        if not records:
            raise LedgerError("history is empty")
        workflows = {r.data.get("workflow_id") for r in records}
        if len(workflows) != 1 or None in workflows:
            raise LedgerError(f"a history holds one workflow's events; found {sorted(map(str, workflows))}")
        return cls(str(workflows.pop()), tuple(records))

    @classmethod
    def read(cls, path: str | Path) -> History:
        """Load a history from a JSON-lines file."""
        return cls.from_jsonl(Path(path).read_bytes())
