"""Priced spend in any time window from pre-aggregated time buckets: O(buckets in the window).

A budget's rolling window (a day, say) used to sum every cost row inside it on each check: O(rows
in the window), which grows with the ledger's traffic. The index keeps exact ``Decimal`` sums per
(currency, scope) in buckets of a second, a minute, an hour and a day; a window ``[a, b)`` is the
whole days inside it, then whole hours, minutes and seconds at its two ends, and the rows of the
(at most two) seconds the window cuts. Decimal addition is exact, so the sum is the same, to the
last digit, as adding up the rows one by one (``tests/projections/metrics/test_spend_index.py``
checks it against a full re-scan on random windows).

The index is derived, not folded or stored: it catches up with the rows folded since it was last
asked (O(new rows)), so a rebuild pays nothing for it and a save does not grow with it.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from projections.metrics.cost_fold import CostProjection

ZERO = Decimal(0)
SECOND = 1_000_000
RATIOS = (60, 60, 24)
"""Each level's bucket in buckets of the level below: seconds to minutes, to hours, to days."""
WIDTHS = (SECOND, 60 * SECOND, 3600 * SECOND, 86_400 * SECOND)

Key = tuple[int, int, int]
"""(currency code, scope kind, scope code): kind 0 is the total, 1 a category, 2 an agent."""
TOTAL, CATEGORY, AGENT = 0, 1, 2


class SpendIndex:
    """Exact priced spend per (currency, total | category | agent) in time buckets."""

    def __init__(self) -> None:
        self.upto = 0  # cost rows [0, upto) are in the buckets
        self.levels: list[dict[Key, dict[int, Decimal]]] = [defaultdict(dict) for _ in WIDTHS]
        self.rows_by_second: dict[int, list[int]] = defaultdict(list)  # priced rows only
        self.lowest: int | None = None  # the earliest and latest priced row time
        self.highest: int | None = None

    def catch_up(self, p: CostProjection) -> None:
        """Add the priced rows folded since the last call."""
        done, n = self.upto, len(p.amounts)
        if done == n:
            return
        c = p.costs
        times = c["t"][done:].tolist()
        priced = c["priced"][done:].tolist()
        cur, cat, agent = (c[k][done:].tolist() for k in ("currency", "category", "agent"))
        amounts = p.amounts
        levels, rows = self.levels, self.rows_by_second
        for i, t in enumerate(times):
            if not priced[i]:
                continue
            amount = amounts[done + i]
            keys = [(cur[i], TOTAL, 0), (cur[i], CATEGORY, cat[i])]
            if agent[i] >= 0:
                keys.append((cur[i], AGENT, agent[i]))
            for level, width in zip(levels, WIDTHS, strict=True):
                bucket = t // width
                for key in keys:
                    sums = level[key]
                    sums[bucket] = sums.get(bucket, ZERO) + amount
            rows[t // SECOND].append(done + i)
            self.lowest = t if self.lowest is None else min(self.lowest, t)
            self.highest = t if self.highest is None else max(self.highest, t)
        self.upto = n

    def spend(self, p: CostProjection, key: Key, since_us: int | None, until_us: int | None) -> Decimal:
        """The priced spend of ``key`` in ``[since, until)`` (``None``: unbounded on that side)."""
        self.catch_up(p)
        if self.lowest is None or self.highest is None:
            return ZERO
        a = self.lowest if since_us is None else max(since_us, self.lowest)
        b = self.highest + 1 if until_us is None else min(until_us, self.highest + 1)
        if a >= b:
            return ZERO
        # The rows of the seconds the window cuts, then whole seconds (and above) between them.
        first, last = -(-a // SECOND), b // SECOND  # whole seconds [first, last)
        if first > last:  # a and b inside one second
            return self._rows(p, key, a // SECOND, a, b)
        total = ZERO
        if a % SECOND:
            total += self._rows(p, key, first - 1, a, b)
        if b % SECOND:
            total += self._rows(p, key, last, a, b)
        return total + self._buckets(key, 0, first, last)

    def _buckets(self, key: Key, level: int, lo: int, hi: int) -> Decimal:
        """The sum of whole buckets ``[lo, hi)`` of ``level``, using coarser levels inside."""
        sums = self.levels[level].get(key)
        if sums is None or lo >= hi:
            return ZERO
        if level == len(RATIOS):
            return sum((sums.get(b, ZERO) for b in range(lo, hi)), ZERO)
        ratio = RATIOS[level]
        up_lo, up_hi = -(-lo // ratio), hi // ratio  # whole coarser buckets [up_lo, up_hi)
        if up_lo >= up_hi:
            return sum((sums.get(b, ZERO) for b in range(lo, hi)), ZERO)
        edges = sum((sums.get(b, ZERO) for b in range(lo, up_lo * ratio)), ZERO)
        edges += sum((sums.get(b, ZERO) for b in range(up_hi * ratio, hi)), ZERO)
        return edges + self._buckets(key, level + 1, up_lo, up_hi)

    def _rows(self, p: CostProjection, key: Key, second: int, a: int, b: int) -> Decimal:
        """The priced rows of one second that match ``key`` and fall in ``[a, b)``."""
        currency, kind, code = key
        c = p.costs
        times, cur = c["t"], c["currency"]
        column = c["category"] if kind == CATEGORY else c["agent"]
        total = ZERO
        for i in self.rows_by_second.get(second, ()):
            if a <= times[i] < b and cur[i] == currency and (kind == TOTAL or column[i] == code):
                total += p.amounts[i]
        return total
