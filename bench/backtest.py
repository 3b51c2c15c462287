"""Back-test benchmark: a back-test costs at most 2 x a full rebuild; a 9-value sweep shares one scan.

Subject 1: ``run_backtest`` of a breaker guarding the busiest tool, a budget and a mode over the
whole ledger. Baseline: ``ProjectionRunner(ledger, CORE_PROJECTIONS).rebuild()`` of the same
ledger (``bench.rebuild``'s subject), in the same run, rounds alternated. Target: ratio <= 2.

Subject 2: the same back-test sweeping ``failure_threshold=2..10`` (9 values, one scan).
Baseline: the 9 back-tests run one by one. Target: ratio well under 1 (it is one scan, not nine).

The ledger (SQLite, the seeded workload as ``bench.rebuild`` fills it) is filled once per size,
not timed. Times are seconds (lower is better). Run ``python -m bench.backtest --help``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import alternate, format_table, provenance, result_row, write_results
from bench.rebuild import fill
from ledger import open_ledger
from projections import CORE_PROJECTIONS, ProjectionRunner
from replay import BacktestConfig, backtest_config, run_backtest

BREAKER = ["sql_query", "window_seconds=600", "timeout_seconds=120"]


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def _config(breaker: list[str] = BREAKER, sweep: str | None = None) -> BacktestConfig:
    return backtest_config(
        breakers=[breaker], budgets=["daily=5/24"], modes=["executor=explore"], sweep=sweep
    )


def _seconds(fn: Callable[[], object]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return run


def measure(url: str, runs: int) -> list[dict[str, object]]:
    """Both comparisons on one filled ledger; return the result rows."""
    with open_ledger(url, create=False) as ledger:
        total = ledger.latest_offset()

        def rebuild() -> None:
            runner = ProjectionRunner(ledger, CORE_PROJECTIONS, save_every=max(total, 1))
            runner.acquire()
            try:
                runner.rebuild()
            finally:
                runner.release()

        one = _config()
        sweep = _config(sweep="failure_threshold=2..10")
        singles = [_config([*BREAKER, f"failure_threshold={v}"]) for v in range(2, 11)]

        def nine() -> None:
            for config in singles:
                run_backtest(ledger, config)

        spreads = alternate(
            {
                "rebuild": _seconds(rebuild),
                "backtest": _seconds(lambda: run_backtest(ledger, one)),
                "sweep": _seconds(lambda: run_backtest(ledger, sweep)),
                "nine": _seconds(nine),
            },
            runs,
            runs_of={"nine": 1},
            log=log,
        )
    backend = "sqlite"
    return [
        result_row(
            f"back-test (breaker + budget + mode), {total:,} events",
            backend,
            spreads["backtest"],
            spreads["rebuild"],
            "rebuild of the core projections",
            unit="s",
            target="<= 2",
            digits=3,
        ),
        result_row(
            f"9-value sweep, one scan, {total:,} events",
            backend,
            spreads["sweep"],
            spreads["nine"],
            "9 back-tests one by one",
            unit="s",
            target="well under 1",
            digits=3,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Fill a ledger per size, measure, write ``bench/results/backtest.json``, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = provenance()
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.events:
            url = f"sqlite:///{Path(tmp) / f'bt-{n}.db'}"
            log(f"filling {n:,} events…")
            fill(url, n, args.seed)
            rows += measure(url, args.runs)
    path = write_results("backtest", max(args.events), rows, start=start, sizes=args.events)
    print(format_table(rows, digits=3))
    log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
