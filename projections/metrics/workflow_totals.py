"""The all-time workflow metrics (PC, HIR, WCT) kept as running totals: a report costs O(changes).

A workflow counts once, by its latest completion, with facts that may change after it completed
(a later ``HumanIntervened``, a replan, a second completion). The totals keep each counted
workflow's contribution; a report re-derives only the workflows with a new completion row or a
changed fact (the projection logs those in ``wf_changes``) and replaces their contributions. WCT's
percentiles need every duration: they are kept sorted, new ones inserted in place, so the result
is exactly ``Distribution.of`` over the same durations (mean over whole nanoseconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from projections.metrics.distribution import Distribution, nanos

if TYPE_CHECKING:
    from projections.metrics.reliability_fold import ReliabilityProjection


def _grown(a: npt.NDArray[Any], n: int, fill: Any) -> npt.NDArray[Any]:
    if len(a) >= n:
        return a
    out = np.full(max(n, 2 * len(a)), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out


@dataclass
class WorkflowTotals:
    """Running PC/HIR/WCT totals over the counted completions (replays in or out, per instance)."""

    replays: bool
    rows: int = 0  # completion rows [0, rows) seen
    changes: int = 0  # entries of the projection's wf_changes seen
    # Each workflow's contribution by code: counted, replans, needed a human, duration (NaN: none).
    inc: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    rep: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    hum: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    dur: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    n: int = 0
    rep_sum: int = 0
    hum_n: int = 0
    durations: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))  # sorted
    dur_nanos: int = 0
    excluded_events: int = 0  # replay completion rows (when replays are left out)
    excluded_workflows: set[int] = field(default_factory=set)

    def report(self, p: ReliabilityProjection) -> tuple[float | None, float | None, Distribution, int]:
        """PC, HIR, WCT and the completed workflows, caught up with what was folded since."""
        self._catch_up(p)
        pc = None if self.n == 0 else float(self.rep_sum) / self.n
        hir = None if self.n == 0 else float(self.hum_n) / float(self.n)
        return pc, hir, Distribution.of_sorted(self.durations, self.dur_nanos / 1e6), self.n

    def _catch_up(self, p: ReliabilityProjection) -> None:
        completed = p.completed
        start, end = self.rows, len(completed)
        if start == end and self.changes == len(p.wf_changes):
            return
        wf = completed["wf"][start:end]
        anonymous = wf < 0  # a completion without a workflow id: counted as it is, once
        if anonymous.any():
            rows = np.flatnonzero(anonymous) + start
            retries = completed["retries"][rows]
            ms = completed["ms"][rows]
            self._add(np.where(retries >= 0, retries, 0), completed["human"][rows], ms)
        known = wf[~anonymous]
        if not self.replays and len(known) and len(p.wf_replay):
            replay = p.wf_replay.array()[known]
            self.excluded_events += int(np.count_nonzero(replay))
            self.excluded_workflows.update(np.unique(known[replay]).tolist())
        dirty = np.unique(np.concatenate([known, np.asarray(p.wf_changes[self.changes :], dtype=np.int64)]))
        if len(dirty):
            self._redo(p, dirty.astype(np.int64))
        self.rows, self.changes = end, len(p.wf_changes)

    def _add(self, rep: npt.NDArray[Any], hum: npt.NDArray[np.bool_], dur: npt.NDArray[np.float64]) -> None:
        self.n += len(rep)
        self.rep_sum += int(rep.sum())
        self.hum_n += int(np.count_nonzero(hum))
        values = np.sort(dur[~np.isnan(dur)])
        if len(values):
            self.dur_nanos += int(nanos(values).sum())
            self.durations = np.insert(self.durations, np.searchsorted(self.durations, values), values)

    def _redo(self, p: ReliabilityProjection, codes: npt.NDArray[np.int64]) -> None:
        """Replace the contributions of the workflows ``codes`` with their current ones."""
        size = len(p.workflows)
        self.inc = _grown(self.inc, size, False)
        self.rep = _grown(self.rep, size, 0)
        self.hum = _grown(self.hum, size, False)
        self.dur = _grown(self.dur, size, np.nan)
        was = self.inc[codes]
        if was.any():
            old = codes[was]
            self.n -= len(old)
            self.rep_sum -= int(self.rep[old].sum())
            self.hum_n -= int(np.count_nonzero(self.hum[old]))
            gone = self.dur[old]
            gone = np.sort(gone[~np.isnan(gone)])
            if len(gone):
                # Each removed duration is one occurrence of an equal value in the sorted array.
                self.dur_nanos -= int(nanos(gone).sum())
                at = np.searchsorted(self.durations, gone, side="left")
                at += np.arange(len(gone)) - np.searchsorted(gone, gone, side="left")
                self.durations = np.delete(self.durations, at)
        done = p.wf_done.array()[codes]
        inc = done >= 0
        if not self.replays and len(p.wf_replay):
            inc &= ~p.wf_replay.array()[codes]
        self.inc[codes[was & ~inc]] = False  # counted before, not any more (turned out a replay)
        codes, done = codes[inc], done[inc]
        completed = p.completed
        retries = completed["retries"][done]
        rep = np.where(retries >= 0, retries, p.wf_replans.array()[codes])
        hum = completed["human"][done] | p.wf_human.array()[codes]
        started = p.wf_started.array()[codes]
        derived = np.where(started >= 0, (completed["t"][done] - started) / 1000.0, np.nan)
        ms = completed["ms"][done]
        dur = np.where(np.isnan(ms), derived, ms)
        self.inc[codes], self.rep[codes], self.hum[codes], self.dur[codes] = True, rep, hum, dur
        self._add(rep, hum, dur)
