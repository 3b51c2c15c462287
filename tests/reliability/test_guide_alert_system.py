"""The guide's "Alert System" block, run as written.

Its ``anomalies`` are the previous section's: the guide's anomaly blocks are run first.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.guide import block, run


def test_setup_alerts(capsys: pytest.CaptureFixture[str]) -> None:
    detection: dict[str, Any] = {}
    run(block("Anomaly Detection", "Threshold-Based Detection"), detection)
    run(block("Anomaly Detection", "Statistical Detection"), detection)
    capsys.readouterr()
    (spike,) = detection["anomalies"]

    ns: dict[str, Any] = {"anomalies": detection["anomalies"]}
    run(block("Alert System", "Setup Alerts"), ns)

    out = capsys.readouterr().out.splitlines()
    assert out[:6] == [
        "🚨 ALERT: error_rate is 0.15 (threshold 0.1)",
        "Severity: warning",
        "Message: Metric error_rate is 0.15, past its threshold 0.1.",
        "🚨 ALERT: sudden spike in latency: 500",
        f"Severity: {spike.severity.value}",
        out[5],
    ]
    assert out[5].startswith("Message: z-score +") and spike.severity.value == "critical"
    # The warning is below HIGH; the critical spike is the one high-severity alert of the hour.
    assert out[6:] == ["High-severity alerts in last hour: 1"]
    assert [a.severity.value for a in ns["recent"]] == ["critical"]
