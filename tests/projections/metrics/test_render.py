"""Plain-text rendering of reports: no data never crashes, and the numbers and verdicts show."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from decimal import Decimal

from ledger import Ledger
from projections import CostBudget, CostTracker, ReliabilityMetrics, SLOTracker
from projections.metrics.render import render_costs, render_metrics, render_slo
from tests.conftest import ManualClock
from tests.projections.support import completed, step


def has_row(text: str, *cells: str) -> bool:
    """True when a line of ``text`` holds exactly these table cells, however padded."""
    pattern = r"\s+".join(re.escape(c) for c in cells)
    return re.search(rf"^{pattern}$", text, flags=re.MULTILINE) is not None


def test_reports_with_no_data_render_as_no_data(
    metrics: ReliabilityMetrics, slo: SLOTracker, tracker: CostTracker
) -> None:
    text = "\n".join(
        [render_metrics(metrics.report()), render_slo(slo.report()), render_costs(tracker.report())]
    )

    assert has_row(text, "SVR", "no data", ">95%", "no data")
    assert "Health: NO DATA" in text and "HEALTHY" not in text
    assert "(no data: SVR, CR, PC, HIR, MA)" in text
    assert "MTTE p95 no data (target <= 300s): compliant (no data)" in text
    assert "RSR no data (target >= 99%): compliant (no data)" in text
    assert "total 0.0000 USD; per workflow no data over 0" in text


def test_a_report_with_violations_renders_its_values_verdicts_and_agents(
    ledger: Ledger, metrics: ReliabilityMetrics
) -> None:
    ledger.append(
        [step("alpha", success=i != 0, minute=i) for i in range(10)] + [completed("wf", 20, total_retries=3)]
    )

    text = render_metrics(metrics.report())

    assert has_row(text, "SVR", "90.00%", ">95%", "VIOLATION")
    assert has_row(text, "CR", "0.00%", "<10%", "ok")
    assert has_row(text, "PC", "3.00", "<2", "VIOLATION")
    assert "Health: UNHEALTHY" in text
    assert "  - SVR too low: 90.00% (target >95%)" in text
    assert "  - PC too high: 3.00 (target <2)" in text
    assert "(no data: MA)" in text
    assert has_row(text, "alpha", "10", "90.00%", "0.00%", "no data", "no data")


def test_costs_render_unpriced_usage_and_budgets(tracker: CostTracker, clock: ManualClock) -> None:
    tracker.set_budget(CostBudget("daily", Decimal("0.05"), 24))
    hour_ago = clock() - timedelta(hours=1)
    tracker.record_llm_cost("a", 1000, 500, "gpt-4", "wf", occurred_at=hour_ago)
    tracker.record_llm_cost("a", 300, 200, "mystery-model", "wf", occurred_at=hour_ago)

    text = render_costs(tracker.report())

    assert "total 0.0600 USD" in text
    assert "unpriced: 500 tokens of mystery-model (cost unknown; add a price to count them)" in text
    assert "EXCEEDED: total: spent 0.06000 > limit 0.05" in text


def test_a_sub_millisecond_duration_is_not_rendered_as_zero() -> None:
    from projections.metrics.render import _ms

    assert _ms(0.4) == "0.4 ms"
    assert _ms(9.96) == "10.0 ms"
    assert _ms(337.2) == "337 ms"
    assert _ms(None) == "no data"


def test_a_fast_explanation_is_rendered_in_milliseconds(slo: SLOTracker) -> None:
    asyncio.run(slo.record_mtte(thread_id="wf-1", duration_ms=0.4))
    text = render_slo(slo.report())

    assert "MTTE p95 0.4 ms (target <= 300s)" in text


def test_an_amount_for_people_is_never_a_non_zero_amount_shown_as_zero() -> None:
    from projections.metrics import format_amount

    assert format_amount(Decimal("0.000039")) == "0.000039"
    assert format_amount(Decimal("-0.000015"), sign=True) == "-0.000015"
    assert format_amount(Decimal("0.1998")) == "0.1998"
    assert format_amount(Decimal("1234.5")) == "1,234.5000"
    assert format_amount(Decimal("0E-9")) == "0.0000"
    assert format_amount(Decimal("0.00012"), sign=True) == "+0.0001"


def test_a_tool_call_under_a_tenth_of_a_millisecond_keeps_its_digits() -> None:
    from projections.metrics.render import _ms

    assert _ms(0.029) == "0.029 ms"
    assert _ms(0.0) == "0.0 ms"


def test_a_tiny_amount_shows_its_digits_without_padding() -> None:
    from projections.metrics import format_amount

    assert format_amount(Decimal("0.000000001")) == "0.000000001"
    assert format_amount(Decimal("0.0000391234")) == "0.000039"


def test_the_rsr_line_counts_only_the_modes_rsr_counts(slo: SLOTracker) -> None:
    # A counterfactual replay is an experiment: listed by mode, never in the count RSR is over.
    asyncio.run(slo.record_rsr("w1", replay_mode="strict", success=True))
    asyncio.run(slo.record_rsr("w2", replay_mode="simulated", success=False))
    asyncio.run(slo.record_rsr("w3", replay_mode="counterfactual", success=True))

    line = next(x for x in render_slo(slo.report()).splitlines() if "RSR" in x)

    assert "RSR 50.00% (target >= 99%): VIOLATION; over 2 strict/simulated replay(s) of 3 (" in line
    assert "counterfactual 100.00% of 1, not counted" in line
    assert "strict 100.00% of 1," in line and "simulated 0.00% of 1," in line
