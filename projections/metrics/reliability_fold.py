"""The reliability projection: steps, tool calls, mode checks and workflows, and the metrics.

Definitions (``docs/semantics.md``): SVR = successful steps / steps; CR = compensated steps /
steps; PC = mean replans over completed workflows (reported ``total_retries``, else the count of
its ``PlanRevised`` events); HIR = completed workflows that needed a human (on the completion, on
any step, or a ``HumanIntervened`` event) / completed workflows; MA = compliant mode observations
/ mode observations (steps carrying both modes, actions the mode enforcer allowed, and mode
violations); TCL and WCT with
linearly interpolated percentiles. A rate over nothing is ``None``. Windows are half-open on the
event's ``occurred_at``; workflow metrics take workflows whose completion falls in the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgspec
import numpy as np
import numpy.typing as npt

from projections.fold.columns import Interner, Table, Vector, window_mask
from projections.fold.projection import Arrays, Handler, Projection
from projections.metrics.reports import AgentMetrics, MetricsReport, MetricTargets

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
        return cls(len(values), exact_sum(values) / len(values), float(p50), float(p95), float(p99))

    @classmethod
    def of_sorted(cls, ordered: npt.NDArray[np.float64], total: float) -> Distribution:
        """Summarise already sorted values in O(1), with numpy's linear percentile arithmetic."""
        n = len(ordered)
        if n == 0:
            return cls(0, None, None, None, None)
        return cls(
            n,
            total / n,
            _sorted_percentile(ordered, 0.50),
            _sorted_percentile(ordered, 0.95),
            _sorted_percentile(ordered, 0.99),
        )


