"""The reliability projection: steps, tool calls, mode checks and workflows, and the metrics.

Definitions (``docs/semantics.md``): SVR = successful steps / steps; CR = compensated steps /
steps; PC = mean replans over completed workflows (reported ``total_retries``, else the count of
its ``PlanRevised`` events); HIR = completed workflows that needed a human (on the completion, on
any step, or a ``HumanIntervened`` event) / completed workflows; MA = compliant mode observations
/ mode observations (steps carrying both modes, and mode violations); TCL and WCT with
linearly interpolated percentiles. A rate over nothing is ``None``. Windows are half-open on the
event's ``occurred_at``; workflow metrics take workflows whose completion falls in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.columns import Interner, Table, window_mask
from projections.engine import Arrays, Handler, Projection
from projections.reports import AgentMetrics, MetricsReport, MetricTargets

_NO_MODE, _COMPLIANT, _VIOLATION = 0, 1, 2


def _rate(numerator: float | np.integer[Any], denominator: float | np.integer[Any]) -> float | None:
    return None if denominator == 0 else float(numerator) / float(denominator)


def _mode_code(mode: str | None, declared: str | None) -> int:
    if mode is None or declared is None:
        return _NO_MODE
    return _COMPLIANT if mode.strip().lower() == declared.strip().lower() else _VIOLATION


@dataclass(frozen=True)
class Distribution:
    """Mean and linearly interpolated percentiles of a sample (``None`` when empty)."""

    count: int
    mean: float | None
    p50: float | None
    p95: float | None
    p99: float | None

    @classmethod
    def of(cls, values: npt.NDArray[np.float64]) -> Distribution:
        """Summarise ``values`` (NaNs must already be removed)."""
        if len(values) == 0:
            return cls(0, None, None, None, None)
        p50, p95, p99 = np.percentile(values, [50, 95, 99])
        return cls(len(values), float(values.mean()), float(p50), float(p95), float(p99))


class ReliabilityProjection(Projection):
    """Columnar state for SVR, CR, PC, HIR, MA, TCL and WCT, overall and per agent."""

    name = "reliability"
    version = 1

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
            }
        )
        self.tools = Table({"t": np.int64, "agent": np.int32, "ms": np.float64})
        self.violations = Table({"t": np.int64, "agent": np.int32})
        self.completed = Table(
            {
                "t": np.int64,
                "wf": np.int32,
                "retries": np.int32,
                "human": np.bool_,
                "ms": np.float64,
            }
        )
        # Per-workflow facts, indexed by workflow code.
        self.wf_started: list[int] = []
        self.wf_replans: list[int] = []
        self.wf_human: list[bool] = []

    def _handlers(self) -> dict[str, Handler]:
        return {
            "StepRecorded": self._step,
            "ToolCalled": self._tool,
            "ModeViolated": self._violation,
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
            self.wf_started.append(-1)
            self.wf_replans.append(0)
            self.wf_human.append(False)
        return code

    def _agent(self, agent: str | None) -> int:
        return -1 if agent is None else self.agents.code(agent)

    def _step(self, t: int, e: dict[str, Any]) -> None:
        wf = self._wf(e.get("workflow_id"))
        human = bool(e.get("required_human"))
        if human and wf >= 0:
            self.wf_human[wf] = True
        ms = e.get("tool_duration_ms")
        self.steps.add(
            t,
            self._agent(e.get("agent")),
            bool(e["success"]),
            bool(e.get("required_compensation")),
            human,
            _mode_code(e.get("mode"), e.get("declared_mode")),
            math.nan if ms is None else float(ms),
        )

    def _tool(self, t: int, e: dict[str, Any]) -> None:
        ms = e.get("duration_ms")
        if ms is None:
            return
        self.tools.add(t, self._agent(e.get("agent")), float(ms))

    def _violation(self, t: int, e: dict[str, Any]) -> None:
        self.violations.add(t, self._agent(e.get("agent")))

    def _started(self, t: int, e: dict[str, Any]) -> None:
        wf = self._wf(e.get("workflow_id"))
        if wf >= 0 and self.wf_started[wf] < 0:
            self.wf_started[wf] = t

    def _completed(self, t: int, e: dict[str, Any]) -> None:
        wf = self._wf(e.get("workflow_id"))
        retries = e.get("total_retries")
        ms = e.get("duration_ms")
        self.completed.add(
            t,
            wf,
            -1 if retries is None else int(retries),
            bool(e.get("required_human")),
            math.nan if ms is None else float(ms),
        )

    def _replanned(self, t: int, e: dict[str, Any]) -> None:
        wf = self._wf(e.get("workflow_id"))
        if wf >= 0:
            self.wf_replans[wf] += 1

    def _human(self, t: int, e: dict[str, Any]) -> None:
        wf = self._wf(e.get("workflow_id"))
        if wf >= 0:
            self.wf_human[wf] = True

    # -- state --------------------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as metadata and arrays."""
        arrays: Arrays = {
            **self.steps.dump("steps"),
            **self.tools.dump("tools"),
            **self.violations.dump("violations"),
            **self.completed.dump("completed"),
            "wf.started": np.array(self.wf_started, dtype=np.int64),
            "wf.replans": np.array(self.wf_replans, dtype=np.int64),
            "wf.human": np.array(self.wf_human, dtype=np.bool_),
        }
        return {"agents": self.agents.names, "workflows": self.workflows.names}, arrays

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.agents = Interner(meta["agents"])
        self.workflows = Interner(meta["workflows"])
        self.steps.load("steps", arrays)
        self.tools.load("tools", arrays)
        self.violations.load("violations", arrays)
        self.completed.load("completed", arrays)
        self.wf_started = [int(v) for v in arrays["wf.started"]]
        self.wf_replans = [int(v) for v in arrays["wf.replans"]]
        self.wf_human = [bool(v) for v in arrays["wf.human"]]

    # -- reports ------------------------------------------------------------------------------

    def report(
        self,
        targets: MetricTargets | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> MetricsReport:
        """Compute every metric over ``[since, until)`` (event time), overall and per agent."""
        targets = targets or MetricTargets()
        steps = self.steps
        m = window_mask(steps["t"], since_us, until_us)

        def pick(a: npt.NDArray[Any], mask: npt.NDArray[np.bool_] | None) -> npt.NDArray[Any]:
            return a if mask is None else a[mask]

        s_agent = pick(steps["agent"], m)
        s_success = pick(steps["success"], m)
        s_comp = pick(steps["comp"], m)
        s_mode = pick(steps["mode"], m)
        s_tool = pick(steps["tool_ms"], m)
        n_steps = len(s_success)

        vm = window_mask(self.violations["t"], since_us, until_us)
        v_agent = pick(self.violations["agent"], vm)

        tm = window_mask(self.tools["t"], since_us, until_us)
        t_ms = pick(self.tools["ms"], tm)
        t_agent = pick(self.tools["agent"], tm)
        step_tool = ~np.isnan(s_tool)
        latencies = np.concatenate([t_ms, s_tool[step_tool]])

        mode_obs = int(np.count_nonzero(s_mode)) + len(v_agent)
        mode_ok = int(np.count_nonzero(s_mode == _COMPLIANT))

        # Workflows completed in the window.
        cm = window_mask(self.completed["t"], since_us, until_us)
        c_wf = pick(self.completed["wf"], cm)
        c_retries = pick(self.completed["retries"], cm)
        c_human = pick(self.completed["human"], cm)
        c_ms = pick(self.completed["ms"], cm)
        c_t = pick(self.completed["t"], cm)
        n_done = len(c_wf)
        known = c_wf >= 0
        idx = np.where(known, c_wf, 0)

        def per_wf(values: list[int] | list[bool], default: int | bool) -> npt.NDArray[Any]:
            # Workflow facts for each completion; completions without a workflow id get default.
            if not values:
                return np.full(n_done, default)
            return np.where(known, np.asarray(values)[idx], default)

        replans = np.where(c_retries >= 0, c_retries, per_wf(self.wf_replans, 0))
        human = c_human | per_wf(self.wf_human, False).astype(np.bool_)
        started = per_wf(self.wf_started, -1)
        derived = np.where(started >= 0, (c_t - started) / 1000.0, np.nan)
        durations = np.where(np.isnan(c_ms), derived, c_ms)
        durations = durations[~np.isnan(durations)]

        tcl = Distribution.of(latencies)
        wct = Distribution.of(durations)
        agent_metrics = self._per_agent(s_agent, s_success, s_comp, s_mode, v_agent, t_agent, t_ms, s_tool)
        return MetricsReport(
            svr=_rate(np.count_nonzero(s_success), n_steps),
            cr=_rate(np.count_nonzero(s_comp), n_steps),
            pc=None if n_done == 0 else float(replans.mean()),
            hir=_rate(np.count_nonzero(human), n_done),
            ma=_rate(mode_ok, mode_obs),
            tcl=tcl.mean,
            tcl_p50=tcl.p50,
            tcl_p95=tcl.p95,
            tcl_p99=tcl.p99,
            wct=wct.mean,
            wct_p50=wct.p50,
            wct_p95=wct.p95,
            wct_p99=wct.p99,
            total_steps=n_steps,
            total_workflows=n_done,
            tool_calls=tcl.count,
            mode_observations=mode_obs,
            agent_metrics=agent_metrics,
            targets=targets,
            as_of_offset=self.position,
        )

    def _per_agent(
        self,
        s_agent: npt.NDArray[np.int32],
        s_success: npt.NDArray[np.bool_],
        s_comp: npt.NDArray[np.bool_],
        s_mode: npt.NDArray[np.int8],
        v_agent: npt.NDArray[np.int32],
        t_agent: npt.NDArray[np.int32],
        t_ms: npt.NDArray[np.float64],
        s_tool: npt.NDArray[np.float64],
    ) -> dict[str, AgentMetrics]:
        n = len(self.agents)
        if n == 0:
            return {}

        def count(codes: npt.NDArray[Any], weights: npt.NDArray[Any] | None = None) -> npt.NDArray[Any]:
            ok = codes >= 0
            w = None if weights is None else weights[ok]
            return np.bincount(codes[ok], weights=w, minlength=n)

        steps = count(s_agent)
        success = count(s_agent, s_success.astype(np.float64))
        comp = count(s_agent, s_comp.astype(np.float64))
        obs = count(s_agent, (s_mode != _NO_MODE).astype(np.float64)) + count(v_agent)
        ok = count(s_agent, (s_mode == _COMPLIANT).astype(np.float64))
        step_tool = ~np.isnan(s_tool)
        lat_codes = np.concatenate([t_agent, s_agent[step_tool]])
        lat_values = np.concatenate([t_ms, s_tool[step_tool]])
        lat_n = count(lat_codes)
        lat_sum = count(lat_codes, lat_values)
        out: dict[str, AgentMetrics] = {}
        for code, agent in enumerate(self.agents.names):
            if steps[code] == 0 and lat_n[code] == 0 and obs[code] == 0:
                continue
            out[agent] = AgentMetrics(
                svr=_rate(success[code], steps[code]),
                cr=_rate(comp[code], steps[code]),
                ma=_rate(ok[code], obs[code]),
                tcl=_rate(lat_sum[code], lat_n[code]),
                total_steps=int(steps[code]),
                tool_calls=int(lat_n[code]),
            )
        return dict(sorted(out.items()))
