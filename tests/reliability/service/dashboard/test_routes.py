"""The dashboard's routes on a real server: the page, its static files, /v1/series and /v1/signals."""

from __future__ import annotations

from pathlib import Path

from ledger import StepRecorded, open_ledger
from tests.reliability.service.conftest import StartServer


def test_the_page_and_its_files_are_served_and_the_data_needs_a_read_token(
    tmp_path: Path, serve: StartServer
) -> None:
    db = f"sqlite:///{tmp_path}/l.db"
    with open_ledger(db) as ledger:
        ledger.append([StepRecorded(workflow_id="wf-1", agent="planner", success=True)])
    server = serve(db)
    with server.client(None) as anonymous, server.client("read") as reader:
        page = anonymous.get("/")
        assert page.status_code == 200 and 'data-auth="token"' in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        script = anonymous.get("/static/uPlot.iife.min.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
        assert anonymous.get("/static/../app.py").status_code == 404
        assert anonymous.get("/static/nothing.js").status_code == 404
        assert anonymous.get("/v1/series").status_code == 401
        assert anonymous.get("/v1/signals").status_code == 401
        series = reader.get("/v1/series").json()
        assert series["metrics"]["svr"] == [1.0] and series["bucket_seconds"] == 3600
        assert reader.get("/v1/series", params={"x": "1"}).status_code == 422
        assert reader.get("/v1/signals").json()["breakers"] == []
        listed = reader.get("/v1/workflows", params={"agent": "planner"}).json()["workflows"]
        assert [w["agents"] for w in listed] == [["planner"]]
        assert reader.get("/v1/workflows", params={"agent": "coder"}).json()["workflows"] == []
