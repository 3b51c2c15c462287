"""As-of benchmark: a projection's state as of an offset, from the nearest stored snapshot.

Subject: ``replay.state_as_of(ledger, ReliabilityProjection, offset)`` on a SQLite ledger whose
runner kept snapshots every 100 000 offsets (``ProjectionRunner(snapshot_every=...)``): it loads
the nearest snapshot, checks its digest, and folds the events since. Baseline, alternated with it
in the same run: folding exactly those events (from the snapshot's offset to ``offset``) into a
projection already in memory, the work no as-of can avoid. Target (issue #16): subject <= 3 x
baseline at 1M events, at offsets spread over the ledger (the worst just before a snapshot).

Run ``python -m bench.asof --help``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from bench.common import alternate, format_table, provenance, result_row, write_results
from bench.rebuild import fill
from ledger import Ledger, open_ledger
from projections import CORE_PROJECTIONS, ReliabilityProjection
from projections.fold import SNAPSHOT_EVERY, ProjectionRunner, fold_range, nearest_snapshot
from replay import state_as_of


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def subject(ledger: Ledger, offset: int) -> float:
    """Seconds for ``state_as_of`` at ``offset``."""
    start = time.perf_counter()
    state = state_as_of(ledger, ReliabilityProjection, offset)
    elapsed = time.perf_counter() - start
    assert state.position == offset
    return elapsed


def baseline(ledger: Ledger, offset: int) -> float:
    """Seconds to fold the events since the nearest snapshot into a projection in memory."""
    start_state = nearest_snapshot(ledger, ReliabilityProjection, offset)
    projection = start_state if start_state is not None else ReliabilityProjection()
    start = time.perf_counter()
    fold_range(ledger, [projection], through=offset)
    return time.perf_counter() - start


def measure(url: str, offsets: Sequence[int], runs: int) -> list[dict[str, Any]]:
    """Time subject and baseline alternately at each offset; one row per offset."""
    rows = []
    with open_ledger(url) as ledger:
        for offset in offsets:
            spreads = alternate(
                {
                    "subject": partial(subject, ledger, offset),
                    "baseline": partial(baseline, ledger, offset),
                },
                runs,
            )
            since = offset - offset // SNAPSHOT_EVERY * SNAPSHOT_EVERY
            sub, base = spreads["subject"], spreads["baseline"]
            log(
                f"  offset {offset:,}: as-of {sub.median * 1e3:.0f} ms, fold since {base.median * 1e3:.0f} ms"
            )
            rows.append(
                result_row(
                    f"reliability state as of offset {offset:,}",
                    "sqlite",
                    type(sub)(tuple(v * 1000 for v in sub.values)),
                    type(base)(tuple(v * 1000 for v in base.values)),
                    "fold of the events since the nearest snapshot",
                    unit="ms",
                    target="<= 3 x baseline",
                    note=f"{since:,} events since the snapshot at {offset - since:,}",
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the as-of benchmark; print a table and write ``bench/results/asof.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.asof", description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--db", help="an existing SQLite file of the seeded workload (else one is generated)")
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    start = provenance()
    with tempfile.TemporaryDirectory(dir=args.tmp_dir) as d:
        path = args.db or os.path.join(d, "asof.db")
        url = f"sqlite:///{path}"
        if args.db is None:
            log(f"{args.events:,} events: filling")
            fill(url, args.events, args.seed)
        with open_ledger(url) as ledger:
            events = ledger.latest_offset()
            log(f"{events:,} events: rebuilding with snapshots every {SNAPSHOT_EVERY:,} (not timed)")
            with ProjectionRunner(ledger, CORE_PROJECTIONS, snapshot_every=SNAPSHOT_EVERY) as runner:
                runner.rebuild()
        middle = events // 2
        offsets = [
            middle + 1,
            middle + SNAPSHOT_EVERY // 2,
            middle // SNAPSHOT_EVERY * SNAPSHOT_EVERY + 99_999,
        ]
        rows = measure(url, [min(o, events) for o in offsets], args.runs)
    print(format_table(rows, digits=1))
    if not args.no_write:
        out = write_results("asof", events, rows, start=start, settings={"runs": args.runs})
        log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
