"""Every endpoint of ``rledger serve`` through a real HTTP client, on SQLite, PostgreSQL and Redis."""

from __future__ import annotations

import subprocess
import sys
import uuid

import orjson

from ledger import open_ledger
from tests.reliability.service.conftest import ROOT, StartServer


def ids(n: int, seed: str) -> list[str]:
    """``n`` fixed event ids (a client retrying sends the same ones)."""
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{seed}/{i}")) for i in range(n)]


def workflow(wid: str, *, ok: bool = True) -> list[dict[str, object]]:
    """A small workflow: started, two steps (one failing when not ok), a cost, completed."""
    e = ids(5, wid)
    return [
        {"type": "WorkflowStarted", "event_id": e[0], "workflow_id": wid, "agent": "planner", "goal": "g"},
        {"type": "StepRecorded", "event_id": e[1], "workflow_id": wid, "agent": "planner", "success": True},
        {"type": "StepRecorded", "event_id": e[2], "workflow_id": wid, "agent": "coder", "success": ok},
        {
            "type": "CostIncurred",
            "event_id": e[3],
            "workflow_id": wid,
            "agent": "coder",
            "model": "m",
            "amount": "0.25",
            "status": "priced",
        },
        {"type": "WorkflowCompleted", "event_id": e[4], "workflow_id": wid, "success": ok, "total_steps": 2},
    ]


def test_every_endpoint_answers_from_the_ledger(durable_url: str, serve: StartServer) -> None:
    server = serve(durable_url)
    with server.client() as api:
        first = api.post("/v1/events", json=workflow("wf-1"))
        assert first.status_code == 200
        assert first.json() == {"offsets": [1, 2, 3, 4, 5], "written": 5, "duplicates": 0, "last_offset": 5}

        # The same events again (a client's retry) write nothing and answer the first offsets.
        again = api.post("/v1/events", json=workflow("wf-1"))
        assert again.json() == {"offsets": [1, 2, 3, 4, 5], "written": 0, "duplicates": 5, "last_offset": 5}

        # NDJSON, with an expected version for the new workflow's stream.
        lines = b"\n".join(orjson.dumps(e) for e in workflow("wf-2", ok=False)) + b"\n"
        nd = api.post(
            "/v1/events?expected_version=0", content=lines, headers={"Content-Type": "application/x-ndjson"}
        )
        assert nd.status_code == 200 and nd.json()["offsets"] == [6, 7, 8, 9, 10]

        # Reads: filters, NDJSON, a cursor that walks the pages.
        page = api.get("/v1/events", params={"limit": 4})
        assert page.headers["content-type"] == "application/x-ndjson"
        rows = [orjson.loads(line) for line in page.text.splitlines()]
        assert [r["offset"] for r in rows] == [1, 2, 3, 4] and page.headers["X-Next-After"] == "4"
        seen = [r["offset"] for r in rows]
        after = page.headers["X-Next-After"]
        while after:
            page = api.get("/v1/events", params={"limit": 4, "after": after})
            seen += [orjson.loads(line)["offset"] for line in page.text.splitlines()]
            after = page.headers.get("X-Next-After")
        assert seen == list(range(1, 11))
        steps = api.get("/v1/events", params={"workflow": "wf-2", "type": "StepRecorded"}).text.splitlines()
        assert [orjson.loads(s)["success"] for s in steps] == [True, False]
        by_agent = api.get("/v1/events", params={"agent": "coder"}).text.splitlines()
        assert len(by_agent) == 4

        # Views: the same numbers the CLI prints.
        report = api.get("/v1/report").json()
        assert report["metrics"]["total_steps"] == 4 and report["metrics"]["svr"] == 0.75
        assert report["costs"]["total_cost"] == "0.50" and report["include_replays"] is False
        assert report["health"]["healthy"] is False
        listed = api.get("/v1/workflows").json()["workflows"]
        assert [(w["workflow_id"], w["outcome"], w["steps"], w["cost"]) for w in listed] == [
            ("wf-1", "succeeded", 2, "0.25"),
            ("wf-2", "failed", 2, "0.25"),
        ]
        failed = api.get("/v1/workflows", params={"outcome": "failed"}).json()["workflows"]
        assert [w["workflow_id"] for w in failed] == ["wf-2"]
        trail = api.get("/v1/workflows/wf-1/trail").json()
        assert trail["workflow_id"] == "wf-1" and trail["success"] is True and len(trail["steps"]) == 2
        markdown = api.get("/v1/workflows/wf-1/trail", params={"format": "markdown"})
        assert markdown.headers["content-type"].startswith("text/markdown")
        assert markdown.text.startswith("# Decision trail: wf-1")
        verify = api.get("/v1/verify").json()
        assert verify["ok"] is True and verify["last_offset"] == 11  # 10 events + the MTTE of the trail
        cli_verify = subprocess.run(
            [sys.executable, "-m", "cli", "--db", durable_url, "verify", "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        assert verify == orjson.loads(cli_verify.stdout)  # the same document, key for key

        assert api.get("/healthz").json() == {"status": "ok"}
        assert api.get("/readyz").json() == {"status": "ready", "head_offset": 11}
        metrics = api.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "rledger_ledger_head_offset 11.0" in metrics.text
        assert api.get("/openapi.json").json()["openapi"].startswith("3.")
    server.stop()

    # Another process reads what the server wrote.
    with open_ledger(durable_url, create=False) as ledger:
        assert ledger.latest_offset() == 11 and ledger.verify().ok


def test_health_the_api_document_and_the_dashboard_page_need_no_token_and_everything_else_does(
    tmp_path: object, serve: StartServer
) -> None:
    server = serve(f"sqlite:///{tmp_path}/l.db")
    with server.client(None) as anonymous:
        for path in ("/healthz", "/readyz", "/openapi.json", "/"):  # the page holds no data
            assert anonymous.get(path).status_code == 200
        document = anonymous.get("/openapi.json").json()
        for path, operations in document["paths"].items():
            for method in operations:
                if path in ("/healthz", "/readyz", "/openapi.json", "/"):
                    continue
                concrete = path.replace("{workflow_id}", "wf")
                answer = anonymous.request(method.upper(), concrete)
                assert answer.status_code == 401, (method, path)
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
                assert set(answer.json()) == {"error", "problems"}
