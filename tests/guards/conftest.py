"""Fixtures for the guard and signal tests: an in-memory ledger on the hand clock.

The hand clock (``clock``, from ``tests/conftest.py``) stands at 2025-01-01 12:00 UTC and moves
only when a test moves it, so timeouts, windows and cooldowns are crossed without sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger, open_ledger
from tests.conftest import ManualClock


@pytest.fixture
def ledger(clock: ManualClock) -> Iterator[Ledger]:
    """An empty in-memory ledger whose commit times come from ``clock``; closed afterwards."""
    with open_ledger("memory://", clock=clock) as opened:
        yield opened


def types_of(ledger: Ledger, *types: str) -> list[str]:
    """The stored event types, in order (only ``types`` when given)."""
    return [r.event.type for r in ledger.read(types=types or None)]
