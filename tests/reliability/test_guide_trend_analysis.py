"""The guide's "Trend Analysis" blocks, run as written, sharing one analyzer."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest

from tests.reliability.guide import block, run

SECTION = "Trend Analysis"


def test_detect_forecast_and_predict(capsys: pytest.CaptureFixture[str]) -> None:
    ns: dict[str, Any] = {}
    run(block(SECTION, "Detect Trends"), ns)
    values = [0.99 - i * 0.01 for i in range(20)]  # what the block records, one an hour
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "⚠️ Success rate degrading!",
        f"  Slope: {ns['trend'].slope}",
        "  Confidence: 100.00%",
        f"  Current: {values[-1]:.2%}",
        f"  Predicted next: {values[-1] - 0.01:.2%}",
    ]
    assert ns["trend"].slope == pytest.approx(-0.01)

    run(block(SECTION, "Forecast Values"), ns)
    last = ns["base_time"].replace(tzinfo=UTC) + timedelta(hours=19)
    assert capsys.readouterr().out.splitlines() == [
        f"{last + timedelta(hours=h)}: {values[-1] - 0.01 * h:.2%}" for h in range(1, 25)
    ]

    run(block(SECTION, "Predict Degradation"), ns)
    # The newest value (80 %) is already below the 90 % threshold: breached now, at that value.
    assert capsys.readouterr().out.splitlines() == [
        "⚠️ Will breach threshold in 0.0 hours",
        f"Breach value: {values[-1]:.2%}",
    ]
    assert ns["degradation"]["already_breached"] is True
