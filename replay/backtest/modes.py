"""Modes back-tested: the actions agents took, checked again as if they had been in other modes.

The collector keeps each agent's mode changes (``AgentModeSet``), every action the enforcer
checked (``ModeChecked`` allowed, ``ModeViolated`` denied), the tool calls of the agents asked
about, and the steps' mode observations. :func:`simulate` decides each action again with
``ModeRules.allows`` — the enforcer's rule — in the agent's what-if mode: EXECUTE allows all,
EXPLORE reads (and unknown verbs if the rules say so), ESCALATE only what a person approved in
reality. A violation recorded as ``not_allowed`` (decided by the caller, not the mode) stays one.
MA is then compliant observations / observations, as in every report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgspec

from ledger import ModeChecked
from projections.fold import Handler, fields_of
from projections.guards import AgentMode, ModeProjection, ModeRules
from projections.metrics import ReliabilityProjection
from replay.backtest.breakers import ToolOutcomeFields
from replay.backtest.config import ModeSetting
from replay.backtest.scan import Collector, ReplayWorkflows


@fields_of(ModeChecked)
class CheckedFields(msgspec.Struct, frozen=True):
    """What the back-test reads of a ``ModeChecked``."""

    agent: str
    action: str
    approved_by: str | None = None
    workflow_id: str | None = None


@dataclass(frozen=True)
class Action:
    """One action the enforcer checked: who, what, when, and how it was decided."""

    t: int
    agent: str
    action: str
    allowed: bool
    approved: bool
    by_caller: bool  # denied by the caller (``not_allowed``), whatever the mode


class ModeCollector(Collector):
    """Mode changes, checked actions, the asked-about agents' tool calls and step observations."""

    name = "backtest_modes"
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "AgentModeSet": ModeProjection.structs["AgentModeSet"],
        "ModeChecked": CheckedFields,
        "ModeViolated": ModeProjection.structs["ModeViolated"],
        "StepRecorded": ReliabilityProjection.structs["StepRecorded"],
        "ToolCalled": ToolOutcomeFields,
    }

    def __init__(self, agents: set[str] | None = None, replays: ReplayWorkflows | None = None) -> None:
        super().__init__()
        self.wanted = agents or set()
        self.replays = replays
        self.changes: list[tuple[int, str, str]] = []  # (t, agent, mode), in ledger order
        self.actions: list[Action] = []
        self.tools: dict[str, list[str]] = {}  # agent → tool names called, in order
        self.agents: set[str] = set()
        self.step_observations = 0
        self.step_compliant = 0

    def _handlers(self) -> dict[str, Handler]:
        return {
            "AgentModeSet": self._set,
            "ModeChecked": self._checked,
            "ModeViolated": self._violated,
            "StepRecorded": self._step,
            "ToolCalled": self._tool,
        }

    def _skipped(self, workflow_id: str | None) -> bool:
        return self.replays is not None and workflow_id is not None and workflow_id in self.replays.ids

    def _set(self, t: int, e: Any) -> None:
        self.agents.add(e.agent)
        self.changes.append((t, e.agent, e.mode))

    def _checked(self, t: int, e: CheckedFields) -> None:
        if not self._skipped(e.workflow_id):
            self.agents.add(e.agent)
            self.actions.append(Action(t, e.agent, e.action, True, e.approved_by is not None, False))

    def _violated(self, t: int, e: Any) -> None:
        if not self._skipped(e.workflow_id):
            self.agents.add(e.agent)
            by_caller = e.violation_type == "not_allowed"
            self.actions.append(Action(t, e.agent, e.attempted_action, False, False, by_caller))

    def _step(self, t: int, e: Any) -> None:
        if e.agent is not None:
            self.agents.add(e.agent)
        if e.mode is not None and e.declared_mode is not None and not self._skipped(e.workflow_id):
            self.step_observations += 1
            self.step_compliant += e.mode == e.declared_mode

    def _tool(self, t: int, e: Any) -> None:
        agent = e.agent
        if agent is not None and agent in self.wanted and not self._skipped(e.workflow_id):
            self.tools.setdefault(agent, []).append(e.tool)


