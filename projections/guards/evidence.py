"""Evidence collection: facts graded verified, claimed or inferred, each an ``EvidenceCollected`` event.

Tool results, database reads, API responses and user input are ``verified``; agent output is
``claimed``; evidence derived from other evidence is ``inferred`` and must name, by id, the
evidence it was derived from (ids this ledger holds). Content can be redacted: the event then
carries the SHA-256 of the content's canonical JSON instead of the content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic_core import to_jsonable_python

from ledger import (
    Clock,
    Confidence,
    EvidenceCollected,
    Ledger,
    LedgerError,
    from_epoch_us,
    to_epoch_us,
    utc_now,
)
from projections.fold.bound import Bound, fold_new
from projections.fold.projection import Arrays, Handler, Projection
from projections.fold.storage import MetricStorage


class EvidenceError(LedgerError, ValueError):
    """Evidence cannot be recorded as asked (an inference without known sources, say)."""


def content_hash(content: Any) -> str:
    """Return ``sha256:<hex>`` of the content's canonical JSON (sorted keys), as redaction stores it."""
    canonical = orjson.dumps(to_jsonable_python(content), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


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

    @property
    def redacted(self) -> bool:
        """True when only the content's hash was recorded."""
        return self.content_hash is not None

    @classmethod
    def from_event(cls, t_us: int, e: dict[str, Any]) -> Evidence:
        """Build from a stored ``EvidenceCollected`` event (decoded JSON)."""
        return cls(
            id=UUID(e["event_id"]),
            source=e["source"],
            type=e["evidence_type"],
            content=e.get("content"),
            content_hash=e.get("content_hash"),
            confidence=e["confidence"],
            based_on=tuple(UUID(i) for i in e.get("based_on", ())),
            workflow_id=e.get("workflow_id"),
            agent=e.get("agent"),
            timestamp=from_epoch_us(t_us),
        )


class EvidenceProjection(Projection):
    """Every evidence item in the ledger, by id, in recording order."""

    name = "evidence"
    version = 1

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[UUID, Evidence] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"EvidenceCollected": self._collected}

    def _collected(self, t: int, e: dict[str, Any]) -> None:
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


