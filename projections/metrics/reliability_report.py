"""The reliability projection's report: SVR, CR, PC, HIR, MA, TCL and WCT, all-time or in a window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from projections.fold.columns import Vector, window_mask
from projections.metrics.distribution import Distribution, nanos
from projections.metrics.reliability_counts import Counts, rate
from projections.metrics.reports import MetricsReport, MetricTargets

if TYPE_CHECKING:
    from projections.metrics.reliability_fold import ReliabilityProjection


def reliability_report(
    projection: ReliabilityProjection,
    targets: MetricTargets | None = None,
    *,
    since_us: int | None = None,
    until_us: int | None = None,
) -> MetricsReport:
    """Compute every metric of ``projection`` over ``[since, until)`` (event time), overall and per agent.

    The all-time report is incremental: step counts and the sorted latencies are kept from
    the previous report and only rows folded since are added, so it costs O(new rows).
    """
    targets = targets or MetricTargets()
    n_agents = len(projection.agents)
    if since_us is None and until_us is None:
        counts, latencies = _all_time(projection)
    else:
        steps, tools, checks = projection.steps, projection.tools, projection.checks
        m = window_mask(steps["t"], since_us, until_us)
        tm = window_mask(tools["t"], since_us, until_us)
        vm = window_mask(checks["t"], since_us, until_us)
        assert m is not None and tm is not None and vm is not None
        counts = Counts.of(
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
    pc, hir, wct, n_done = _workflows(projection, since_us, until_us)
    return MetricsReport(
        svr=rate(counts.success.sum(), counts.steps.sum()),
        cr=rate(counts.comp.sum(), counts.steps.sum()),
        pc=pc,
        hir=hir,
        ma=rate(counts.ok.sum(), counts.obs.sum()),
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
        agent_metrics=counts.per_agent(projection.agents.names),
        targets=targets,
        as_of_offset=projection.position,
    )


def _all_time(projection: ReliabilityProjection) -> tuple[Counts, Distribution]:
    """The all-time step counts and latencies, caught up with the rows folded since the last report."""
    cache = projection.all_time_cache
    steps, tools, checks = projection.steps, projection.tools, projection.checks
    s0, t0, v0 = cache.steps, cache.tools, cache.checks
    s_agent, t_agent, v_agent = steps["agent"], tools["agent"], checks["agent"]
    step_ms = steps["tool_ms"][s0:]
    delta = Counts.of(
        len(projection.agents),
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
    projection: ReliabilityProjection, since_us: int | None, until_us: int | None
) -> tuple[float | None, float | None, Distribution, int]:
    """PC, HIR and WCT over workflows completed in the window."""
    completed = projection.completed
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

    replans = np.where(c_retries >= 0, c_retries, per_wf(projection.wf_replans, 0))
    human = c_human | per_wf(projection.wf_human, False).astype(np.bool_)
    started = per_wf(projection.wf_started, -1)
    derived = np.where(started >= 0, (c_t - started) / 1000.0, np.nan)
    durations = np.where(np.isnan(c_ms), derived, c_ms)
    pc = None if n_done == 0 else float(replans.mean())
    return (
        pc,
        rate(np.count_nonzero(human), n_done),
        Distribution.of(durations[~np.isnan(durations)]),
        n_done,
    )
