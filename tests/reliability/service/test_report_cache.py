"""``GET /v1/report`` keeps its folds between requests: right after other writers, overrides per request."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson

from ledger import open_ledger
from tests.reliability.service.conftest import ROOT, StartServer
from tests.reliability.service.test_api import workflow


def _cli_report(db: str, *options: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "--db", db, "report", "--format", "json", *options],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    document: dict[str, Any] = orjson.loads(done.stdout)
    return document


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    # What depends on when the report was made, not on the events.
    for part in ("metrics", "slo", "costs"):
        for key in ("generated_at", "now", "computed_at"):
            document[part].pop(key, None)
    return document


def test_reports_follow_other_writers_and_budgets_stay_with_their_request(
    durable_url: str, serve: StartServer
) -> None:
    server = serve(durable_url)
    with server.client("read") as api:
        with open_ledger(durable_url) as writer:
            writer.append(workflow("w1"))
        first = api.get("/v1/report", params={"budget": "daily=0.10/24"}).json()
        assert first["metrics"]["total_steps"] == 2
        assert [b["name"] for b in first["costs"]["budgets"]] == ["daily"]

        with open_ledger(durable_url) as writer:  # another writer, not the server
            writer.append(workflow("w2", ok=False) + workflow("w3"))
        second = api.get("/v1/report").json()
        replays = api.get("/v1/report", params={"include_replays": "true"}).json()

    assert second["metrics"]["total_steps"] == 6 and second["metrics"]["svr"] == 5 / 6
    assert second["costs"]["total_cost"] == "0.75"
    assert second["costs"]["budgets"] == []  # the first request's override did not stay
    assert replays["include_replays"] is True and replays["metrics"]["total_steps"] == 6
    assert _comparable(second) == _comparable(_cli_report(durable_url))
    again = _cli_report(durable_url, "--budget", "daily=0.10/24")
    with server.client("read") as api:
        served = api.get("/v1/report", params={"budget": "daily=0.10/24"}).json()
    assert _comparable(served) == _comparable(again)
