"""Mode enforcement (explore / execute / escalate): whole-word action matching, every verdict an event.

Actions are matched on whole words (:mod:`projections.guards.mode_rules`: ``get_runtime`` is a read, not
a ``run``; any write word makes a write). In EXPLORE a read is allowed, a write is blocked, and an
unknown verb is blocked too (fail closed) unless the rules say otherwise. EXECUTE allows
everything and logs it. ESCALATE asks the agent's approval callback about every action and
records its decision. An agent whose mode was never set is in ``rules.default_mode`` (EXPLORE:
fail closed).

Every check is an event: an allowed action is ``ModeChecked`` (a compliant observation), a
blocked or violating one is ``ModeViolated`` — once per attempt — and both feed mode adherence
(MA). Modes are events too (``AgentModeSet``), so enforcers on one ledger share them.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from ledger import (
    AgentModeSet,
    Clock,
    Ledger,
    ModeChecked,
    ModeViolated,
    as_utc,
    utc_now,
)
from projections.fold.bound import Bound, fold_new
from projections.fold.storage import MetricStorage
from projections.guards.mode_fold import ModeProjection, ModeViolation
from projections.guards.mode_rules import ActionKind, AgentMode, ModeRules

log = logging.getLogger(__name__)


ApprovalCallback = Callable[[str], bool | Awaitable[bool]]
"""Asked about an ESCALATE agent's action; returns (or resolves to) True to approve it."""


@dataclass(frozen=True)
class _Approver:
    callback: ApprovalCallback
    name: str


