"""The SLO projection: mean time to explain (MTTE) and replay success rate (RSR).

MTTE is summarised over successful explanations (mean, p50, p95, p99); failed ones are counted
and their share reported. RSR = replays that reproduced the recording / replay attempts, overall
and per mode (strict: no critical difference; simulated: no divergence; counterfactual: the run
completed) — the replayer decides ``success`` by those rules when it records the attempt.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
import numpy as np

from projections.fold.columns import Table, window_mask
from projections.fold.projection import Arrays, Handler, Projection
from projections.metrics.distribution import Distribution
from projections.metrics.event_fields import ExplanationFields, ReplayFields
from projections.metrics.reports import SLOReport, SLOTargets

REPLAY_MODES = ("strict", "simulated", "counterfactual")


class SLOProjection(Projection):
    """Columnar state of explanation timings and replay outcomes."""

    name = "slo"
    version = 1
    structs: ClassVar[dict[str, type[msgspec.Struct]]] = {
        "ExplanationRecorded": ExplanationFields,
        "ReplayAttempted": ReplayFields,
    }

    def __init__(self) -> None:
        super().__init__()
        self.explanations = Table({"t": np.int64, "ms": np.float64, "success": np.bool_})
        self.replays = Table({"t": np.int64, "mode": np.int8, "success": np.bool_})

    def _handlers(self) -> dict[str, Handler]:
        return {"ExplanationRecorded": self._explained, "ReplayAttempted": self._replayed}

    def _explained(self, t: int, e: ExplanationFields) -> None:
        self.explanations.add(t, float(e.duration_ms), bool(e.success))

    def _replayed(self, t: int, e: ReplayFields) -> None:
        self.replays.add(t, REPLAY_MODES.index(e.replay_mode), bool(e.success))

    def dump(self) -> tuple[dict[str, Any], Arrays]:
        """Return the state as metadata and arrays."""
        return {}, {**self.explanations.dump("explanations"), **self.replays.dump("replays")}

    def load(self, meta: dict[str, Any], arrays: Arrays) -> None:
        """Restore the state from :meth:`dump`."""
        self.explanations.load("explanations", arrays)
        self.replays.load("replays", arrays)

    def report(
        self,
        targets: SLOTargets | None = None,
        *,
        since_us: int | None = None,
        until_us: int | None = None,
    ) -> SLOReport:
        """Compute MTTE and RSR over ``[since, until)``; RSR over the modes in ``targets.rsr_modes``."""
        ex = self.explanations
        em = window_mask(ex["t"], since_us, until_us)
        ms = ex["ms"] if em is None else ex["ms"][em]
        ok = ex["success"] if em is None else ex["success"][em]
        mtte = Distribution.of(ms[ok])
        failures = int(np.count_nonzero(~ok))

        rp = self.replays
        rm = window_mask(rp["t"], since_us, until_us)
        modes = rp["mode"] if rm is None else rp["mode"][rm]
        success = rp["success"] if rm is None else rp["success"][rm]
        targets = targets or SLOTargets()
        by_mode: dict[str, float | None] = {}
        attempts: dict[str, int] = {}
        scoped = np.zeros(len(modes), dtype=np.bool_)
        for code, mode in enumerate(REPLAY_MODES):
            sel = modes == code
            n = int(np.count_nonzero(sel))
            attempts[mode] = n
            by_mode[mode] = None if n == 0 else float(np.count_nonzero(success[sel])) / n
            if mode in targets.rsr_modes:
                scoped |= sel
        total = len(success)
        in_scope = int(np.count_nonzero(scoped))
        return SLOReport(
            mtte_mean_ms=mtte.mean,
            mtte_p50_ms=mtte.p50,
            mtte_p95_ms=mtte.p95,
            mtte_p99_ms=mtte.p99,
            explanations=len(ms),
            explanation_failures=failures,
            explanation_failure_rate=None if len(ms) == 0 else failures / len(ms),
            rsr=None if in_scope == 0 else float(np.count_nonzero(success[scoped])) / in_scope,
            rsr_by_mode=by_mode,
            replay_attempts=total,
            replay_attempts_by_mode=attempts,
            targets=targets,
            as_of_offset=self.position,
        )
