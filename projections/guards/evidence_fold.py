"""The evidence projection: every ``EvidenceCollected`` item in the ledger, by id, in recording order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import Confidence, EvidenceCollected, from_epoch_us, to_epoch_us
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection


@fields_of(EvidenceCollected)
class EvidenceFields(msgspec.Struct, frozen=True):
    """What the evidence fold reads of an ``EvidenceCollected`` (every field but the time)."""

    event_id: str
    source: str
    evidence_type: str
    confidence: Confidence
    content: Any = None
    content_hash: str | None = None
    based_on: tuple[str, ...] = ()
    workflow_id: str | None = None
    agent: str | None = None


@dataclass(frozen=True)
class Evidence:
    """One evidence item as recorded.

    Attributes:
        id: the event id (what inferences reference).
        source: where it came from (a tool, table, API, ``user``, an agent).
        type: what kind of evidence (``tool_result``, ``database_read``, ``api_response``, …).
        content: the content, or ``None`` when redacted.
        content_hash: the content's hash when redacted, else ``None``.
        confidence: ``verified``, ``claimed`` or ``inferred``.
        based_on: ids of the evidence an inference was derived from.
        workflow_id: the workflow it belongs to, if any.
        agent: the agent that gathered it, if any.
        timestamp: when it was collected (aware UTC).
        offset: its offset in the ledger when read from one (a decision trail's items), else
            ``None`` (an item just collected, before the ledger assigned one).
    """

    id: UUID
    source: str
    type: str
    content: Any
    content_hash: str | None
    confidence: Confidence
    based_on: tuple[UUID, ...]
    workflow_id: str | None
    agent: str | None
    timestamp: datetime
    offset: int | None = None

    @property
    def redacted(self) -> bool:
        """True when only the content's hash was recorded."""
        return self.content_hash is not None

    @classmethod
    def from_event(cls, t_us: int, e: EvidenceFields, offset: int | None = None) -> Evidence:
        """Build from a stored ``EvidenceCollected`` event (decoded as :class:`EvidenceFields`)."""
        return cls(
            id=UUID(e.event_id),
            source=e.source,
            type=e.evidence_type,
            content=e.content,
            content_hash=e.content_hash,
            confidence=e.confidence,
            based_on=tuple(UUID(i) for i in e.based_on),
            workflow_id=e.workflow_id,
            agent=e.agent,
            timestamp=from_epoch_us(t_us),
            offset=offset,
        )

    @classmethod
    def of(cls, event: EvidenceCollected) -> Evidence:
        """Build from an event just recorded, as a fold of it would."""
        fields = msgspec.convert(event.model_dump(mode="json"), EvidenceFields)
        return cls.from_event(to_epoch_us(event.occurred_at), fields)


class EvidenceProjection(Projection):
    """Every evidence item in the ledger, by id, in recording order."""

    name = "evidence"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {"EvidenceCollected": EvidenceFields}

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[UUID, Evidence] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"EvidenceCollected": self._collected}

    def _collected(self, t: int, e: EvidenceFields) -> None:
        item = Evidence.from_event(t, e)
        self.items[item.id] = item

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        rows = [
            [
                str(i.id),
                i.source,
                i.type,
                i.content,
                i.content_hash,
                i.confidence,
                [str(b) for b in i.based_on],
                i.workflow_id,
                i.agent,
                to_epoch_us(i.timestamp),
            ]
            for i in self.items.values()
        ]
        return {"items": rows}, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.items = {}
        for eid, source, kind, content, digest, confidence, based_on, wf, agent, t in meta["items"]:
            item = Evidence(
                UUID(eid),
                source,
                kind,
                content,
                digest,
                confidence,
                tuple(UUID(b) for b in based_on),
                wf,
                agent,
                from_epoch_us(t),
            )
            self.items[item.id] = item