@dataclass(frozen=True)
class ModeOutcome:
    """What other modes would have allowed and denied, and the MA that results.

    Attributes:
        modes: the what-if mode of each agent asked about.
        checked: actions re-decided.
        newly_denied: actions allowed in reality that it would deny; ``newly_allowed`` the reverse.
        denied: actions it would deny (of the re-decided ones).
        denied_actions: the most frequent of those, ``(action, count)``.
        tool_calls_denied: tool calls of the agents asked about that their mode would deny.
        ma: MA with the re-decided actions; ``recorded_ma`` as recorded (``None``: no observations).
    """

    modes: dict[str, str]
    checked: int
    newly_denied: int
    newly_allowed: int
    denied: int
    denied_actions: tuple[tuple[str, int], ...]
    tool_calls: dict[str, int]
    tool_calls_denied: dict[str, int]
    ma: float | None
    recorded_ma: float | None

    def to_json(self) -> dict[str, Any]:
        """The outcome as JSON."""
        return {
            "modes": dict(sorted(self.modes.items())),
            "checked": self.checked,
            "newly_denied": self.newly_denied,
            "newly_allowed": self.newly_allowed,
            "denied": self.denied,
            "denied_actions": [{"action": a, "count": n} for a, n in self.denied_actions],
            "tool_calls": dict(sorted(self.tool_calls.items())),
            "tool_calls_denied": dict(sorted(self.tool_calls_denied.items())),
            "ma": self.ma,
            "recorded_ma": self.recorded_ma,
            "same_as_recorded": self.newly_denied == 0 and self.newly_allowed == 0,
        }


def _allowed(rules: ModeRules, mode: AgentMode, action: str, approved: bool) -> bool:
    if mode is AgentMode.ESCALATE:
        return approved
    return rules.allows(mode, action)


def simulate(collected: ModeCollector, setting: ModeSetting) -> ModeOutcome:
    """Decide every checked action of the agents asked about again (all agents, when the verb
    lists change) in their what-if mode, or their recorded one."""
    rules = setting.rules
    every = rules != ModeRules()
    recorded: dict[str, AgentMode] = {}
    changes = iter(collected.changes)
    pending = next(changes, None)
    newly_denied = newly_allowed = denied = checked = compliant = 0
    counts: dict[str, int] = {}
    for a in collected.actions:
        while pending is not None and pending[0] <= a.t:
            recorded[pending[1]] = AgentMode(pending[2])
            pending = next(changes, None)
        if a.agent in setting.modes or every:
            mode = setting.modes.get(a.agent) or recorded.get(a.agent, rules.default_mode)
            ok = False if a.by_caller else _allowed(rules, mode, a.action, a.approved)
            checked += 1
            newly_denied += a.allowed and not ok
            newly_allowed += ok and not a.allowed
            if not ok:
                denied += 1
                counts[a.action] = counts.get(a.action, 0) + 1
        else:
            ok = a.allowed
        compliant += ok
    tool_calls = {agent: len(tools) for agent, tools in collected.tools.items()}
    tools_denied = {
        agent: sum(1 for tool in tools if not _allowed(rules, setting.modes[agent], tool, False))
        for agent, tools in collected.tools.items()
        if agent in setting.modes
    }
    observations = collected.step_observations + len(collected.actions)
    recorded_compliant = collected.step_compliant + sum(1 for a in collected.actions if a.allowed)
    return ModeOutcome(
        modes={a: m.value for a, m in setting.modes.items()},
        checked=checked,
        newly_denied=newly_denied,
        newly_allowed=newly_allowed,
        denied=denied,
        denied_actions=tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]),
        tool_calls=tool_calls,
        tool_calls_denied=tools_denied,
        ma=(collected.step_compliant + compliant) / observations if observations else None,
        recorded_ma=recorded_compliant / observations if observations else None,
    )
