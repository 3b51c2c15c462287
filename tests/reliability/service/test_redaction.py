"""``rledger serve --redaction FILE``: HTTP and OTLP ingest redacted before storing; /metrics counts it."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from ledger import open_ledger
from tests.reliability.service.conftest import StartServer
from tests.reliability.service.otlp.build import agent_run, protobuf

PROTOBUF = {"Content-Type": "application/x-protobuf"}


def test_http_and_otlp_ingest_are_redacted_and_counted(tmp_path: Path, serve: StartServer) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(
        json.dumps(
            {
                "detectors": ["email", "api_key"],
                "rules": [{"type": "ToolCalled", "path": "arguments.q", "action": "mask", "name": "query"}],
            }
        )
    )
    url = f"sqlite:///{tmp_path}/l.db"
    server = serve(url, "--redaction", str(policy))
    posted = [
        {"type": "ToolCalled", "tool": "mail", "workflow_id": "w", "arguments": {"to": "bob@example.com"}},
        {"type": "WorkflowStarted", "workflow_id": "w", "input": {"key": "sk-abcdefghijklmnopqrstuvwxyz"}},
    ]
    with server.client() as api:
        assert api.post("/v1/events", json=posted).status_code == 200
        # The OTLP tool span's arguments are {"q": "refund policy"}: the rule masks them.
        assert api.post("/v1/traces", content=protobuf(agent_run()), headers=PROTOBUF).status_code == 200
        text = api.get("/metrics").text
    server.stop()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples[("rledger_redacted_events_total", ())] == 3
    assert samples[("rledger_redactions_by_action_total", (("action", "mask"),))] == 3
    assert samples[("rledger_redactions_by_rule_total", (("rule", "query"),))] == 1
    assert samples[("rledger_redactions_by_detector_total", (("detector", "email"),))] == 1
    assert samples[("rledger_redactions_by_detector_total", (("detector", "api_key"),))] == 1
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("l.db"))
    assert b"bob@example.com" not in raw and b"sk-abcdefghijklmnopqrstuvwxyz" not in raw
    assert b"refund policy" not in raw
    with open_ledger(url) as ledger:
        calls = [r.event for r in ledger.read(types=["ToolCalled"])]
    assert {str(c.arguments) for c in calls} == {"{'to': '[redacted:email]'}", "{'q': '[redacted:query]'}"}


def test_a_server_without_a_policy_has_no_redaction_metrics(tmp_path: Path, serve: StartServer) -> None:
    server = serve(f"sqlite:///{tmp_path}/l.db")
    with server.client() as api:
        assert (
            api.post("/v1/events", json=[{"type": "StepRecorded", "agent": "a", "success": True}]).status_code
            == 200
        )
        text = api.get("/metrics").text

    assert "rledger_redact" not in text
