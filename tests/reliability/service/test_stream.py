"""``GET /v1/events/stream``: new events as Server-Sent Events, resumed from ``Last-Event-ID``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.reliability.service.conftest import StartServer


def sse(lines: Iterator[str], count: int) -> list[tuple[int, str, dict[str, object]]]:
    """Read ``count`` events (id, event, data) off a stream, skipping comments."""
    out: list[tuple[int, str, dict[str, object]]] = []
    fields: dict[str, str] = {}
    for line in lines:
        if line == "":
            if "data" in fields:
                out.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
                if len(out) == count:
                    return out
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(": ")
            fields[name] = value
    return out


def step(i: int) -> dict[str, object]:
    return {"type": "StepRecorded", "agent": "a", "success": True, "workflow_id": f"w{i}"}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_stream_follows_new_events_and_resumes_after_the_last_id(
    backend: str, tmp_path: Path, serve: StartServer, request: pytest.FixtureRequest
) -> None:
    db = f"sqlite:///{tmp_path}/l.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    server = serve(db)
    with server.client() as api:
        api.post("/v1/events", json=[step(1), step(2)])
        with api.stream("GET", "/v1/events/stream", params={"after": 0}) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert [e[0] for e in sse(lines, 2)] == [1, 2]
            api.post("/v1/events", json=[step(3)])  # written while the stream waits
            (live,) = sse(lines, 1)
            assert live[0] == 3 and live[1] == "StepRecorded" and live[2]["workflow_id"] == "w3"
        api.post("/v1/events", json=[step(4), step(5)])
        with api.stream("GET", "/v1/events/stream", headers={"Last-Event-ID": "3"}) as resumed:
            assert [e[0] for e in sse(resumed.iter_lines(), 2)] == [4, 5]
        with api.stream("GET", "/v1/events/stream", params={"after": 0, "workflow": "w5"}) as filtered:
            assert [e[0] for e in sse(filtered.iter_lines(), 1)] == [5]
        bad = api.get("/v1/events/stream", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 422
    with httpx.Client(base_url=server.base) as anonymous:
        assert anonymous.get("/v1/events/stream").status_code == 401
