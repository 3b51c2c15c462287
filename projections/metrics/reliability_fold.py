"""The reliability projection: steps, tool calls, mode checks and workflows, and the metrics.

Definitions (``docs/semantics.md``): SVR = successful steps / steps; CR = compensated steps /
steps; PC = mean replans over completed workflows (reported ``total_retries``, else the count of
its ``PlanRevised`` events); HIR = completed workflows that needed a human (on the completion, on
any step, or a ``HumanIntervened`` event) / completed workflows; MA = compliant mode observations
/ mode observations (steps carrying both modes, actions the mode enforcer allowed, and mode
violations); TCL (each tool call once: a workflow's ``ToolCalled`` durations, a step's
``tool_duration_ms`` only where its workflow records no ``ToolCalled``) and WCT with linearly
interpolated percentiles. A rate over nothing is ``None``. Windows are half-open on the event's
``occurred_at``; one workflow id is one workflow: only its latest ``WorkflowCompleted`` counts,
and workflow metrics take workflows whose latest completion falls in the window. Rows of a
replay workflow (its ``WorkflowStarted`` names ``replay_of``, and comes before its other events)
are marked by workflow and left out unless ``include_replays``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import msgspec
import numpy as np

from projections.fold.columns import Interner, Table, Vector
from projections.fold.projection import Arrays, Handler, Projection
from projections.metrics.event_fields import (
    CompletionFields,
    InterventionFields,
    ModeCheckFields,
    ModeViolationFields,
    ReplanFields,
    StartFields,
    StepFields,
    ToolFields,
)
from projections.metrics.reliability_counts import COMPLIANT, NO_MODE, AllTimeCache, mode_code
from projections.metrics.reliability_report import reliability_report
from projections.metrics.reports import MetricsReport, MetricTargets
from projections.metrics.workflow_totals import WorkflowTotals


class ReliabilityProjection(Projection):
    """Columnar state for SVR, CR, PC, HIR, MA, TCL and WCT, overall and per agent."""

    name = "reliability"
    # 2: rows keep their workflow (replays, TCL's one source per workflow); 3: wf.done, the row of
    # each workflow's latest completion (one workflow id is one workflow)
    version = 3
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "StepRecorded": StepFields,
        "ToolCalled": ToolFields,
        "ModeViolated": ModeViolationFields,
        "ModeChecked": ModeCheckFields,
        "WorkflowStarted": StartFields,
        "WorkflowCompleted": CompletionFields,
        "PlanRevised": ReplanFields,
        "HumanIntervened": InterventionFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.agents = Interner()
        self.workflows = Interner()
        self.steps = Table(
            {
                "t": np.int64,
                "agent": np.int32,
                "success": np.bool_,
                "comp": np.bool_,
                "human": np.bool_,
                "mode": np.int8,
                "tool_ms": np.float64,
                "wf": np.int32,
            }
        )
        self.tools = Table({"t": np.int64, "agent": np.int32, "ms": np.float64, "wf": np.int32})
        # Actions checked by the mode enforcer: allowed (ModeChecked) or not (ModeViolated).
        self.checks = Table({"t": np.int64, "agent": np.int32, "ok": np.bool_, "wf": np.int32})
        self.completed = Table(
            {
                "t": np.int64,
                "wf": np.int32,
                "retries": np.int32,
                "human": np.bool_,
                "ms": np.float64,
            }
        )
        self.all_time_cache = AllTimeCache()  # production rows only
        self.all_time_with_replays = AllTimeCache()
        # Per-workflow facts, indexed by workflow code.
        self.wf_started = Vector(np.int64, -1)
        self.wf_replans = Vector(np.int64, 0)
        self.wf_human = Vector(np.bool_, False)
        self.wf_replay = Vector(np.bool_, False)  # a replay run (WorkflowStarted.replay_of)
        self.wf_tools = Vector(np.bool_, False)  # records ToolCalled: its steps' durations don't count
        self.wf_step_ms = Vector(np.bool_, False)  # has a step with tool_duration_ms
        # The ``completed`` row of its latest WorkflowCompleted (-1: none): only that one counts.
        self.wf_done = Vector(np.int64, -1)
        # Workflows whose first ToolCalled came after a step duration was counted: the all-time
        # cache counted that duration, so it starts again (see reliability_report).
        self.tcl_retractions = 0
        # Completed workflows whose facts (human, replans, start, replay) changed after their
        # completion: the all-time workflow totals re-derive them (workflow_totals.py).
        self.wf_changes: list[int] = []
        self.workflow_totals = WorkflowTotals(replays=False)
        self.workflow_totals_with_replays = WorkflowTotals(replays=True)

    def _handlers(self) -> dict[str, Handler]:
        return {
            "StepRecorded": self._step,
            "ToolCalled": self._tool,
            "ModeViolated": self._violation,
            "ModeChecked": self._checked,
            "WorkflowStarted": self._started,
            "WorkflowCompleted": self._completed,
            "PlanRevised": self._replanned,
            "HumanIntervened": self._human,
        }

    # -- folds --------------------------------------------------------------------------------

    def _wf(self, workflow_id: str | None) -> int:
        if workflow_id is None:
            return -1
        code = self.workflows.code(workflow_id)
        if code == len(self.wf_started):
            self.wf_started.grow()
            self.wf_replans.grow()
            self.wf_human.grow()
            self.wf_replay.grow()
            self.wf_tools.grow()
            self.wf_step_ms.grow()
            self.wf_done.grow()
        return code

    def _agent(self, agent: str | None) -> int:
        return -1 if agent is None else self.agents.code(agent)

    def _step(self, t: int, e: StepFields) -> None:
        # The most frequent event of a rebuild: the helpers are inlined (calls alone were a
        # visible share of a rebuild's fold time; bench.rebuild).
        wid = e.workflow_id
        if wid is None:
            wf = -1
        else:
            wf = self.workflows.codes.get(wid, -1)
            if wf < 0:
                wf = self._wf(wid)
        human = e.required_human
        if human and wf >= 0 and not self.wf_human[wf]:
            self.wf_human[wf] = True
            if self.wf_done[wf] >= 0:
                self.wf_changes.append(wf)
        agent = e.agent
        if agent is None:
            agent_code = -1
        else:
            agent_code = self.agents.codes.get(agent, -1)
            if agent_code < 0:
                agent_code = self.agents.code(agent)
        mode, declared = e.mode, e.declared_mode
        if mode is None or declared is None:
            observed = NO_MODE
        elif mode == declared:
            observed = COMPLIANT
        else:
            observed = mode_code(mode, declared)
        ms = e.tool_duration_ms
        if ms is not None and wf >= 0:
            self.wf_step_ms[wf] = True
        self.steps.add(
            t,
            agent_code,
            e.success,
            e.required_compensation,
            human,
            observed,
            math.nan if ms is None else float(ms),
            wf,
        )

    def _tool(self, t: int, e: ToolFields) -> None:
        wid = e.workflow_id
        wf = -1 if wid is None else self.workflows.codes.get(wid, -1)
        if wf < 0 and wid is not None:
            wf = self._wf(wid)
        if wf >= 0 and not self.wf_tools[wf]:
            self.wf_tools[wf] = True
            if self.wf_step_ms[wf]:
                self.tcl_retractions += 1
        ms = e.duration_ms
        if ms is None:
            return
        agent = e.agent
        code = -1 if agent is None else self.agents.codes.get(agent)
        if code is None:
            code = self.agents.code(agent)  # type: ignore[arg-type]
        self.tools.add(t, code, float(ms), wf)

    def _violation(self, t: int, e: ModeViolationFields) -> None:
        self.checks.add(t, self._agent(e.agent), False, self._wf(e.workflow_id))

    def _checked(self, t: int, e: ModeCheckFields) -> None:
        self.checks.add(t, self._agent(e.agent), True, self._wf(e.workflow_id))

    def _started(self, t: int, e: StartFields) -> None:
        wf = self._wf(e.workflow_id)
        if wf < 0:
            return
        if self.wf_started[wf] < 0:
            self.wf_started[wf] = t
            if self.wf_done[wf] >= 0:
                self.wf_changes.append(wf)
        if e.replay_of is not None and not self.wf_replay[wf]:
            self.wf_replay[wf] = True
            if self.wf_done[wf] >= 0:
                self.wf_changes.append(wf)

    def _completed(self, t: int, e: CompletionFields) -> None:
        wf = self._wf(e.workflow_id)
        retries = e.total_retries
        ms = e.duration_ms
        if wf >= 0:
            self.wf_done[wf] = len(self.completed)
        self.completed.add(
            t,
            wf,
            -1 if retries is None else int(retries),
            bool(e.required_human),
            math.nan if ms is None else float(ms),
        )

    def _replanned(self, t: int, e: ReplanFields) -> None:
        wf = self._wf(e.workflow_id)
        if wf >= 0:
            self.wf_replans[wf] += 1
            if self.wf_done[wf] >= 0:
                self.wf_changes.append(wf)

    def _human(self, t: int, e: InterventionFields) -> None:
        wf = self._wf(e.workflow_id)
        if wf >= 0 and not self.wf_human[wf]:
            self.wf_human[wf] = True
            if self.wf_done[wf] >= 0:
                self.wf_changes.append(wf)

    # -- state --------------------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as metadata and arrays."""
        arrays: Arrays = {
            **self.steps.dump("steps"),
            **self.tools.dump("tools"),
            **self.checks.dump("checks"),
            **self.completed.dump("completed"),
            "wf.started": self.wf_started.array(),
            "wf.replans": self.wf_replans.array(),
            "wf.human": self.wf_human.array(),
            "wf.replay": self.wf_replay.array(),
            "wf.tools": self.wf_tools.array(),
            "wf.step_ms": self.wf_step_ms.array(),
            "wf.done": self.wf_done.array(),
        }
        meta = {"agents": self.agents.names, "workflows": self.workflows.names}
        return {**meta, "tcl_retractions": self.tcl_retractions}, arrays

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.agents = Interner(meta["agents"])
        self.workflows = Interner(meta["workflows"])
        self.steps.load("steps", arrays)
        self.tools.load("tools", arrays)
        self.checks.load("checks", arrays)
        self.completed.load("completed", arrays)
        self.wf_started = Vector(np.int64, -1, arrays["wf.started"])
        self.wf_replans = Vector(np.int64, 0, arrays["wf.replans"])
        self.wf_human = Vector(np.bool_, False, arrays["wf.human"])
        self.wf_replay = Vector(np.bool_, False, arrays["wf.replay"])
        self.wf_tools = Vector(np.bool_, False, arrays["wf.tools"])
        self.wf_step_ms = Vector(np.bool_, False, arrays["wf.step_ms"])
        self.wf_done = Vector(np.int64, -1, arrays["wf.done"])
        self.tcl_retractions = int(meta["tcl_retractions"])
        self.all_time_cache = AllTimeCache()
        self.all_time_with_replays = AllTimeCache()
        self.wf_changes = []
        self.workflow_totals = WorkflowTotals(replays=False)
        self.workflow_totals_with_replays = WorkflowTotals(replays=True)

    # -- reports ------------------------------------------------------------------------------

    def report(
        self,
        targets: MetricTargets | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> MetricsReport:
        """Compute every metric over ``[since, until)`` (event time), overall and per agent.

        Replay workflows are left out unless ``targets.include_replays``. The all-time report
        is incremental: step counts and the sorted latencies are kept from the previous report
        and only rows folded since are added, so it costs O(new rows).
        """
        return reliability_report(self, targets, since_us=since_us, until_us=until_us)
