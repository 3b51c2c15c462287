"""Breakers back-tested: hand-computed cases, the recorded configuration reproduced, sweeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger import Ledger, ToolCalled, open_ledger
from projections import CircuitBreaker, CircuitBreakerConfig
from replay import BacktestConfig, BacktestError, BreakerSetting, Sweep, run_backtest
from tests.conftest import ManualClock

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def _tool_ledger(outcomes: str, gap_seconds: float = 10, tool: str = "api") -> Ledger:
    """A ledger of tool calls, one every ``gap_seconds`` from T0 (S: success, F: failure)."""
    ledger = open_ledger("memory://")
    ledger.append(
        [
            ToolCalled(
                tool=tool,
                success=o == "S",
                duration_ms=100.0 * (i + 1),
                workflow_id=f"wf-{i}",
                occurred_at=T0 + timedelta(seconds=gap_seconds * i),
            )
            for i, o in enumerate(outcomes)
        ]
    )
    return ledger


def _one(ledger: Ledger, **overrides: float) -> dict:
    result = run_backtest(ledger, BacktestConfig(breakers=(BreakerSetting("api", overrides),)))
    return result.to_json()["breakers"][0]


def test_three_failures_in_the_window_open_the_breaker_at_the_third_failure() -> None:
    # Calls at 0, 10, 20, …: S F F F F S S. With 3 failures in 60 s the breaker opens at the
    # third failure (t=30), refuses the calls at 40 (a failure) and 50 (a success); 30 s after
    # opening (t=60) it is half-open and the call at 60 is a successful probe.
    with _tool_ledger("SFFFFSS") as ledger:
        b = _one(ledger, failure_threshold=3, window_seconds=60, timeout_seconds=30)
    assert [(t["at"], t["from"], t["to"]) for t in b["transitions"]] == [
        ((T0 + timedelta(seconds=30)).isoformat(), "closed", "open"),
        ((T0 + timedelta(seconds=60)).isoformat(), "open", "half_open"),
    ]
    assert b["transitions"][0]["reason"] == "3 failures within 60s"
    assert (b["refused"], b["failures_avoided"], b["useful_lost"]) == (2, 1, 1)
    assert b["latency_saved_ms"] == 500.0  # the 5th call (index 4) took 500 ms
    assert (b["outages"], b["outages_detected"], b["detect_seconds"]) == (1, 1, [20.0])
    assert b["recorded_transitions"] == [] and b["same_as_recorded"] is False
    assert b["source"] == "tool" and b["calls"] == 7


def test_failures_outside_the_window_do_not_open_it() -> None:
    # Three failures 40 s apart: never three within 60 s.
    with _tool_ledger("FFF", gap_seconds=40) as ledger:
        b = _one(ledger, failure_threshold=3, window_seconds=60)
        assert b["opened"] == 0 and b["refused"] == 0
        assert b["outages"] == 1 and b["detect_seconds"] == [None]  # an outage it missed
        wider = _one(ledger, failure_threshold=3, window_seconds=100)
    assert wider["opened"] == 1 and wider["detect_seconds"] == [80.0]


def _recorded_breaker(config: CircuitBreakerConfig, script: str) -> tuple[Ledger, CircuitBreaker]:
    """A real breaker driven by ``script`` under a frozen clock: S/F a call with that outcome
    (asked first, refused when open), ``.`` 10 s pass."""
    clock = ManualClock(T0)
    ledger = open_ledger("memory://", clock=clock)
    breaker = CircuitBreaker("payments", config, ledger=ledger, clock=clock)
    for step in script:
        if step == ".":
            clock.advance(seconds=10)
            continue
        clock.advance(seconds=1)
        if breaker.can_execute():
            (breaker.record_success if step == "S" else breaker.record_failure)()
    return ledger, breaker


def _transitions(ledger: Ledger) -> list[tuple[str, str, str]]:
    return [
        (r.event.occurred_at.isoformat(), r.event.from_state, r.event.to_state)
        for r in ledger.read(types="CircuitTransitioned")
    ]


SCRIPTS = [
    "SFFFF..F..SS.S",
    "FFF....SFFF.......SSS..FFFFF...S.S",
    "SSFSFFSFFF...F......SF..FFFF",
]


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_recorded_configuration_reproduces_the_recorded_transitions(script: str) -> None:
    config = CircuitBreakerConfig(
        failure_threshold=3, success_threshold=2, timeout_seconds=25, window_seconds=30
    )
    ledger, _ = _recorded_breaker(config, script)
    recorded = _transitions(ledger)
    assert any(to == "open" for _, _, to in recorded)  # the script does exercise the breaker
    result = run_backtest(ledger, BacktestConfig(breakers=(BreakerSetting("payments"),)))
    (b,) = result.outcomes.breakers
    assert b.same_as_recorded
    assert [(x["at"], x["from"], x["to"]) for x in result.to_json()["breakers"][0]["transitions"]] == recorded
    rejected = sum(1 for r in ledger.read(types="BreakerCallRecorded") if r.event.outcome == "rejected")
    assert b.recorded_rejections == rejected and b.refused == rejected == b.refused_anyway
    # Another threshold is another history, not the recorded one.
    other = run_backtest(
        ledger, BacktestConfig(breakers=(BreakerSetting("payments", {"failure_threshold": 10}),))
    )
    assert not other.outcomes.breakers[0].same_as_recorded
    ledger.close()


def test_a_breaker_on_a_tool_decides_as_a_live_breaker_mirroring_that_tool() -> None:
    # A live breaker with tool= takes its outcomes from the ToolCalled events; the back-test of
    # the tool with the same thresholds makes the same transitions at the same times.
    with _tool_ledger("SFFFFSSFFFSSSS", gap_seconds=7) as ledger:
        config = CircuitBreakerConfig(failure_threshold=3, window_seconds=60, timeout_seconds=30)
        live = CircuitBreaker("api-guard", config, ledger=ledger, tool="api")
        live.status()  # mirrors every recorded call
        overrides = {"failure_threshold": 3, "window_seconds": 60, "timeout_seconds": 30}
        result = run_backtest(
            ledger, BacktestConfig(breakers=(BreakerSetting("api", overrides), BreakerSetting("api-guard")))
        )
        tool, mirrored = result.to_json()["breakers"]
        recorded = _transitions(ledger)
    assert recorded and mirrored["same_as_recorded"]
    assert [(t["at"], t["from"], t["to"]) for t in tool["transitions"]] == recorded


def test_a_sweep_gives_each_value_what_its_own_back_test_gives() -> None:
    with _tool_ledger("SFFSFFFSSFFFFSFSSSFFF", gap_seconds=5) as ledger:
        setting = BreakerSetting("api", {"window_seconds": 60, "timeout_seconds": 20})
        swept = run_backtest(
            ledger, BacktestConfig(breakers=(setting,), sweep=Sweep("failure_threshold", (2, 3, 4)))
        )
        rows = swept.to_json()["sweep"]["rows"]
        for row in rows:
            alone = _one(ledger, window_seconds=60, timeout_seconds=20, failure_threshold=row["value"])
            assert row["breakers.api.opened"] == alone["opened"]
            assert row["breakers.api.refused"] == alone["refused"]
            assert row["breakers.api.useful_lost"] == alone["useful_lost"]
    assert [r["breakers.api.opened"] for r in rows] != [rows[0]["breakers.api.opened"]] * 3  # they differ


def test_bad_breaker_input_is_named() -> None:
    with _tool_ledger("SF") as ledger:
        with pytest.raises(BacktestError, match=r"breaker 'nope'.*known: api") as info:
            run_backtest(ledger, BacktestConfig(breakers=(BreakerSetting("nope"),)))
        assert info.value.subject == "breaker" and info.value.known == ("api",)
        with pytest.raises(BacktestError, match="parameter 'colour'"):
            BreakerSetting("api", {"colour": 3})
        with pytest.raises(BacktestError, match="failure_threshold must be at least 1"):
            _one(ledger, failure_threshold=0)
        with pytest.raises(BacktestError, match=r"parameter 'failure_threshold=2.5'"):
            BreakerSetting("api", {"failure_threshold": 2.5})
        with pytest.raises(BacktestError, match=r"window .* holds no events"):
            run_backtest(
                ledger,
                BacktestConfig(breakers=(BreakerSetting("api"),)),
                since=T0 + timedelta(days=1),
            )
        with pytest.raises(BacktestError, match="sweeping a breaker parameter needs exactly one breaker"):
            run_backtest(
                ledger,
                BacktestConfig(
                    breakers=(BreakerSetting("api"), BreakerSetting("api")),
                    sweep=Sweep("failure_threshold", (2, 3)),
                ),
            )
        with pytest.raises(BacktestError, match="parameter 'limit'"):
            run_backtest(
                ledger, BacktestConfig(breakers=(BreakerSetting("api"),), sweep=Sweep("limit", (1,)))
            )
        with pytest.raises(BacktestError, match=r"^settings: nothing to back-test"):
            run_backtest(ledger, BacktestConfig())
