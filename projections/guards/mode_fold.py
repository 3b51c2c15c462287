"""The mode projection: agents' current modes, their allowed and violating actions, the violations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar
from uuid import UUID

import msgspec

from ledger import AgentModeSet, ModeChecked, ModeViolated, from_epoch_us, to_epoch_us
from projections.fold.event_schema import fields_of
from projections.fold.projection import Arrays, Handler, Projection


@fields_of(AgentModeSet)
class ModeSetFields(msgspec.Struct, frozen=True):
    """What the mode fold reads of an ``AgentModeSet``."""

    agent: str
    mode: str


@fields_of(ModeChecked)
class CheckFields(msgspec.Struct, frozen=True):
    """What the mode fold reads of a ``ModeChecked``."""

    agent: str


@fields_of(ModeViolated)
class ViolationFields(msgspec.Struct, frozen=True):
    """What the mode fold reads of a ``ModeViolated``."""

    event_id: str
    agent: str
    declared_mode: str
    attempted_action: str
    violation_type: str = "blocked"
    workflow_id: str | None = None


@dataclass(frozen=True)
class ModeViolation:
    """A blocked or violating action, as recorded in the ledger."""

    agent: str
    mode: str
    attempted_action: str
    violation_type: str
    timestamp: datetime
    event_id: UUID
    workflow_id: str | None = None


@dataclass
class _AgentCounts:
    allowed: int = 0
    violations: int = 0


class ModeProjection(Projection):
    """Agents' current modes, their allowed and violating actions, and the violations themselves."""

    name = "modes"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "AgentModeSet": ModeSetFields,
        "ModeChecked": CheckFields,
        "ModeViolated": ViolationFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.modes: dict[str, str] = {}
        self.counts: dict[str, _AgentCounts] = {}
        self.violations: list[ModeViolation] = []

    def _handlers(self) -> dict[str, Handler]:
        return {"AgentModeSet": self._set, "ModeChecked": self._checked, "ModeViolated": self._violated}

    def _set(self, t: int, e: ModeSetFields) -> None:
        self.modes[e.agent] = e.mode

    def _checked(self, t: int, e: CheckFields) -> None:
        self.counts.setdefault(e.agent, _AgentCounts()).allowed += 1

    def _violated(self, t: int, e: ViolationFields) -> None:
        self.counts.setdefault(e.agent, _AgentCounts()).violations += 1
        self.violations.append(
            ModeViolation(
                agent=e.agent,
                mode=e.declared_mode,
                attempted_action=e.attempted_action,
                violation_type=e.violation_type,
                timestamp=from_epoch_us(t),
                event_id=UUID(e.event_id),
                workflow_id=e.workflow_id,
            )
        )

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as JSON-able metadata."""
        return {
            "modes": self.modes,
            "counts": {a: [c.allowed, c.violations] for a, c in sorted(self.counts.items())},
            "violations": [
                [
                    v.agent,
                    v.mode,
                    v.attempted_action,
                    v.violation_type,
                    to_epoch_us(v.timestamp),
                    str(v.event_id),
                    v.workflow_id,
                ]
                for v in self.violations
            ],
        }, {}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.modes = dict(meta["modes"])
        self.counts = {a: _AgentCounts(*c) for a, c in meta["counts"].items()}
        self.violations = [
            ModeViolation(agent, mode, action, kind, from_epoch_us(t), UUID(eid), wf)
            for agent, mode, action, kind, t, eid, wf in meta["violations"]
        ]
