"""``POST /v1/traces`` through ``rledger serve``: the OTLP receiver behind the server's scope check,
body limit and counters."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.service.conftest import StartServer
from tests.reliability.service.otlp.build import agent_run, protobuf

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def test_spans_posted_to_the_server_become_events_once(tmp_path: Path, serve: StartServer) -> None:
    server = serve(f"sqlite:///{tmp_path}/l.db")
    body = protobuf(agent_run())
    with server.client("ingest") as api:
        first = api.post("/v1/traces", content=body, headers=PROTOBUF)
        assert first.status_code == 200 and first.headers["content-type"].startswith("application/x-protobuf")
        head = api.get("/readyz").json()["head_offset"]
        assert head > 0
        again = api.post("/v1/traces", content=body, headers=PROTOBUF)  # an OTLP retry
        assert again.status_code == 200
    with server.client("read") as reader:
        assert reader.get("/readyz").json()["head_offset"] == head  # nothing written twice
        assert reader.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 403
        text = reader.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples[("rledger_otlp_events_written_total", ())] == head
    assert samples[("rledger_otlp_spans_total", (("outcome", "accepted"),))] >= 1
    with server.client(None) as anonymous:
        assert anonymous.post("/v1/traces", content=body, headers=PROTOBUF).status_code == 401


def test_a_trace_body_over_the_limit_is_413_before_the_receiver(tmp_path: Path, serve: StartServer) -> None:
    server = serve(f"sqlite:///{tmp_path}/l.db", "--max-body-mb", "0.001")
    with server.client("ingest") as api:
        answer = api.post("/v1/traces", content=b"\0" * 5000, headers=PROTOBUF)
        assert answer.status_code == 413 and "limit" in answer.json()["error"]
        assert api.get("/readyz").json()["head_offset"] == 0
