"""Shared benchmark plumbing: machine facts, alternating repetitions, results JSON, tables.

Every figure is a ratio against a baseline measured in the same process, alternating with the
subject, reported as the median of several runs with their min and max (``docs/performance.md``).
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO_DIR = Path(__file__).resolve().parent.parent
PACKAGES = ("eventsourcing", "pydantic", "pydantic-core", "psycopg", "psycopg-binary", "orjson")


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO_DIR, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def git_commit() -> str:
    """Return the checked-out commit (``git rev-parse HEAD``), or ``"unknown"``."""
    return _git("rev-parse", "HEAD") or "unknown"


def git_changes() -> list[str]:
    """Return ``git status --porcelain`` lines: work-tree changes the commit does not show."""
    return [line for line in _git("status", "--porcelain").splitlines() if line]


def source_fingerprint(package: str = "ledger") -> str:
    """Return a sha256 over the package's ``.py`` files as they are on disk now.

    The work tree may differ from the commit (and change while a benchmark runs); this pins
    down which code was measured.
    """
    digest = hashlib.sha256()
    for path in sorted((REPO_DIR / package).rglob("*.py")):
        digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def provenance() -> dict[str, Any]:
    """Return the commit, work-tree changes, ledger source fingerprint and load, right now."""
    return {
        "commit": git_commit(),
        "git_changes": git_changes(),
        "ledger_sources_sha256": source_fingerprint(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def wait_for_quiet(max_load: float, timeout: float, log: Callable[[str], None]) -> float:
    """Wait until the 1-minute load average is at most ``max_load`` (or ``timeout`` passes).

    These machines are shared: another job's test run moves every figure. Returns the load
    average seen last.
    """
    deadline = time.monotonic() + timeout
    load = os.getloadavg()[0]
    while load > max_load and time.monotonic() < deadline:
        log(f"load average {load:.2f} > {max_load}: waiting for a quieter machine ...")
        time.sleep(15)
        load = os.getloadavg()[0]
    return load


def cpu_model() -> str:
    """Return the CPU model name from ``/proc/cpuinfo`` (or the platform's guess)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """Return what the results depend on: cores, CPU, memory, Python, package versions."""
    import sqlite3

    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    mem_gib = None
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem_gib = round(pages / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "memory_gib": mem_gib,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
    }


@dataclass(frozen=True)
class Spread:
    """Median, min and max of repeated measurements."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median value."""
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        """The smallest value."""
        return min(self.values)

    @property
    def high(self) -> float:
        """The largest value."""
        return max(self.values)


def timed(fn: Callable[[], object]) -> float:
    """Run ``fn`` once after a garbage collection; return the elapsed seconds."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def repeat(fn: Callable[[], float], runs: int) -> Spread:
    """Call ``fn`` (which returns one measurement) ``runs`` times; return the spread."""
    if runs < 1:
        raise ValueError("runs must be at least 1")
    return Spread(tuple(fn() for _ in range(runs)))


def alternate(
    cases: Mapping[str, Callable[[], float]],
    runs: int,
    *,
    warmup: Mapping[str, Callable[[], float]] | None = None,
    runs_of: Mapping[str, int] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Spread]:
    """Run every case once per round, ``runs`` rounds, rotating which case goes first.

    Baseline and subject then see the same drift of a noisy machine. Each ``warmup`` callable
    runs once first and is discarded; ``runs_of`` gives a slow case fewer rounds (the first
    ones).
    """
    for name, fn in (warmup or {}).items():
        value = fn()
        if log:
            log(f"  warm-up {name}: {value:,.0f}")
    names = list(cases)
    values: dict[str, list[float]] = {name: [] for name in names}
    for round_no in range(runs):
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            if round_no >= (runs_of or {}).get(name, runs):
                continue
            value = cases[name]()
            values[name].append(value)
            if log:
                log(f"  run {round_no + 1}/{runs} {name}: {value:,.0f}")
    return {name: Spread(tuple(v)) for name, v in values.items()}


def result_row(
    case: str,
    backend: str,
    subject: Spread,
    baseline: Spread,
    baseline_name: str,
    *,
    unit: str = "events/s",
    target: str = "",
    note: str = "",
    digits: int = 1,
) -> dict[str, Any]:
    """Return one row of the results format; ``min``/``max`` are the subject's.

    The keys after ``max`` extend the format with the baseline's spread and the target;
    values are rounded to ``digits`` decimals (3 suits milliseconds).
    """
    row: dict[str, Any] = {
        "case": case,
        "backend": backend,
        "subject": round(subject.median, digits),
        "baseline": round(baseline.median, digits),
        "baseline_name": baseline_name,
        "ratio": round(subject.median / baseline.median, 3),
        "unit": unit,
        "runs": len(subject.values),
        "min": round(subject.low, digits),
        "max": round(subject.high, digits),
        "baseline_runs": len(baseline.values),
        "baseline_min": round(baseline.low, digits),
        "baseline_max": round(baseline.high, digits),
        "subject_values": [round(v, digits) for v in subject.values],
        "baseline_values": [round(v, digits) for v in baseline.values],
        "target": target,
    }
    if note:
        row["note"] = note
    return row


def write_results(
    name: str,
    events: int,
    rows: Sequence[Mapping[str, Any]],
    *,
    start: Mapping[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """Write ``bench/results/<name>.json`` in the format of ``docs/performance.md``; return its path.

    ``start`` is the :func:`provenance` taken before the first measurement: its commit is the
    one reported, and the JSON says whether the code changed while the benchmark ran (without
    it, provenance is taken at the end and the question stays open).
    ``extra`` adds top-level keys (settings, notes) after the required ones.
    """
    end = provenance()
    changed: bool | None = None
    if start is None:
        start = end
    else:
        changed = (start["commit"], start["ledger_sources_sha256"]) != (
            end["commit"],
            end["ledger_sources_sha256"],
        )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "commit": start["commit"],
        "machine": machine_info(),
        "events": events,
        "rows": list(rows),
        "provenance": {"start": dict(start), "end": end, "code_changed_during_run": changed},
        **extra,
    }
    path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return path


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def format_table(rows: Sequence[Mapping[str, Any]], *, digits: int = 0) -> str:
    """Return the rows as a Markdown table (median with min-max, ratio, target)."""
    lines = [
        "| case | backend | subject median (min-max) | baseline | baseline median (min-max)"
        " | ratio | target |",
        "|---|---|---|---|---|---|---|",
    ]

    def f(value: float) -> str:
        return _fmt(value, digits)

    for r in rows:
        lines.append(
            f"| {r['case']} | {r['backend']} "
            f"| {f(r['subject'])} ({f(r['min'])}-{f(r['max'])}) {r['unit']} "
            f"| {r['baseline_name']} "
            f"| {f(r['baseline'])} ({f(r['baseline_min'])}-{f(r['baseline_max'])}) "
            f"| {r['ratio']:.2f} | {r.get('target', '')} |"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def pg_schema(pg_url: str) -> Iterator[str]:
    """Yield the name of a new, empty PostgreSQL schema, dropped (with its contents) afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {0}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(sql.Identifier(name)))
