"""Evidence collection: facts graded verified, claimed or inferred, each an ``EvidenceCollected`` event.

Tool results, database reads, API responses and user input are ``verified``; agent output is
``claimed``; evidence derived from other evidence is ``inferred`` and must name, by id, the
evidence it was derived from (ids this ledger holds). Content can be redacted: the event then
carries the SHA-256 of the content's canonical JSON instead of the content.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
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
    utc_now,
)
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.guards.evidence_fold import Evidence, EvidenceProjection


class EvidenceError(LedgerError, ValueError):
    """Evidence cannot be recorded as asked (an inference without known sources, say)."""


def content_hash(content: Any) -> str:
    """Return ``sha256:<hex>`` of the content's canonical JSON (sorted keys), as redaction stores it."""
    canonical = orjson.dumps(to_jsonable_python(content), option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


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
        return Evidence.of(event)

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
            self._shown(e)
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
            return self._shown(self.projection().items[key])
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
            out.append(self._shown(items[key]))
            frontier.extend(items[key].based_on)
        return out

    def _shown(self, item: Evidence) -> Evidence:
        """The item with sealed content opened, or erased (``ledger.keys``): the fold keeps what
        is stored, the ciphertext of evidence about a data subject."""
        content = item.content
        if not (isinstance(content, dict) and content.get("$enc") == "v1"):
            return item
        data = {"type": "EvidenceCollected", "subject": "-", "event_id": str(item.id), "content": content}
        self.ledger.open_sealed(data)
        return dataclasses.replace(item, content=data["content"])


def _evidence_id(value: Evidence | UUID | str) -> UUID:
    if isinstance(value, Evidence):
        return value.id
    return value if isinstance(value, UUID) else UUID(value)
