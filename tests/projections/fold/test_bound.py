"""Facades on one SQLite ledger in different processes see each other's data; the public API.

Process A records steps, process B records more and reports; a facade opened in this process
before either of them ran sees everything, because reports fold whatever is new in the ledger.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from ledger import LedgerError
from projections import ReliabilityMetrics, SQLMetricStorage
from tests.conftest import run_in_process, sqlite_url
from tests.projections import mp_workers

SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 120.0


@pytest.mark.slow
def test_facades_in_different_processes_share_one_sqlite_ledger(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "shared.db")
    storage = SQLMetricStorage(url)
    try:
        here = ReliabilityMetrics(storage=storage)
        assert here.report().total_steps == 0

        run_in_process(mp_workers.record_steps, url, "process-a", [True, True, False])
        results = SPAWN.Queue()
        run_in_process(mp_workers.record_steps, url, "process-b", [True, True])
        run_in_process(mp_workers.report_steps, url, results)
        seen_by_b = results.get(timeout=TIMEOUT)
        results.close()
        results.join_thread()

        assert seen_by_b == (5, pytest.approx(4 / 5), {"process-a": 3, "process-b": 2})
        report = here.report()
        assert report.total_steps == 5
        assert report.svr == pytest.approx(4 / 5)
        assert report.agent_metrics["process-a"].svr == pytest.approx(2 / 3)
    finally:
        storage.close()


def test_sql_metric_storage_refuses_a_url_that_is_not_sql() -> None:
    with pytest.raises(LedgerError, match="sqlite:/// or postgresql://"):
        SQLMetricStorage("memory://")
