"""Bad input over HTTP: each a specific 4xx in the one error shape, and nothing written."""

from __future__ import annotations

import gzip
from pathlib import Path

import httpx
import orjson
import pytest

from tests.reliability.service.conftest import Server, StartServer

GOOD = {"type": "StepRecorded", "agent": "a", "success": True, "workflow_id": "w"}


@pytest.fixture
def server(tmp_path: Path, serve: StartServer) -> Server:
    """A SQLite-backed server with small limits (a 64 KiB body, 50 events, 1 s for the body)."""
    return serve(f"sqlite:///{tmp_path}/l.db", "--max-body-mb", "0.0625", "--max-events", "50")


def head(api: httpx.Client) -> int:
    value: int = api.get("/readyz").json()["head_offset"]
    return value


def error_of(answer: httpx.Response, status: int) -> dict[str, object]:
    assert answer.status_code == status, answer.text
    body: dict[str, object] = answer.json()
    assert set(body) == {"error", "problems"}
    return body


def test_each_bad_request_is_its_own_4xx_and_writes_nothing(server: Server) -> None:
    with server.client() as api:
        json_type = {"Content-Type": "application/json"}
        body = error_of(api.post("/v1/events", content=b"[{not json", headers=json_type), 400)
        assert "not JSON" in str(body["error"])
        body = error_of(api.post("/v1/events", content=b"[]", headers={"Content-Type": "text/csv"}), 415)
        assert "text/csv" in str(body["error"])
        error_of(api.post("/v1/events", content=b"{}", headers=json_type), 422)
        huge = orjson.dumps([{**GOOD, "error": "x" * 1000} for _ in range(100)])
        body = error_of(api.post("/v1/events", content=huge, headers=json_type), 413)
        assert "limit" in str(body["error"])
        error_of(api.post("/v1/events", json=[GOOD] * 51), 413)
        long_line = orjson.dumps({**GOOD, "error": "y" * 60_000})
        nd = {"Content-Type": "application/x-ndjson"}
        error_of(api.post("/v1/events", content=long_line + b"\n" + long_line, headers=nd), 413)

        bad = error_of(
            api.post("/v1/events", json=[GOOD, {**GOOD, "success": "yes"}, GOOD, {"type": "Nope"}]), 422
        )
        assert [(p["index"], p["field"]) for p in bad["problems"]] == [(1, "success"), (3, "type")]  # type: ignore[index, union-attr]
        lines = b"\n".join([orjson.dumps(GOOD), b"", b"not json", orjson.dumps({**GOOD, "agent": 3})])
        bad = error_of(api.post("/v1/events", content=lines, headers=nd), 422)
        assert [p["line"] for p in bad["problems"]] == [3, 4]  # type: ignore[index, union-attr]
        assert head(api) == 0

        assert api.post("/v1/events", json=[GOOD]).status_code == 200
        conflict = error_of(api.post("/v1/events", json={"events": [GOOD], "expected_version": 0}), 409)
        assert "version" in str(conflict["error"])
        first = api.post("/v1/events", json=[{**GOOD, "event_id": "0190b6d2-9d3f-7cc5-8f4e-6d1f3c9e4a11"}])
        assert first.status_code == 200
        changed = {**GOOD, "event_id": "0190b6d2-9d3f-7cc5-8f4e-6d1f3c9e4a11", "agent": "other"}
        error_of(api.post("/v1/events", json=[changed]), 409)
        assert head(api) == 2

        error_of(api.get("/v1/events", params={"type": "Nope"}), 422)
        error_of(api.get("/v1/events", params={"after": "-1"}), 422)
        error_of(api.get("/v1/events", params={"wat": "1"}), 422)
        error_of(api.get("/v1/events", params={"since": "2026-02-01", "until": "2026-01-01"}), 422)
        error_of(api.get("/v1/report", params={"as_of": "99"}), 422)
        error_of(api.get("/v1/report", params={"budget": "nonsense"}), 422)
        error_of(api.get("/v1/workflows/nope/trail"), 404)
        error_of(api.get("/no/such/path"), 404)
        error_of(api.delete("/v1/events"), 405)
        assert head(api) == 2


def test_a_gzip_body_on_the_events_endpoint_is_refused_not_misread(server: Server) -> None:
    with server.client() as api:
        answer = api.post(
            "/v1/events",
            content=gzip.compress(orjson.dumps([GOOD])),
            headers={"Content-Type": "application/json"},
        )
        error_of(answer, 400)
        assert head(api) == 0


def test_wrong_tokens_are_401_and_a_narrow_scope_is_403(server: Server) -> None:
    with server.client(None) as anonymous:
        error_of(anonymous.post("/v1/events", json=[GOOD]), 401)
        wrong = {"Authorization": "Bearer rlt_000000000000_nope"}
        error_of(anonymous.post("/v1/events", json=[GOOD], headers=wrong), 401)
        forged = {"Authorization": f"Bearer {server.token['admin'][:-2]}xx"}
        error_of(anonymous.get("/v1/events", headers=forged), 401)
        error_of(anonymous.get("/v1/events", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)
    with server.client("read") as reader:
        body = error_of(reader.post("/v1/events", json=[GOOD]), 403)
        assert "ingest" in str(body["error"])
        assert reader.get("/v1/events").status_code == 200
    with server.client("ingest") as ingester:
        error_of(ingester.get("/v1/report"), 403)
        error_of(ingester.get("/metrics"), 403)
        assert ingester.post("/v1/events", json=[GOOD]).status_code == 200
        assert ingester.get("/readyz").json()["head_offset"] == 1
