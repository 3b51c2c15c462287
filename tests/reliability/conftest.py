"""A memory ledger for the guide's blocks, closed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger, open_ledger


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    """An empty memory ledger."""
    with open_ledger("memory://") as opened:
        yield opened
