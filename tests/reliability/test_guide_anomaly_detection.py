"""The guide's "Anomaly Detection" blocks, run as written, sharing one detector."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.guide import block, run

SECTION = "Anomaly Detection"


def test_threshold_and_statistical_detection(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(block(SECTION, "Threshold-Based Detection"), ns)
    # 0.05 errors and 0.98 successes are within their thresholds: nothing to print.
    assert ns["anomalies"] == [] and capsys.readouterr().out == ""

    run(block(SECTION, "Statistical Detection"), ns)
    latencies = [v for v in range(100, 120)]
    mean = sum(latencies) / len(latencies)
    assert capsys.readouterr().out.splitlines() == ["Detected 1 latency spikes"]
    (spike,) = ns["spikes"]
    assert (spike.metric_name, spike.current_value, spike.expected_value) == ("latency", 500, mean)
