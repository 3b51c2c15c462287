"""The dashboard on a large ledger: its ``/v1/...`` answers, first render in Chromium, a big workflow.

.venv/bin/python -m bench.dashboard --db sqlite:///big.db [--runs 20] [--no-write]

The ledger is copied (a SQLite file) and the core projections are stored once with ``rledger
rebuild``, as a deployment running ``rledger follow`` has them; a 1 000-event workflow is added.
Then one ``rledger serve`` answers, over loopback:

- each call the overview makes (``/v1/report``, ``/v1/series``, ``/v1/signals``) and the
  workflow list's ``/v1/workflows``, warm, against ``GET /healthz`` (the HTTP floor) in the same
  rounds; and the same calls right after one new event was appended (the incremental path);
- the overview's first render in headless Chromium (navigation to the charts drawn, a fresh
  browser context each run), against loading ``/openapi.json`` in the same way;
- the 1 000-event workflow's page (its trail fetched and drawn), against the overview's re-render.

Targets (the issue): each call <= 50 ms, first render <= 1 s, the big workflow's page <= 300 ms.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from bench.common import alternate, format_table, provenance, result_row, write_results

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
BIG = "bench-dashboard-1000"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def add_big_workflow(db: str) -> int:
    """Append one workflow of 1 000 events (steps, tool calls, evidence, costs); return its size."""
    from decimal import Decimal

    from ledger import (
        CostIncurred,
        EvidenceCollected,
        StepRecorded,
        ToolCalled,
        WorkflowCompleted,
        WorkflowStarted,
        open_ledger,
    )

    events: list[Any] = [WorkflowStarted(workflow_id=BIG, goal="a long run")]
    for i in range(250):
        events.append(StepRecorded(workflow_id=BIG, agent="planner", success=i % 17 != 0, mode="execute"))
        events.append(
            ToolCalled(
                workflow_id=BIG, agent="planner", tool="search", arguments={"q": f"query {i}"},
                result={"hits": i}, duration_ms=12.5, call_index=i,
            )
        )  # fmt: skip
        grade = ("verified", "claimed", "inferred")[i % 3]
        basis = [events[-4].event_id] if grade == "inferred" else []  # the verified item of i - 2
        events.append(
            EvidenceCollected(
                workflow_id=BIG, evidence_type="doc", source="search", confidence=grade,
                content=f"fact {i}", based_on=basis,
            )
        )  # fmt: skip
        events.append(CostIncurred(workflow_id=BIG, agent="planner", model="gpt-4o", amount=Decimal("0.001")))
    events.append(WorkflowCompleted(workflow_id=BIG, success=True))
    events = [*events[:999], events[-1]]
    with open_ledger(db) as ledger:
        ledger.append(events)
    return len(events)


def _getter(client: httpx.Client, path: str) -> Callable[[], float]:
    return lambda: _get(client, path)


def _get(client: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, f"{path}: {answer.status_code} {answer.text[:200]}"
    return elapsed * 1000


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table; write ``bench/results/dashboard.json``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True, help="a SQLite ledger URL (copied; never written)")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--render-runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    start = provenance()
    source = Path(args.db.removeprefix("sqlite:///"))
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as folder:
        copy = Path(folder) / "ledger.db"
        shutil.copy(source, copy)
        db = f"sqlite:///{copy}"
        size = add_big_workflow(db)
        rledger = [sys.executable, "-m", "cli", "--db", db]
        began = time.perf_counter()
        subprocess.run([*rledger, "rebuild", "--quiet"], cwd=ROOT, check=True)
        _log(f"rebuild (stored projections): {time.perf_counter() - began:.1f} s")
        from ledger import open_ledger

        with open_ledger(db) as ledger:
            events = ledger.latest_offset()
        port = free_port()
        server = subprocess.Popen(
            [*rledger, "serve", "--port", str(port), "--log-level", "warning"], cwd=ROOT
        )
        base = f"http://127.0.0.1:{port}"
        try:
            rows, notes = _measure(base, args, sync_playwright, size)
        finally:
            server.terminate()
            server.wait(30)
    print(format_table(rows, digits=1))
    if not args.no_write:
        path = write_results("dashboard", events, rows, start=start, notes=notes, source=str(source))
        _log(f"wrote {path}")
    return 0


def _measure(base: str, args: argparse.Namespace, sync_playwright: Any, size: int) -> tuple[list[Any], Any]:
    client = httpx.Client(base_url=base, timeout=120)
    for _ in range(600):
        try:
            if client.get("/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    calls = ["/v1/report", "/v1/series", "/v1/signals", "/v1/workflows?limit=10000"]
    first = {path: _get(client, path) for path in calls}  # the server's first answers: facades load
    _log(f"first answers (ms): {first}")
    floor = "GET /healthz"
    cases: dict[str, Callable[[], float]] = {floor: lambda: _get(client, "/healthz")}
    for path in calls:
        cases[f"GET {path}"] = _getter(client, path)
    warm = alternate(cases, args.runs)
    rows = [
        result_row(name, "sqlite", warm[name], warm[floor], floor, unit="ms", target="<= 50 ms", digits=2)
        for name in cases
        if name != floor
    ]
    step = {"type": "StepRecorded", "workflow_id": BIG, "agent": "planner", "success": True}

    def after_append(path: str) -> Callable[[], float]:
        def run() -> float:
            assert client.post("/v1/events", json={"events": [step]}).status_code == 200
            return _get(client, path)

        return run

    live_cases = {floor: cases[floor]} | {
        f"GET {p} after one new event": after_append(p) for p in ("/v1/report", "/v1/series", "/v1/signals")
    }
    live = alternate(live_cases, args.runs)
    rows += [
        result_row(name, "sqlite", live[name], live[floor], floor, unit="ms", target="<= 50 ms", digits=2)
        for name in live_cases
        if name != floor
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            rows += _render(browser, base, args.render_runs, size)
        finally:
            browser.close()
    notes = {"first_answers_ms": {k: round(v, 1) for k, v in first.items()}}
    return rows, notes


def _render(browser: Any, base: str, runs: int, size: int) -> list[Any]:
    def load(url: str, until: str) -> float:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function(until, timeout=30_000)
        elapsed = (time.perf_counter() - started) * 1000
        context.close()
        return elapsed

    rendered = (
        "() => document.body.dataset.rendered === '#/' && document.querySelectorAll('canvas').length >= 7"
    )
    overview = {
        "first render of the overview (charts drawn)": lambda: load(base + "/#/", rendered),
        "load /openapi.json": lambda: load(
            base + "/openapi.json", "() => document.readyState === 'complete'"
        ),
    }
    first = alternate(overview, runs)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/#/")
    page.wait_for_function(rendered)

    def navigate(hash_: str) -> float:
        page.evaluate("() => { location.hash = '#/blank' }")  # away first, so the next one renders anew
        page.wait_for_function("() => document.body.dataset.rendered === '#/blank'")
        started = time.perf_counter()
        page.evaluate("h => { location.hash = h }", hash_)
        page.wait_for_function("h => document.body.dataset.rendered === h", arg=hash_, timeout=30_000)
        return (time.perf_counter() - started) * 1000

    pages = {
        f"workflow page, {size} events (trail fetched and drawn)": lambda: navigate(f"#/workflows/{BIG}"),
        "overview re-render": lambda: navigate("#/"),
    }
    second = alternate(pages, runs)
    context.close()
    name, other = list(overview)
    big, again = list(pages)
    return [
        result_row(
            name, "sqlite", first[name], first[other], other, unit="ms", target="<= 1000 ms", digits=1
        ),
        result_row(big, "sqlite", second[big], second[again], again, unit="ms", target="<= 300 ms", digits=1),
    ]


if __name__ == "__main__":
    sys.exit(main())
