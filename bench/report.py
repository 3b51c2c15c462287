"""Report benchmark: latency of a full metrics + SLO + cost report on a current projection.

Subject: the facades' reports (``ReliabilityMetrics.report()``, ``SLOTracker.report()``,
``CostTracker.report()`` with a daily budget) on a SQLite ledger whose projections are current;
each call still asks the ledger for new events, as a live report does. Baseline: the seed
library's approach, re-implemented here — every step and workflow kept as a dict in a list and
every metric (and each agent's share) recomputed by scanning all records on each call
(``docs/performance.md``: "the seed's original library computing ``get_report``").

Run ``python -m bench.report --help``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from bench.common import Spread, format_table, result_row, write_results
from bench.rebuild import fill
from ledger import open_ledger
from projections import CostBudget, CostTracker, ReliabilityMetrics, SLOTracker


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


class RescanMetrics:
    """The seed library's approach: records in lists, every report a full scan of all of them."""

    def __init__(self, steps: list[dict[str, Any]], workflows: list[dict[str, Any]]) -> None:
        self.steps = steps
        self.workflows = workflows

    def _steps(self, agent: str | None = None) -> list[dict[str, Any]]:
        return self.steps if agent is None else [s for s in self.steps if s.get("agent") == agent]

    def svr(self, agent: str | None = None) -> float:
        """Successful / all steps, by a scan."""
        steps = self._steps(agent)
        return sum(1 for s in steps if s.get("success")) / len(steps) if steps else 1.0

    def cr(self, agent: str | None = None) -> float:
        """Compensated / all steps, by a scan."""
        steps = self._steps(agent)
        return sum(1 for s in steps if s.get("required_compensation")) / len(steps) if steps else 0.0

    def ma(self, agent: str | None = None) -> float:
        """Steps whose mode matches the declared one, by a scan."""
        steps = self._steps(agent)
        bad = sum(
            1 for s in steps if s.get("mode") and s.get("declared_mode") and s["mode"] != s["declared_mode"]
        )
        return (len(steps) - bad) / len(steps) if steps else 1.0

    def report(self) -> dict[str, Any]:
        """Every metric and the per-agent breakdown, recomputed from all records."""
        wfs = self.workflows
        out: dict[str, Any] = {
            "svr": self.svr(),
            "cr": self.cr(),
            "ma": self.ma(),
            "pc": sum(w.get("total_retries") or 0 for w in wfs) / len(wfs) if wfs else 0.0,
            "hir": sum(1 for w in wfs if w.get("required_human")) / len(wfs) if wfs else 0.0,
        }
        per_agent = {}
        for agent in {s.get("agent") for s in self.steps}:
            agent_steps = [s for s in self.steps if s.get("agent") == agent]
            per_agent[agent] = (
                len(agent_steps),
                sum(1 for s in agent_steps if s.get("success")),
                sum(1 for s in agent_steps if s.get("required_compensation")),
            )
        out["agents"] = per_agent
        durations = [s["tool_duration_ms"] for s in self.steps if s.get("tool_duration_ms") is not None]
        out["tcl"] = sum(durations) / len(durations) if durations else None
        wct = [w["duration_ms"] for w in wfs if w.get("duration_ms") is not None]
        out["wct"] = sum(wct) / len(wct) if wct else None
        return out


def latencies_ms(fn: Callable[[], object], calls: int) -> list[float]:
    """Time ``calls`` calls of ``fn``; return each in milliseconds."""
    out = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def p95(values: Sequence[float]) -> float:
    """The 95th percentile (linear interpolation)."""
    ordered = sorted(values)
    pos = 0.95 * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Subject:
    """One size's ledger with current facades, and the records its re-scan baseline scans."""

    events: int
    fill_s: float
    report: Callable[[], None]
    rescan: RescanMetrics
    subject: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)


