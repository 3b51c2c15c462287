"""A demo ledger served by a real ``rledger serve``, and Debian's chromium driven by Playwright.

One server and one browser per module (module-scoped), so the browser tests stay few seconds
each. The browser is ``/usr/bin/chromium`` (``.ci/run`` installs it when missing): Playwright's
own browser download is never used. Without chromium the browser tests skip with the reason,
or fail when ``RLEDGER_REQUIRE_SERVICES=1`` (as CI sets).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger import CheckpointMarked, CircuitTransitioned, open_ledger
from reliability.service import create_token
from tests.reliability.service.conftest import ROOT, Server

CHROMIUM = os.environ.get("RLEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REQUIRE = os.environ.get("RLEDGER_REQUIRE_SERVICES") == "1"
DEMO_EVENTS = "4000"


def chromium_problem() -> str | None:
    """Why the browser tests cannot run here, or ``None``."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (it is in the test extra)"
    return None


def rledger(db: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``rledger --db DB ARGS`` as a user would; fail the test on a non-zero exit."""
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", db, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"rledger {' '.join(args)}: {done.stderr}"
    return done


def make_demo_ledger(path: Path) -> str:
    """A demo ledger with a budget, an opened and closed breaker, alerts and a strict replay."""
    from decimal import Decimal

    from projections import CostBudget, CostTracker

    db = f"sqlite:///{path}"
    rledger(db, "demo", "--events", DEMO_EVENTS, "--quiet")
    with open_ledger(db) as ledger:
        CostTracker(ledger=ledger).set_budget(CostBudget("daily", Decimal(5), 24))
        ledger.append(
            [
                CircuitTransitioned(breaker="search-api", from_state="closed", to_state="open"),
                CircuitTransitioned(breaker="search-api", from_state="open", to_state="half_open"),
                CircuitTransitioned(breaker="payments", from_state="closed", to_state="open", reason="slow"),
            ]
        )
        ledger.append(
            CheckpointMarked(workflow_id="ticket-0-1", checkpoint_id="answered", label="reply sent")
        )
    rledger(db, "monitor", "--once")
    rledger(
        db, "replay", "ticket-0-1", "--mode", "strict",
        "--orchestrator", "replay.examples:TicketAgent", "--tools", "replay.examples:TOOLS",
    )  # fmt: skip
    return db


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``rledger serve`` with tokens on a demo ledger, for the whole module."""
    folder = tmp_path_factory.mktemp("dashboard")
    db = make_demo_ledger(folder / "demo.db")
    tokens = folder / "tokens.json"
    made = {scope: create_token(tokens, scope, scope)[1] for scope in ("ingest", "read", "admin")}
    server = Server(db=db, tokens=tokens, token=made).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless chromium for the module (skips, or fails under CI, where there is none)."""
    problem = chromium_problem()
    if problem is not None:
        if REQUIRE:
            pytest.fail(f"{problem} (RLEDGER_REQUIRE_SERVICES=1)", pytrace=False)
        pytest.skip(f"BROWSER TESTS SKIPPED: {problem}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def png_colours(data: bytes, limit: int = 64) -> int:
    """How many distinct pixel colours an 8-bit RGB(A) PNG has (counting stops at ``limit``)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if chunk == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
            assert body[8] == 8 and body[9] in (2, 6), "an 8-bit RGB or RGBA PNG"
            channels = 3 if body[9] == 2 else 4
        elif chunk == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride = zlib.decompress(idat), width * channels
    previous, colours = bytearray(stride), set[bytes]()
    for y in range(height):
        row = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, line = row[0], bytearray(row[1:])
        for i in range(stride):  # undo the row filter (PNG spec, section 9)
            left = line[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        if y % 8 == 0:  # every eighth row is enough to tell a page from a blank one
            colours.update(bytes(line[x : x + 3]) for x in range(0, stride, channels * 4))
            if len(colours) >= limit:
                return len(colours)
        previous = line
    return len(colours)
