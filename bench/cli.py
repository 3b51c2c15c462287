"""Start-up benchmark: wall time of ``rledger --help``, ``rledger schema`` and ``rledger stats``.

Subject: each command run as a fresh process (the installed entry point's interpreter, ``-m
cli``-free: ``python -c 'import sys, cli; sys.exit(cli.main())'`` so no console-script shim is
counted), on a SQLite ledger of a few thousand events for ``stats``. Baseline: ``python -c pass``
with the same interpreter, run alternately with the subjects in the same rounds. The target is
the difference (subject - baseline) of medians, ``<= 150 ms`` per command (issue #16).

Run ``python -m bench.cli --help``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from bench.common import Spread, alternate, format_table, provenance, result_row, write_results

COMMANDS: dict[str, tuple[str, ...]] = {
    "rledger --help": ("--help",),
    "rledger schema": ("schema",),
    "rledger stats": ("stats",),
}
TARGET_MS = 150.0
RUN_CLI = "import sys, cli; sys.exit(cli.main())"


def log(message: str) -> None:
    """Progress to stderr (the table goes to stdout)."""
    print(message, file=sys.stderr, flush=True)


def wall_ms(argv: Sequence[str], env: dict[str, str]) -> float:
    """Run ``argv`` to completion (output discarded); return its wall time in milliseconds."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def fill(url: str, events: int) -> None:
    """A small seeded ledger for ``stats`` to count (not timed)."""
    from ledger import generate_workload, open_ledger

    with open_ledger(url) as ledger:
        ledger.append(list(generate_workload(events, seed=0)))


def measure(runs: int, events: int, tmp: str | None) -> list[dict[str, Any]]:
    """Time each command and the bare interpreter alternately; return one row per command."""
    python = sys.executable
    with tempfile.TemporaryDirectory(dir=tmp) as d:
        url = f"sqlite:///{os.path.join(d, 'startup.db')}"
        fill(url, events)
        env = {**os.environ, "RLEDGER_URL": url}
        # A user's interpreter caches compiled modules; one told not to (this workplace sets
        # PYTHONDONTWRITEBYTECODE) compiles every project module at each start, ~25 ms of
        # ``--help``. The warm-up round writes the cache, as a user's first run does.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cases: dict[str, Callable[[], float]] = {
            "python -c pass": partial(wall_ms, [python, "-c", "pass"], env)
        }
        for name, args in COMMANDS.items():
            cases[name] = partial(wall_ms, [python, "-c", RUN_CLI, *args], env)
        spreads = alternate(cases, runs, warmup=cases)
    base = spreads.pop("python -c pass")
    rows = []
    for name, spread in spreads.items():
        extra = Spread(tuple(s - b for s, b in zip(spread.values, base.values, strict=True)))
        log(f"  {name}: median {spread.median:.1f} ms, {extra.median:+.1f} ms above python -c pass")
        rows.append(
            result_row(
                f"{name} start-up",
                "sqlite",
                spread,
                base,
                "python -c pass",
                unit="ms",
                target=f"subject - baseline <= {TARGET_MS:.0f} ms",
                note=f"above the bare interpreter: median {extra.median:.1f} ms "
                f"(min {extra.low:.1f}, max {extra.high:.1f}) over {runs} alternated rounds",
            )
            | {"above_baseline_ms": round(extra.median, 1)}
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the start-up benchmark; print a table and write ``bench/results/cli.json``."""
    p = argparse.ArgumentParser(prog="python -m bench.cli", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="alternated rounds (default 15)")
    p.add_argument("--events", type=int, default=2000, help="events in the ledger stats counts")
    p.add_argument("--tmp-dir", default=None)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    start = provenance()
    rows = measure(args.runs, args.events, args.tmp_dir)
    print(format_table(rows, digits=1))
    if not args.no_write:
        path = write_results(
            "cli", args.events, rows, start=start, settings={"runs": args.runs, "events": args.events}
        )
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
