"""``rledger rebuild``, ``follow`` and ``report --format json`` on a SQLite ledger."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

import cli
from ledger import StepRecorded, open_ledger
from ledger.workload import generate
from projections import CORE_PROJECTIONS, CostTracker, ReliabilityMetrics, ReliabilityProjection
from projections.fold.runner import fold_range
from tests.conftest import sqlite_url


@pytest.fixture
def url(tmp_path: Path) -> str:
    target = sqlite_url(tmp_path / "cli.db")
    with open_ledger(target) as ledger:
        ledger.append(list(generate(400, seed=3, active_workflows=5)))
    return target


def rledger(url: str, *argv: str) -> int:
    return cli.main(["--db", url, *argv])


def test_rebuild_prints_the_digests_of_a_fold_from_scratch(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rledger(url, "rebuild", "--quiet") == 0
    out = capsys.readouterr().out

    with open_ledger(url) as ledger:
        truth = {}
        for projection_type in CORE_PROJECTIONS:
            projection = projection_type()
            fold_range(ledger, [projection])
            truth[projection.name] = projection.digest()
            stored = ledger.backend.load_view(projection.name)
            assert stored is not None and stored.position == 400
    assert out.startswith("rebuilt reliability, slo, costs over 400 event(s)")
    for name, digest in truth.items():
        assert f"{name:12} digest {digest}" in out


def test_follow_with_a_save_interval_stops_after_its_seconds_with_everything_saved(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def append_later() -> None:
        time.sleep(0.2)
        with open_ledger(url) as writer:
            for i in range(5):
                writer.append(StepRecorded(agent="late", success=i % 2 == 0))

    writer = threading.Thread(target=append_later)
    writer.start()
    assert rledger(url, "follow", "reliability", "--seconds", "3", "--save-interval", "30") == 0
    writer.join()

    out = capsys.readouterr().out.splitlines()
    assert out[0] in ("reliability at offset 400", "reliability at offset 405")
    with open_ledger(url) as ledger:
        stored = ledger.backend.load_view("reliability")
        assert stored is not None and stored.position == 405  # saved on stop, at the latest
        restored = ReliabilityProjection.from_bytes(stored.state)
        assert restored is not None
        fresh = ReliabilityProjection()
        fold_range(ledger, [fresh])
        assert restored.digest() == fresh.digest()


def test_report_as_json_matches_the_facades(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert rledger(url, "report", "--format", "json") == 0
    report = json.loads(capsys.readouterr().out)

    with open_ledger(url) as ledger:
        metrics = ReliabilityMetrics(ledger=ledger).report()
        costs = CostTracker(ledger=ledger).report()
    assert metrics.total_steps > 0
    assert report["metrics"]["total_steps"] == metrics.total_steps
    assert report["metrics"]["svr"] == pytest.approx(metrics.svr)
    assert report["metrics"]["as_of_offset"] == 400
    assert Decimal(str(report["costs"]["total_cost"])) == costs.total_cost
    assert report["costs"]["total_tokens"] == costs.total_tokens
