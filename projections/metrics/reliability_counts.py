"""The reliability fold's counting: per-agent step, mode and latency counts, and the all-time cache."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.metrics.distribution import nanos
from projections.metrics.reports import AgentMetrics

NO_MODE, COMPLIANT, VIOLATION = 0, 1, 2
"""A step's mode observation: none (a mode missing), compliant, a violation."""


def rate(numerator: float | np.integer[Any], denominator: float | np.integer[Any]) -> float | None:
    """``numerator / denominator``, or ``None`` over no observations."""
    return None if denominator == 0 else float(numerator) / float(denominator)


def mode_code(mode: str | None, declared: str | None) -> int:
    """How a step's mode compares with its declared one: no observation, compliant, violation."""
    if mode is None or declared is None:
        return NO_MODE
    return COMPLIANT if mode.strip().lower() == declared.strip().lower() else VIOLATION


@dataclass
class Counts:
    """Per-agent step, mode and latency counts; slot 0 holds rows without an agent."""

    steps: npt.NDArray[np.float64]
    success: npt.NDArray[np.float64]
    comp: npt.NDArray[np.float64]
    obs: npt.NDArray[np.float64]
    ok: npt.NDArray[np.float64]
    lat_n: npt.NDArray[np.float64]
    lat_sum: npt.NDArray[np.float64]

    @classmethod
    def empty(cls) -> Counts:
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
    ) -> Counts:
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
            obs=count(s_agent, (s_mode != NO_MODE).astype(np.float64)) + count(c_agent),
            ok=count(s_agent, (s_mode == COMPLIANT).astype(np.float64))
            + count(c_agent, c_ok.astype(np.float64)),
            lat_n=count(lat_codes),
            # Whole nanoseconds, exact in float64 below 2**53: sums independent of order.
            lat_sum=count(lat_codes, nanos(np.concatenate([t_ms, s_tool[step_tool]])).astype(np.float64)),
        )

    def plus(self, other: Counts) -> Counts:
        """Return the element-wise sum (the shorter side padded: agents only ever get added)."""

        def add(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            if len(a) < len(b):
                a, b = b, a
            out = a.copy()
            out[: len(b)] += b
            return out

        return Counts(
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
                svr=rate(self.success[i], self.steps[i]),
                cr=rate(self.comp[i], self.steps[i]),
                ma=rate(self.ok[i], self.obs[i]),
                tcl=None if self.lat_n[i] == 0 else float(self.lat_sum[i]) / 1e6 / float(self.lat_n[i]),
                total_steps=int(self.steps[i]),
                tool_calls=int(self.lat_n[i]),
            )
        return dict(sorted(out.items()))


@dataclass
class Excluded:
    """The replay workflows (codes) and their rows a report left out."""

    workflows: set[int] = field(default_factory=set)
    events: int = 0

    def add(
        self,
        masks: Sequence[tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]],
        codes: Sequence[npt.NDArray[np.int32]],
    ) -> None:
        """Count the replay rows of each (production, replay) mask pair, and their workflows."""
        for (_, replay), wf in zip(masks, codes, strict=True):
            self.events += int(np.count_nonzero(replay))
            self.workflows.update(np.unique(wf[replay]).tolist())


@dataclass
class AllTimeCache:
    """What the last all-time report had counted (rows per table), so the next adds only new rows."""

    steps: int = 0
    tools: int = 0
    checks: int = 0
    counts: Counts = field(default_factory=Counts.empty)
    latencies: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))
    latency_nanos: int = 0
    retractions: int = 0  # the projection's tcl_retractions these counts were made with
    excluded: Excluded = field(default_factory=Excluded)
