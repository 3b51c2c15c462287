"""The integrations run on the in-process and the embedded backend only.

What they add is above the ledger (the model and tool calls a framework makes, and their replay);
the backends' contract suite covers the rest, so the framework tests stay off the servers and fast.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import MEMORY, SQLITE, _url_for


@pytest.fixture(params=[MEMORY, SQLITE])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for an empty ledger, in memory and in a SQLite file."""
    return _url_for(request.param, request, tmp_path)
