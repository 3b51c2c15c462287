"""``GET /metrics``: the ledger's numbers and the server's own, named by Prometheus conventions."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.reliability.service.conftest import StartServer

UNITS = (
    "_offset",
    "_events",
    "_ratio",
    "_seconds",
    "_per_workflow",
    "_total",
    "_dropped",
    "_open",
    "_spend",
    "_limit",
    "_bytes",
)


def test_metrics_follow_prometheus_conventions_and_cap_the_agent_label(
    tmp_path: Path, serve: StartServer
) -> None:
    server = serve(f"sqlite:///{tmp_path}/l.db", "--metrics-agents", "2")
    events = [
        {"type": "StepRecorded", "agent": f"agent-{i}", "success": i != 1, "workflow_id": "w"}
        for i in range(4)
    ]
    events += [
        {"type": "WorkflowCompleted", "workflow_id": "w", "success": True},
        {"type": "BudgetSet", "budget": "daily", "total_limit": "10", "period_hours": 24},
        {"type": "CostIncurred", "workflow_id": "w", "model": "m", "amount": "1.5", "status": "priced"},
    ]
    with server.client() as api:
        assert api.post("/v1/events", json=events).status_code == 200
        api.get("/v1/events")
        text = api.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }

    assert samples[("rledger_ledger_head_offset", ())] == 7
    assert samples[("rledger_ledger_events", (("type", "StepRecorded"),))] == 4
    assert samples[("rledger_svr_ratio", ())] == 0.75
    assert samples[("rledger_steps_total", ())] == 4
    # Two agents labelled (first by name), the other two counted as dropped.
    agents = {dict(labels)["agent"] for name, labels in samples if name == "rledger_agent_svr_ratio"}
    assert agents == {"agent-0", "agent-1"}
    assert samples[("rledger_metrics_agents_dropped", ())] == 2
    assert samples[("rledger_budget_spend", (("budget", "daily"), ("currency", "USD")))] == 1.5
    assert samples[("rledger_budget_limit", (("budget", "daily"), ("currency", "USD")))] == 10
    assert (
        samples[
            ("rledger_http_requests_total", (("method", "GET"), ("route", "/v1/events"), ("status", "200")))
        ]
        == 1
    )
    assert ("rledger_ma_ratio", ()) not in samples  # no mode observations: left out, not 0
    assert "rledger_http_request_duration_seconds" in families
    assert families["rledger_http_request_duration_seconds"].type == "histogram"
    for name, family in families.items():
        assert re.fullmatch(r"rledger_[a-z0-9_]+", name), name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples), name
        assert any(
            name.endswith(u.removesuffix("_total")) or name.endswith(u) for u in UNITS
        ) or family.type in ("counter", "histogram"), name
    assert not any(name.endswith("_created") for name, _ in samples)  # the serve command turns them off
    routes = {dict(labels).get("route") for name, labels in samples if name == "rledger_http_requests_total"}
    assert routes <= {"/v1/events", "/healthz", "/metrics", "unmatched"}