class ModeEnforcer(Bound):
    """Checks actions against agents' modes and records every verdict (the guide's "Mode Enforcement").

    Args:
        storage: where events live; exclusive with ``ledger``.
        ledger: the ledger to record modes and verdicts in (default: an in-memory one).
        clock: the time verdicts are stamped with.
        rules: word lists and defaults (:class:`ModeRules`).
    """

    def __init__(
        self,
        storage: MetricStorage | None = None,
        *,
        ledger: Ledger | None = None,
        clock: Clock = utc_now,
        rules: ModeRules | None = None,
    ) -> None:
        super().__init__(storage, ledger=ledger, clock=clock)
        self.rules = rules or ModeRules()
        self._projection = ModeProjection()
        self._approvers: dict[str, _Approver] = {}

    def projection(self) -> ModeProjection:
        """Return the mode state with every event in the ledger folded in."""
        with self._lock:
            fold_new(self.ledger, self._projection)
            return self._projection

    # -- modes --------------------------------------------------------------------------------

    def set_mode(self, agent: str, mode: AgentMode | str) -> None:
        """Put ``agent`` in ``mode`` (recorded as an ``AgentModeSet`` event; names are case-insensitive)."""
        value = AgentMode(mode.lower()) if isinstance(mode, str) else mode
        self.ledger.append(AgentModeSet(agent=agent, mode=value.value, occurred_at=self.now()))

    def get_mode(self, agent: str) -> AgentMode:
        """Return the agent's current mode (``rules.default_mode`` if it was never set)."""
        mode = self.projection().modes.get(agent)
        return self.rules.default_mode if mode is None else AgentMode(mode)

    def require_approval(
        self, agent: str, callback: ApprovalCallback, *, approver: str | None = None
    ) -> None:
        """Ask ``callback(action)`` before any action of ``agent`` while it is in ESCALATE mode.

        ``approver`` names who decides, for the record (default ``"approval callback"``). The
        callback lives in this process; an ESCALATE agent without one is denied (fail closed).
        """
        self._approvers[agent] = _Approver(callback, approver or "approval callback")

    # -- checks -------------------------------------------------------------------------------

    def can_execute(self, agent: str, action: str, *, workflow_id: str | None = None) -> bool:
        """Return whether ``agent`` may run ``action`` now, and record the verdict.

        In ESCALATE mode the approval callback is called with the action (synchronously; use
        :meth:`can_execute_async` for an async callback).
        """
        mode = self.get_mode(agent)
        if mode is not AgentMode.ESCALATE:
            return self._verdict(agent, action, mode, workflow_id)
        approver = self._approvers.get(agent)
        if approver is None:
            return self._deny(agent, action, mode, "no_approver", workflow_id)
        try:
            answer = approver.callback(action)
        except Exception:
            log.warning("approval callback for %s failed; %s denied", agent, action, exc_info=True)
            return self._deny(agent, action, mode, "approval_failed", workflow_id)
        if inspect.isawaitable(answer):
            if inspect.iscoroutine(answer):
                answer.close()  # never awaited otherwise; say how to use it instead
            raise TypeError(f"the approval callback of {agent} is async: use can_execute_async")
        return self._approval(agent, action, mode, approver, bool(answer), workflow_id)

    async def can_execute_async(self, agent: str, action: str, *, workflow_id: str | None = None) -> bool:
        """Like :meth:`can_execute`, awaiting an async approval callback."""
        mode = self.get_mode(agent)
        if mode is not AgentMode.ESCALATE:
            return self._verdict(agent, action, mode, workflow_id)
        approver = self._approvers.get(agent)
        if approver is None:
            return self._deny(agent, action, mode, "no_approver", workflow_id)
        try:
            answer = approver.callback(action)
            if inspect.isawaitable(answer):
                answer = await answer
        except Exception:
            log.warning("approval callback for %s failed; %s denied", agent, action, exc_info=True)
            return self._deny(agent, action, mode, "approval_failed", workflow_id)
        return self._approval(agent, action, mode, approver, bool(answer), workflow_id)

    def record_action(
        self, agent: str, action: str, allowed: bool, *, workflow_id: str | None = None
    ) -> bool:
        """Record an action that was taken (decided elsewhere); return whether it was compliant.

        It is a violation when ``allowed`` is false, or when the agent's mode does not permit it
        (a write, or an unknown verb, taken in EXPLORE); an action taken in ESCALATE with
        ``allowed=True`` counts as approved.
        """
        mode = self.get_mode(agent)
        if not allowed:
            return self._deny(agent, action, mode, "not_allowed", workflow_id)
        if mode is AgentMode.EXPLORE and not self.rules.allows(mode, action):
            return self._deny(agent, action, mode, "outside_mode", workflow_id)
        return self._allow(agent, action, mode, None, workflow_id)

    def get_violations(
        self,
        agent: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[ModeViolation]:
        """Return recorded violations in order, for one agent or all, in ``[since, until)``."""
        lo = None if since is None else as_utc(since)
        hi = None if until is None else as_utc(until)
        return [
            v
            for v in self.projection().violations
            if (agent is None or v.agent == agent)
            and (lo is None or v.timestamp >= lo)
            and (hi is None or v.timestamp < hi)
        ]

    # -- verdicts -----------------------------------------------------------------------------

    def _verdict(self, agent: str, action: str, mode: AgentMode, workflow_id: str | None) -> bool:
        if self.rules.allows(mode, action):
            return self._allow(agent, action, mode, None, workflow_id)
        unknown = self.rules.classify(action) is ActionKind.UNKNOWN
        return self._deny(agent, action, mode, "blocked_unknown" if unknown else "blocked", workflow_id)

    def _approval(
        self,
        agent: str,
        action: str,
        mode: AgentMode,
        approver: _Approver,
        approved: bool,
        workflow_id: str | None,
    ) -> bool:
        if approved:
            return self._allow(agent, action, mode, approver.name, workflow_id)
        return self._deny(agent, action, mode, "denied_by_approver", workflow_id)

    def _allow(
        self, agent: str, action: str, mode: AgentMode, approved_by: str | None, workflow_id: str | None
    ) -> bool:
        self.ledger.append(
            ModeChecked(
                agent=agent,
                declared_mode=mode.value,
                action=action,
                approved_by=approved_by,
                workflow_id=workflow_id,
                occurred_at=self.now(),
            )
        )
        return True

    def _deny(self, agent: str, action: str, mode: AgentMode, kind: str, workflow_id: str | None) -> bool:
        self.ledger.append(
            ModeViolated(
                agent=agent,
                declared_mode=mode.value,
                attempted_action=action,
                violation_type=kind,
                workflow_id=workflow_id,
                occurred_at=self.now(),
            )
        )
        return False
