"""The guide's "Circuit Breakers" blocks, run as written; ``call_external_api`` is the test's."""

from __future__ import annotations

from typing import Any

import pytest

from tests.reliability.guide import block, run

SECTION = "Circuit Breakers"


def test_basic_breaker_and_registry(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []
    ns: dict[str, Any] = {"call_external_api": lambda: calls.append("called") or {"ok": True}}
    run(block(SECTION, "Basic Circuit Breaker"), ns)
    assert calls == ["called"] and ns["result"] == {"ok": True}
    assert capsys.readouterr().out.splitlines() == ["Circuit closed - operating normally"]

    run(block(SECTION, "Circuit Breaker Registry"), ns)
    assert capsys.readouterr().out.splitlines() == [
        "database: closed",
        "external_api: closed",
        "redis_cache: closed",
    ]
    assert ns["open_circuits"] == []


def test_a_failing_call_is_recorded_and_printed(capsys: pytest.CaptureFixture[str]) -> None:
    def call_external_api() -> None:
        raise ConnectionError("refused")

    ns: dict[str, Any] = {"call_external_api": call_external_api}
    run(block(SECTION, "Basic Circuit Breaker"), ns)
    # One failure of the five the breaker tolerates: it stays closed.
    assert capsys.readouterr().out.splitlines() == [
        "API call failed: refused",
        "Circuit closed - operating normally",
    ]
    assert ns["breaker"].status().failures == 1
