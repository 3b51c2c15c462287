"""Fixtures for the replay tests: a ledger on a hand clock, on memory and SQLite.

Replays and trails read back what a run recorded, so every test here runs on the in-memory
backend and on a SQLite file (``ledger``); the JSON-lines round trip also runs on PostgreSQL.
The hand clock stands at 2025-01-01 12:00 UTC and moves only when a test moves it; reports
whose window ends "now" see events only once the clock has moved past them (windows are
half-open), so tests that read an SLO report advance it first.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger import Ledger, open_ledger
from tests.conftest import MEMORY, SQLITE, ManualClock, sqlite_url


@pytest.fixture(params=[MEMORY, SQLITE])
def ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[Ledger]:
    """An empty ledger on memory, then on SQLite, whose commit times come from ``clock``."""
    url = "memory://" if request.param == "memory" else sqlite_url(tmp_path / "replay.db")
    with open_ledger(url, clock=clock) as opened:
        yield opened


@pytest.fixture
def memory_ledger(clock: ManualClock) -> Iterator[Ledger]:
    """An empty in-memory ledger on the hand clock (for tests about logic, not storage)."""
    with open_ledger("memory://", clock=clock) as opened:
        yield opened