def prepare(stack: contextlib.ExitStack, events: int, seed: int, tmp: str) -> Subject:
    """Fill a ledger, bring the facades' projections current, load the re-scan's records."""
    url = f"sqlite:///{os.path.join(tmp, f'report-{events}.db')}"
    log(f"{events:,} events: filling")
    started = time.perf_counter()
    fill(url, events, seed)
    fill_s = time.perf_counter() - started
    log(f"  filled in {fill_s:.0f} s; folding (first report)")
    ledger = stack.enter_context(open_ledger(url))
    metrics, slo, costs = (
        ReliabilityMetrics(ledger=ledger),
        SLOTracker(ledger=ledger),
        CostTracker(ledger=ledger),
    )
    costs.set_budget(CostBudget("daily", Decimal(1000), 24))

    def full_report() -> None:
        metrics.report()
        slo.report()
        costs.report()

    full_report()
    steps: list[dict[str, Any]] = []
    workflows: list[dict[str, Any]] = []
    for rec in ledger.read(types=("StepRecorded", "WorkflowCompleted")):
        data = orjson.loads(rec.event.model_dump_json())
        (steps if data["type"] == "StepRecorded" else workflows).append(data)
    log(f"  {len(steps):,} steps, {len(workflows):,} workflows")
    return Subject(events, fill_s, full_report, RescanMetrics(steps, workflows))


def rows_of(s: Subject) -> list[dict[str, Any]]:
    """The latency and speed-up rows of one size."""
    subject, baseline = s.subject, s.baseline
    steps = len(s.rescan.steps)
    speedup = result_row(
        "full report (metrics + SLO + costs) vs re-scan",
        "sqlite",
        Spread(tuple(1000 / v for v in subject)),
        Spread(tuple(1000 / v for v in baseline)),
        "seed re-scan get_report",
        unit="reports/s",
        target=">= 100 x re-scan at 100k steps",
        note=f"{steps} steps, {s.events} events",
    )
    latency = result_row(
        "full report latency",
        "sqlite",
        Spread(tuple(subject)),
        Spread(tuple(baseline)),
        "seed re-scan get_report",
        unit="ms",
        target="<= 5 ms at 1M and 10M events",
        note=f"p95 {p95(subject):.2f} ms over {len(subject)} calls; {steps} steps, {s.events} events; "
        f"generating and appending the ledger took {s.fill_s:.0f} s",
        digits=3,
    )
    log(
        f"  {s.events:,}: subject median {statistics.median(subject):.3f} ms, p95 {p95(subject):.3f} ms; "
        f"re-scan median {statistics.median(baseline):.1f} ms"
    )
    return [latency, speedup]


def measure(
    sizes: Sequence[int], seed: int, calls: int, rounds: int, tmp: str | None
) -> list[dict[str, Any]]:
    """Prepare every size, then time them all in alternating rounds (one run, the same drift).

    Each round times, for each size in turn (rotating which goes first), a block of subject
    reports and one re-scan; the growth row compares the sizes' medians from those same rounds.
    """
    with tempfile.TemporaryDirectory(dir=tmp) as d, contextlib.ExitStack() as stack:
        subjects = [prepare(stack, size, seed, d) for size in sizes]
        per_round = max(calls // max(rounds, 1), 1)
        for round_no in range(max(rounds, 1)):
            shift = round_no % len(subjects)
            for s in subjects[shift:] + subjects[:shift]:
                s.subject += latencies_ms(s.report, per_round)
                s.baseline += latencies_ms(s.rescan.report, 1)
            log(f"  round {round_no + 1}/{rounds} done")
        rows = [row for s in subjects for row in rows_of(s)]
        if len(subjects) > 1:
            small, large = subjects[0], subjects[-1]
            ratios = Spread(
                tuple(
                    statistics.median(large.subject[i : i + per_round])
                    / statistics.median(small.subject[i : i + per_round])
                    for i in range(0, len(small.subject), per_round)
                )
            )
            rows.append(
                result_row(
                    f"report growth, {large.events:,} / {small.events:,} events",
                    "sqlite",
                    Spread(tuple(large.subject)),
                    Spread(tuple(small.subject)),
                    f"the same report at {small.events:,} events",
                    unit="ms",
                    target="ratio <= 1.5 (issue #16 asks 10M / 1M)",
                    note="per-round ratios of block medians: " + ", ".join(f"{r:.2f}" for r in ratios.values),
                    digits=3,
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the report benchmark; print a table and write ``bench/results/report.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="300000,1000000", help="ledger sizes in events, comma-separated")
    p.add_argument("--calls", type=int, default=200, help="timed subject reports per size")
    p.add_argument(
        "--baseline-calls", type=int, default=5, help="rounds: timed re-scan reports per size (one a round)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = measure(sizes, args.seed, args.calls, args.baseline_calls, args.tmp_dir)
    print(format_table(rows, digits=2))
    if not args.no_write:
        path = write_results(
            "report",
            max(sizes),
            rows,
            settings={"sizes": sizes, "calls": args.calls, "baseline_calls": args.baseline_calls},
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
