"""Fixtures for the projection tests: a memory ledger on a hand clock, and the facades over it.

The hand clock (``clock``, from ``tests/conftest.py``) stands at 2025-01-01 12:00 UTC; events in
these tests happen a few hours before it (see :mod:`tests.projections.support`), so they fall
inside every report whose window ends "now".
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger, open_ledger
from projections import CostTracker, ReliabilityMetrics, SLOTracker
from tests.conftest import ManualClock


@pytest.fixture
def ledger(clock: ManualClock) -> Iterator[Ledger]:
    """An empty in-memory ledger whose commit times come from ``clock``; closed afterwards."""
    with open_ledger("memory://", clock=clock) as opened:
        yield opened


@pytest.fixture
def metrics(ledger: Ledger, clock: ManualClock) -> ReliabilityMetrics:
    """Reliability metrics over ``ledger``."""
    return ReliabilityMetrics(ledger=ledger, clock=clock)


@pytest.fixture
def slo(ledger: Ledger, clock: ManualClock) -> SLOTracker:
    """An SLO tracker over ``ledger``."""
    return SLOTracker(ledger=ledger, clock=clock)


@pytest.fixture
def tracker(ledger: Ledger, clock: ManualClock) -> CostTracker:
    """A cost tracker (default price table) over ``ledger``."""
    return CostTracker(ledger=ledger, clock=clock)