class EvidenceCollector(Bound):
    """Records evidence and reads it back by confidence (the guide's "Evidence Collection").

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger to record evidence in (default: an in-memory one).
        clock: the time evidence is stamped with.
        workflow_id: the workflow new evidence belongs to, and the one ``get_*`` read by default
            (``None``: evidence of every workflow).
        agent: the agent gathering it, if any.
        redact: record only content hashes by default.
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        workflow_id: str | None = None,
        agent: str | None = None,
        redact: bool = False,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.workflow_id = workflow_id
        self.agent = agent
        self.redact = redact
        self._projection = EvidenceProjection()

    def projection(self) -> EvidenceProjection:
        """Return the evidence with every event in the ledger folded in."""
        with self._lock:
            fold_new(self.ledger, self._projection)
            return self._projection

    # -- collecting ---------------------------------------------------------------------------

    def collect(
        self,
        evidence_type: str,
        source: str,
        content: Any,
        confidence: Confidence,
        *,
        based_on: Iterable[Evidence | UUID | str] = (),
        workflow_id: str | None = None,
        agent: str | None = None,
        redact: bool | None = None,
    ) -> Evidence:
        """Record one evidence item and return it as stored."""
        sources = tuple(_evidence_id(b) for b in based_on)
        if confidence == "inferred":
            if not sources:
                raise EvidenceError("inferred evidence must name the evidence it is based on")
            known = self.projection().items
            unknown = [str(s) for s in sources if s not in known]
            if unknown:
                raise EvidenceError(
                    f"inferred evidence is based on unknown evidence ids: {', '.join(unknown)}"
                )
        hidden = self.redact if redact is None else redact
        event = EvidenceCollected(
            evidence_type=evidence_type,
            source=source,
            content=None if hidden else to_jsonable_python(content),
            content_hash=content_hash(content) if hidden else None,
            confidence=confidence,
            based_on=sources,
            workflow_id=workflow_id if workflow_id is not None else self.workflow_id,
            agent=agent if agent is not None else self.agent,
            occurred_at=self.now(),
        )
        self.ledger.append(event)
        return Evidence.from_event(to_epoch_us(event.occurred_at), event.model_dump(mode="json"))

    def from_tool_result(self, tool_name: str, result: Any, **options: Any) -> Evidence:
        """A tool's result (verified)."""
        return self.collect("tool_result", tool_name, result, "verified", **options)

    def from_database_read(self, table: str, result: Any, **options: Any) -> Evidence:
        """Rows read from a database table (verified)."""
        return self.collect("database_read", table, result, "verified", **options)

    def from_api_response(self, api_name: str, response: Any, **options: Any) -> Evidence:
        """An API's response (verified)."""
        return self.collect("api_response", api_name, response, "verified", **options)

    def from_user_input(self, user_input: Any, *, source: str = "user", **options: Any) -> Evidence:
        """What the user said (verified: it is what the user asked for)."""
        return self.collect("user_input", source, user_input, "verified", **options)

    def from_agent_output(self, agent_name: str, output: Any, **options: Any) -> Evidence:
        """An agent's output (claimed: an agent's word is not a fact)."""
        options.setdefault("agent", agent_name)
        return self.collect("agent_output", agent_name, output, "claimed", **options)

    def infer(
        self,
        content: Any,
        based_on: Sequence[Evidence | UUID | str],
        *,
        source: str = "inference",
        evidence_type: str = "inference",
        **options: Any,
    ) -> Evidence:
        """Something derived from other evidence (inferred); ``based_on`` must name known evidence."""
        return self.collect(evidence_type, source, content, "inferred", based_on=based_on, **options)

    # -- reading ------------------------------------------------------------------------------

    def get_evidence(
        self, confidence: Confidence | None = None, *, workflow_id: str | None = None
    ) -> list[Evidence]:
        """Return evidence in recording order, of one confidence or all, for the workflow in scope."""
        wf = workflow_id if workflow_id is not None else self.workflow_id
        return [
            e
            for e in self.projection().items.values()
            if (confidence is None or e.confidence == confidence) and (wf is None or e.workflow_id == wf)
        ]

    def get_verified_evidence(self, *, workflow_id: str | None = None) -> list[Evidence]:
        """Return the verified evidence only."""
        return self.get_evidence("verified", workflow_id=workflow_id)

    def get_claimed_evidence(self, *, workflow_id: str | None = None) -> list[Evidence]:
        """Return the agents' claims only."""
        return self.get_evidence("claimed", workflow_id=workflow_id)

    def get_inferred_evidence(self, *, workflow_id: str | None = None) -> list[Evidence]:
        """Return the inferences only."""
        return self.get_evidence("inferred", workflow_id=workflow_id)

    def get(self, evidence_id: UUID | str) -> Evidence:
        """Return one evidence item by id (raises :class:`EvidenceError` when unknown)."""
        key = _evidence_id(evidence_id)
        try:
            return self.projection().items[key]
        except KeyError:
            raise EvidenceError(f"no evidence with id {key}") from None

    def provenance(self, evidence: Evidence | UUID | str) -> list[Evidence]:
        """Return every item an inference rests on, transitively, each once, nearest first."""
        items = self.projection().items
        out: list[Evidence] = []
        seen: set[UUID] = set()
        frontier = list(self.get(_evidence_id(evidence)).based_on)
        while frontier:
            key = frontier.pop(0)
            if key in seen or key not in items:
                continue
            seen.add(key)
            out.append(items[key])
            frontier.extend(items[key].based_on)
        return out


def _evidence_id(value: Evidence | UUID | str) -> UUID:
    if isinstance(value, Evidence):
        return value.id
    return value if isinstance(value, UUID) else UUID(value)