def nanos(values: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Milliseconds as whole nanoseconds: integer sums are exact in any order."""
    return np.rint(values * 1e6).astype(np.int64)


def exact_sum(values: npt.NDArray[np.float64]) -> float:
    """The sum of millisecond values, the same however the values were grouped or ordered.

    A float sum depends on the order of additions, so an incremental report and a one-shot
    fold would differ in the last digits; summing whole nanoseconds does not.
    """
    return int(nanos(values).sum()) / 1e6


def _sorted_percentile(ordered: npt.NDArray[np.float64], q: float) -> float:
    """numpy's ``percentile(method="linear")`` on sorted data, the same float operations."""
    n = len(ordered)
    virtual = (n - 1) * q  # numpy's virtual index for the linear method
    below = int(np.floor(virtual))
    gamma = virtual - below
    lo = float(ordered[min(max(below, 0), n - 1)])
    hi = float(ordered[min(max(below + 1, 0), n - 1)])
    diff = hi - lo
    # numpy's _lerp: computed from the nearer end for stability.
    return hi - diff * (1 - gamma) if gamma >= 0.5 else lo + diff * gamma


class StepFields(msgspec.Struct, frozen=True):
    """The fields of a ``StepRecorded`` the reliability fold reads (decoded without the rest)."""

    success: bool
    workflow_id: str | None = None
    agent: str | None = None
    required_compensation: bool = False
    required_human: bool = False
    mode: str | None = None
    declared_mode: str | None = None
    tool_duration_ms: float | None = None


class ToolFields(msgspec.Struct, frozen=True):
    """The fields of a ``ToolCalled`` the reliability fold reads: not its arguments or result."""

    agent: str | None = None
    duration_ms: float | None = None


class ReliabilityProjection(Projection):
    """Columnar state for SVR, CR, PC, HIR, MA, TCL and WCT, overall and per agent."""

    name = "reliability"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "StepRecorded": StepFields,
        "ToolCalled": ToolFields,
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
            }
        )
        self.tools = Table({"t": np.int64, "agent": np.int32, "ms": np.float64})
        # Actions checked by the mode enforcer: allowed (ModeChecked) or not (ModeViolated).
        self.checks = Table({"t": np.int64, "agent": np.int32, "ok": np.bool_})
        self.completed = Table(
            {
                "t": np.int64,
                "wf": np.int32,
                "retries": np.int32,
                "human": np.bool_,
                "ms": np.float64,
            }
        )
        self._cache = _AllTimeCache()
        # Per-workflow facts, indexed by workflow code.
        self.wf_started = Vector(np.int64, -1)
        self.wf_replans = Vector(np.int64, 0)
        self.wf_human = Vector(np.bool_, False)

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
        if human and wf >= 0:
            self.wf_human[wf] = True
        agent = e.agent
        if agent is None:
            agent_code = -1
        else:
            agent_code = self.agents.codes.get(agent, -1)
            if agent_code < 0:
                agent_code = self.agents.code(agent)
        mode, declared = e.mode, e.declared_mode
        if mode is None or declared is None:
            mode_code = _NO_MODE
        elif mode == declared:
            mode_code = _COMPLIANT
        else:
            mode_code = _mode_code(mode, declared)
        ms = e.tool_duration_ms
        self.steps.add(
            t,
            agent_code,
            e.success,
            e.required_compensation,
            human,
            mode_code,
            math.nan if ms is None else float(ms),
        )

    def _tool(self, t: int, e: ToolFields) -> None:
        ms = e.duration_ms
        if ms is None:
            return
        agent = e.agent
        code = -1 if agent is None else self.agents.codes.get(agent)
        if code is None:
            code = self.agents.code(agent)  # type: ignore[arg-type]
        self.tools.add(t, code, float(ms))

    def _violation(self, t: int, e: dict[str, Any]) -> None:
        self.checks.add(t, self._agent(e.get("agent")), False)

    def _checked(self, t: int, e: dict[str, Any]) -> None:
        self.checks.add(t, self._agent(e.get("agent")), True)

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
            **self.checks.dump("checks"),
            **self.completed.dump("completed"),
            "wf.started": self.wf_started.array(),
            "wf.replans": self.wf_replans.array(),
            "wf.human": self.wf_human.array(),
        }
        return {"agents": self.agents.names, "workflows": self.workflows.names}, arrays

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
        self._cache = _AllTimeCache()

    # -- reports ------------------------------------------------------------------------------

    def report(
        self,
        targets: MetricTargets | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> MetricsReport:
        """Compute every metric over ``[since, until)`` (event time), overall and per agent.

        The all-time report is incremental: step counts and the sorted latencies are kept from
        the previous report and only rows folded since are added, so it costs O(new rows).
        """
        targets = targets or MetricTargets()
        n_agents = len(self.agents)
        if since_us is None and until_us is None:
            counts, latencies = self._all_time()
        else:
            steps, tools, checks = self.steps, self.tools, self.checks
            m = window_mask(steps["t"], since_us, until_us)
            tm = window_mask(tools["t"], since_us, until_us)
            vm = window_mask(checks["t"], since_us, until_us)
            assert m is not None and tm is not None and vm is not None
            counts = _Counts.of(
                n_agents,
                steps["agent"][m],
                steps["success"][m],
                steps["comp"][m],
                steps["mode"][m],
                steps["tool_ms"][m],
                checks["agent"][vm],
                checks["ok"][vm],
                tools["agent"][tm],
                tools["ms"][tm],
            )
            step_ms = steps["tool_ms"][m]
            latencies = Distribution.of(np.concatenate([tools["ms"][tm], step_ms[~np.isnan(step_ms)]]))
        pc, hir, wct, n_done = self._workflows(since_us, until_us)
        return MetricsReport(
            svr=_rate(counts.success.sum(), counts.steps.sum()),
            cr=_rate(counts.comp.sum(), counts.steps.sum()),
            pc=pc,
            hir=hir,
            ma=_rate(counts.ok.sum(), counts.obs.sum()),
            tcl=latencies.mean,
            tcl_p50=latencies.p50,
            tcl_p95=latencies.p95,
            tcl_p99=latencies.p99,
            wct=wct.mean,
            wct_p50=wct.p50,
            wct_p95=wct.p95,
            wct_p99=wct.p99,
            total_steps=int(counts.steps.sum()),
            total_workflows=n_done,
            tool_calls=latencies.count,
            mode_observations=int(counts.obs.sum()),
            agent_metrics=counts.per_agent(self.agents.names),
            targets=targets,
            as_of_offset=self.position,
        )

    def _all_time(self) -> tuple[_Counts, Distribution]:
        cache = self._cache
        steps, tools, checks = self.steps, self.tools, self.checks
        s0, t0, v0 = cache.steps, cache.tools, cache.checks
        s_agent, t_agent, v_agent = steps["agent"], tools["agent"], checks["agent"]
        step_ms = steps["tool_ms"][s0:]
        delta = _Counts.of(
            len(self.agents),
            s_agent[s0:],
            steps["success"][s0:],
            steps["comp"][s0:],
            steps["mode"][s0:],
            step_ms,
            v_agent[v0:],
            checks["ok"][v0:],
            t_agent[t0:],
            tools["ms"][t0:],
        )
        cache.counts = cache.counts.plus(delta)
        new = np.sort(np.concatenate([tools["ms"][t0:], step_ms[~np.isnan(step_ms)]]))
        if len(new):
            cache.latency_nanos += int(nanos(new).sum())
            cache.latencies = (
                new
                if not len(cache.latencies)
                else np.insert(cache.latencies, np.searchsorted(cache.latencies, new), new)
            )
        cache.steps, cache.tools, cache.checks = len(s_agent), len(t_agent), len(v_agent)
        return cache.counts, Distribution.of_sorted(cache.latencies, cache.latency_nanos / 1e6)

    def _workflows(
        self, since_us: int | None, until_us: int | None
    ) -> tuple[float | None, float | None, Distribution, int]:
        """PC, HIR and WCT over workflows completed in the window."""
        completed = self.completed
        cm = window_mask(completed["t"], since_us, until_us)

        def pick(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return a if cm is None else a[cm]

        c_wf, c_retries, c_human = pick(completed["wf"]), pick(completed["retries"]), pick(completed["human"])
        c_ms, c_t = pick(completed["ms"]), pick(completed["t"])
        n_done = len(c_wf)
        known = c_wf >= 0
        idx = np.where(known, c_wf, 0)

        def per_wf(values: Vector, default: int | bool) -> npt.NDArray[Any]:
            # Workflow facts for each completion; completions without a workflow id get default.
            if not len(values):
                return np.full(n_done, default)
            return np.where(known, values.array()[idx], default)

        replans = np.where(c_retries >= 0, c_retries, per_wf(self.wf_replans, 0))
        human = c_human | per_wf(self.wf_human, False).astype(np.bool_)
        started = per_wf(self.wf_started, -1)
        derived = np.where(started >= 0, (c_t - started) / 1000.0, np.nan)
        durations = np.where(np.isnan(c_ms), derived, c_ms)
        pc = None if n_done == 0 else float(replans.mean())
        return (
            pc,
            _rate(np.count_nonzero(human), n_done),
            Distribution.of(durations[~np.isnan(durations)]),
            n_done,
        )


@dataclass
class _Counts:
    """Per-agent step, mode and latency counts; slot 0 holds rows without an agent."""

    steps: npt.NDArray[np.float64]
    success: npt.NDArray[np.float64]
    comp: npt.NDArray[np.float64]
    obs: npt.NDArray[np.float64]
    ok: npt.NDArray[np.float64]
    lat_n: npt.NDArray[np.float64]
    lat_sum: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> _Counts:
        """No observations."""
        z = np.zeros(1)
        return cls(z, z, z, z, z, z, z)

    @classmethod
    def of(
        cls,
        n_agents: int,
        s_agent: npt.NDArray[np.int32],
        s_success: npt.NDArray[np.bool_],
        s_comp: npt.NDArray[np.bool_],
        s_mode: npt.NDArray[np.int8],
        s_tool: npt.NDArray[np.float64],
        c_agent: npt.NDArray[np.int32],
        c_ok: npt.NDArray[np.bool_],
        t_agent: npt.NDArray[np.int32],
        t_ms: npt.NDArray[np.float64],
    ) -> _Counts:
        """Count the given rows by agent (codes shifted by one so "no agent" lands in slot 0)."""
        size = n_agents + 1

        def count(
            codes: npt.NDArray[Any], weights: npt.NDArray[Any] | None = None
        ) -> npt.NDArray[np.float64]:
            return np.bincount(codes + 1, weights=weights, minlength=size).astype(np.float64)

        step_tool = ~np.isnan(s_tool)
        lat_codes = np.concatenate([t_agent, s_agent[step_tool]])
        return cls(
            steps=count(s_agent),
            success=count(s_agent, s_success.astype(np.float64)),
            comp=count(s_agent, s_comp.astype(np.float64)),
            obs=count(s_agent, (s_mode != _NO_MODE).astype(np.float64)) + count(c_agent),
            ok=count(s_agent, (s_mode == _COMPLIANT).astype(np.float64))
            + count(c_agent, c_ok.astype(np.float64)),
            lat_n=count(lat_codes),
            # Whole nanoseconds, exact in float64 below 2**53: sums independent of order.
            lat_sum=count(lat_codes, nanos(np.concatenate([t_ms, s_tool[step_tool]])).astype(np.float64)),
        )

    def plus(self, other: _Counts) -> _Counts:
        """Return the element-wise sum (the shorter side padded: agents only ever get added)."""

        def add(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            if len(a) < len(b):
                a, b = b, a
            out = a.copy()
            out[: len(b)] += b
            return out

        return _Counts(
            add(self.steps, other.steps),
            add(self.success, other.success),
            add(self.comp, other.comp),
            add(self.obs, other.obs),
            add(self.ok, other.ok),
            add(self.lat_n, other.lat_n),
            add(self.lat_sum, other.lat_sum),
        )

    def per_agent(self, names: list[str]) -> dict[str, AgentMetrics]:
        """Return the breakdown for every agent with a step, a latency or a mode observation."""
        out: dict[str, AgentMetrics] = {}
        for code, agent in enumerate(names):
            i = code + 1
            if i >= len(self.steps) or (self.steps[i] == 0 and self.lat_n[i] == 0 and self.obs[i] == 0):
                continue
            out[agent] = AgentMetrics(
                svr=_rate(self.success[i], self.steps[i]),
                cr=_rate(self.comp[i], self.steps[i]),
                ma=_rate(self.ok[i], self.obs[i]),
                tcl=None if self.lat_n[i] == 0 else float(self.lat_sum[i]) / 1e6 / float(self.lat_n[i]),
                total_steps=int(self.steps[i]),
                tool_calls=int(self.lat_n[i]),
            )
        return dict(sorted(out.items()))


@dataclass
class _AllTimeCache:
    """What the last all-time report had counted (rows per table), so the next adds only new rows."""

    steps: int = 0
    tools: int = 0
    checks: int = 0
    counts: _Counts = field(default_factory=_Counts.empty)
    latencies: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    latency_nanos: int = 0
