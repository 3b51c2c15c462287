"""The reliability projection's report: SVR, CR, PC, HIR, MA, TCL and WCT, all-time or in a window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from projections.fold.columns import Vector, window_mask
from projections.metrics.distribution import Distribution, nanos
from projections.metrics.reliability_counts import AllTimeCache, Counts, Excluded, rate
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

    Rows of replay workflows are left out (and counted as excluded) unless
    ``targets.include_replays``. The all-time report is incremental: step counts and the sorted
    latencies are kept from the previous report and only rows folded since are added, and the
    workflow metrics are running totals (``workflow_totals``), so it costs O(new rows).
    """
    targets = targets or MetricTargets()
    replays = targets.include_replays
    if since_us is None and until_us is None:
        counts, latencies, excluded = _all_time(projection, replays)
        totals = projection.workflow_totals_with_replays if replays else projection.workflow_totals
        pc, hir, wct, n_done = totals.report(projection)
        excluded.events += totals.excluded_events
        excluded.workflows |= totals.excluded_workflows
    else:
        steps, tools, checks = projection.steps, projection.tools, projection.checks
        m = _in_window(projection, steps["t"], steps["wf"], since_us, until_us)
        tm = _in_window(projection, tools["t"], tools["wf"], since_us, until_us)
        vm = _in_window(projection, checks["t"], checks["wf"], since_us, until_us)
        excluded = Excluded()
        if not replays:
            excluded.add((m, tm, vm), (steps["wf"], tools["wf"], checks["wf"]))
            counts, values = _count(projection, 0, m[0], tm[0], vm[0])
        else:
            counts, values = _count(projection, 0, m[0] | m[1], tm[0] | tm[1], vm[0] | vm[1])
        latencies = Distribution.of(values)
        pc, hir, wct, n_done = _workflows(projection, since_us, until_us, replays, excluded)
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
        replay_workflows_excluded=len(excluded.workflows),
        replay_events_excluded=excluded.events,
        agent_metrics=counts.per_agent(projection.agents.names),
        targets=targets,
        as_of_offset=projection.position,
    )


def _flags(vector: Vector, codes: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_]:
    """A per-workflow flag for each row's workflow code (``False`` for rows without one)."""
    if not len(vector):
        return np.zeros(len(codes), dtype=np.bool_)
    return np.where(codes >= 0, vector.array()[np.maximum(codes, 0)], False)


def _in_window(
    projection: ReliabilityProjection,
    times: npt.NDArray[np.int64],
    wf: npt.NDArray[np.int32],
    since_us: int | None,
    until_us: int | None,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """The rows in the window: (production rows, replay rows)."""
    window = window_mask(times, since_us, until_us)
    inside = np.ones(len(times), dtype=np.bool_) if window is None else window
    replay = _flags(projection.wf_replay, wf)
    return inside & ~replay, inside & replay


def _count(
    projection: ReliabilityProjection,
    s0: int,
    m: npt.NDArray[np.bool_],
    tm: npt.NDArray[np.bool_],
    vm: npt.NDArray[np.bool_],
    t0: int = 0,
    v0: int = 0,
) -> tuple[Counts, npt.NDArray[np.float64]]:
    """Count the selected rows (masks over the rows from ``s0``, ``t0``, ``v0`` on); their latencies."""
    steps, tools, checks = projection.steps, projection.tools, projection.checks
    step_ms = steps["tool_ms"][s0:][m]
    # TCL counts each call once: a step's duration only where its workflow records no ToolCalled.
    step_ms = np.where(_flags(projection.wf_tools, steps["wf"][s0:][m]), np.nan, step_ms)
    counts = Counts.of(
        len(projection.agents),
        steps["agent"][s0:][m],
        steps["success"][s0:][m],
        steps["comp"][s0:][m],
        steps["mode"][s0:][m],
        step_ms,
        checks["agent"][v0:][vm],
        checks["ok"][v0:][vm],
        tools["agent"][t0:][tm],
        tools["ms"][t0:][tm],
    )
    return counts, np.concatenate([tools["ms"][t0:][tm], step_ms[~np.isnan(step_ms)]])


def _all_time(projection: ReliabilityProjection, replays: bool) -> tuple[Counts, Distribution, Excluded]:
    """The all-time step counts and latencies, caught up with the rows folded since the last report."""
    cache = projection.all_time_with_replays if replays else projection.all_time_cache
    if cache.retractions != projection.tcl_retractions:
        # A workflow recorded its first ToolCalled after one of its step durations was counted:
        # that duration no longer counts, so the cache starts again (rare: O(rows) once).
        cache = AllTimeCache(retractions=projection.tcl_retractions)
        if replays:
            projection.all_time_with_replays = cache
        else:
            projection.all_time_cache = cache
    steps, tools, checks = projection.steps, projection.tools, projection.checks
    s0, t0, v0 = cache.steps, cache.tools, cache.checks
    m = _in_window(projection, steps["t"][s0:], steps["wf"][s0:], None, None)
    tm = _in_window(projection, tools["t"][t0:], tools["wf"][t0:], None, None)
    vm = _in_window(projection, checks["t"][v0:], checks["wf"][v0:], None, None)
    if replays:
        select = m[0] | m[1], tm[0] | tm[1], vm[0] | vm[1]
    else:
        cache.excluded.add((m, tm, vm), (steps["wf"][s0:], tools["wf"][t0:], checks["wf"][v0:]))
        select = m[0], tm[0], vm[0]
    delta, new = _count(projection, s0, *select, t0=t0, v0=v0)
    cache.counts = cache.counts.plus(delta)
    if len(new):
        values = np.sort(new)
        cache.latency_nanos += int(nanos(values).sum())
        cache.latencies = (
            values
            if not len(cache.latencies)
            else np.insert(cache.latencies, np.searchsorted(cache.latencies, values), values)
        )
    cache.steps, cache.tools, cache.checks = len(steps["agent"]), len(tools["agent"]), len(checks["agent"])
    excluded = Excluded(set(cache.excluded.workflows), cache.excluded.events)
    return cache.counts, Distribution.of_sorted(cache.latencies, cache.latency_nanos / 1e6), excluded


def _latest(projection: ReliabilityProjection, wf: npt.NDArray[np.int32]) -> npt.NDArray[np.bool_] | None:
    """The completions that count: each workflow's latest, and every one without an id (``None``: all)."""
    known = wf >= 0
    done = projection.wf_done.array()
    if int(np.count_nonzero(known)) == int(np.count_nonzero(done >= 0)):
        return None  # as many completions as workflows completed: none twice (the common case)
    counts: npt.NDArray[np.bool_] = ~known | (done[np.where(known, wf, 0)] == np.arange(len(wf)))
    return counts


def _workflows(
    projection: ReliabilityProjection,
    since_us: int | None,
    until_us: int | None,
    replays: bool,
    excluded: Excluded,
) -> tuple[float | None, float | None, Distribution, int]:
    """PC, HIR and WCT over workflows completed in the window (replays only if ``replays``).

    One workflow id is one workflow: only its latest completion counts, where its own time falls.
    """
    completed = projection.completed
    cm: npt.NDArray[np.bool_] | None = window_mask(completed["t"], since_us, until_us)
    latest = _latest(projection, completed["wf"])
    if latest is not None:
        cm = latest if cm is None else cm & latest
    if len(projection.wf_replay) and projection.wf_replay.array().any():
        production, replay = _in_window(projection, completed["t"], completed["wf"], since_us, until_us)
        if replays:
            cm = production | replay
        else:
            excluded.add(((production, replay),), (completed["wf"],))
            cm = production
        if latest is not None:
            cm &= latest

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
