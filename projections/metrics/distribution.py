"""Distributions of millisecond samples: mean and linear percentiles, exact in any order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


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
