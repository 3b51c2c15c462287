"""The guide's "Mode Enforcement" blocks, run as written, sharing one enforcer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.guide import block, run

SECTION = "Mode Enforcement"


def test_modes_validation_and_rules(capsys: pytest.CaptureFixture[str]) -> None:
    writes: list[str] = []
    ns: dict[str, Any] = {"execute_write": lambda: writes.append("write")}
    run(block(SECTION, "Agent Modes"), ns)
    run(block(SECTION, "Validate Actions"), ns)

    (violation,) = ns["violations"]
    assert writes == []  # an explorer may not write
    assert capsys.readouterr().out.splitlines() == [
        "✗ Action blocked - agent in EXPLORE mode",
        f"Violation: database_write at {violation.timestamp}",
    ]
    assert violation.attempted_action == "database_write"

    run(block(SECTION, "Mode Rules"), ns)  # registers the approval callback; nothing is asked yet
    assert capsys.readouterr().out == ""
