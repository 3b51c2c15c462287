"""Metric series kept bucket by bucket: after new events only the buckets they can change are recomputed.

A bucket's value is the report over ``[start, start + width)``. A new event changes the bucket it
falls in, and, through its workflow, buckets of that workflow's other rows: a later completion
replaces an earlier one, a late ``PlanRevised`` or ``HumanIntervened`` counts where the completion
is, a workflow's first ``ToolCalled`` retracts its steps' durations from TCL, a replay start sets
its rows aside. So the buckets recomputed are those of the new rows and of every row of a
workflow whose rows or per-workflow facts changed; the rest keep their values. A test checks the
result against computing every bucket afresh after late and out-of-order events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from projections import MetricTargets
    from projections.metrics import CostProjection, CostReport, MetricsReport, ReliabilityProjection

__all__ = ["CostBuckets", "MetricBuckets"]

TABLES = ("steps", "tools", "checks", "completed")
WORKFLOW_FACTS = ("wf_started", "wf_replans", "wf_human", "wf_replay", "wf_tools", "wf_step_ms", "wf_done")
"""The per-workflow vectors the windowed report reads; a change in one changes that workflow's buckets."""


class MetricBuckets:
    """Reports per bucket of one projection, recomputed only where new events can have changed them."""

    def __init__(self) -> None:
        self.width = 0
        self.reports: dict[int, MetricsReport] = {}
        self._projection_id = 0
        self._rows: dict[str, int] = {}
        self._facts: dict[str, np.ndarray[Any, Any]] = {}
        self.recomputed = 0
        """Buckets computed by the last :meth:`update` (what the incremental path saves shows here)."""

    def update(
        self, p: ReliabilityProjection, targets: MetricTargets, width: int, start: int, end: int
    ) -> list[tuple[int, MetricsReport]]:
        """The report of every bucket in ``[start, end)``, in time order."""
        wanted = range(start, end, width)
        if width != self.width or id(p) != self._projection_id:
            # Another bucket width, or a projection reloaded from storage: start afresh.
            self.width, self._projection_id, self.reports = width, id(p), {}
            dirty: set[int] = set()
        else:
            dirty = self._dirty(p, width)
        self._remember(p)
        self.reports = {a: r for a, r in self.reports.items() if a in wanted and a not in dirty}
        self.recomputed = 0
        for a in wanted:
            if a not in self.reports:
                self.reports[a] = p.report(targets, since_us=a, until_us=a + width)
                self.recomputed += 1
        return [(a, self.reports[a]) for a in wanted]

    def _dirty(self, p: ReliabilityProjection, width: int) -> set[int]:
        touched: list[np.ndarray[Any, Any]] = []
        starts: list[np.ndarray[Any, Any]] = []
        for name in TABLES:
            table = getattr(p, name)
            seen = self._rows.get(name, 0)
            if len(table) > seen:
                starts.append(table["t"][seen:])
                touched.append(table["wf"][seen:])
        for name in WORKFLOW_FACTS:
            now, before = getattr(p, name).array(), self._facts.get(name)
            if before is None:
                continue
            common = min(len(now), len(before))
            changed = np.flatnonzero(now[:common] != before[:common])
            touched.extend([changed, np.arange(common, len(now))])  # new workflows count as changed
        codes = np.unique(np.concatenate(touched)) if touched else np.array([], dtype=np.int32)
        codes = codes[codes >= 0]  # rows without a workflow change only their own bucket
        if len(codes):
            for name in TABLES:
                table = getattr(p, name)
                rows = np.isin(table["wf"], codes)
                starts.append(table["t"][rows])
        if not starts:
            return set()
        times = np.concatenate(starts)
        return {int(b) for b in np.unique(times // width * width)}

    def _remember(self, p: ReliabilityProjection) -> None:
        self._rows = {name: len(getattr(p, name)) for name in TABLES}
        self._facts = {name: getattr(p, name).array().copy() for name in WORKFLOW_FACTS}


class CostBuckets:
    """Cost reports per day of one cost projection, recomputed only for days new events can change.

    A day's report sums the priced cost rows stamped in it, leaving out replay runs' rows: a new
    cost row changes its own day, a workflow newly marked a replay the days of its rows.
    """

    def __init__(self) -> None:
        self.reports: dict[int, CostReport] = {}
        self._projection_id = 0
        self._currency = ""
        self._rows = 0
        self._replays = np.zeros(0, dtype=np.bool_)
        self.recomputed = 0

    def update(self, p: CostProjection, currency: str, days: range) -> list[tuple[int, CostReport]]:
        """The report of every day in ``days`` (starts in µs, a day apart), in time order."""
        width = days.step
        replays = np.array(p.wf_replay, dtype=np.bool_)
        if id(p) != self._projection_id or currency != self._currency:
            self._projection_id, self._currency, self.reports = id(p), currency, {}
            dirty: set[int] = set()
        else:
            t, wf = p.costs["t"], p.costs["wf"]
            starts = [t[self._rows :]]
            common = min(len(replays), len(self._replays))
            marked = np.flatnonzero(replays[:common] != self._replays[:common])
            marked = np.concatenate([marked, np.flatnonzero(replays[common:]) + common])
            if len(marked):
                starts.append(t[np.isin(wf, marked)])
            dirty = {int(b) for b in np.unique(np.concatenate(starts) // width * width)}
        self._rows, self._replays = len(p.costs), replays
        self.reports = {a: r for a, r in self.reports.items() if a in days and a not in dirty}
        self.recomputed = 0
        for a in days:
            if a not in self.reports:
                self.reports[a] = p.report(currency=currency, since_us=a, until_us=a + width)
                self.recomputed += 1
        return [(a, self.reports[a]) for a in days]
