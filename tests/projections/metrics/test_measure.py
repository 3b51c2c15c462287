"""An unmeasured metric prints as "n/a", stays out of verdicts and refuses to act as a number."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from ledger import open_ledger
from projections import ReliabilityMetrics, SLOTracker
from projections.metrics import Measure, MetricsReport, UnmeasuredError, value_of


def test_the_guides_print_lines_work_on_a_report_with_no_data() -> None:
    with open_ledger("memory://") as ledger:
        report = asyncio.run(ReliabilityMetrics(ledger=ledger).get_report())
        slo = asyncio.run(SLOTracker(ledger=ledger).get_report())

    assert f"SVR: {report.svr:.2%} MA: {report.ma:.2%} PC: {report.pc:.1f}" == "SVR: n/a MA: n/a PC: n/a"
    assert f"RSR: {slo.rsr:.1%}" == "RSR: n/a"
    # Nothing measured is no verdict (docs/semantics.md): not healthy, and no violations either.
    assert report.health is None and not report.is_healthy() and report.get_violations() == []
    assert report.insufficient_data == ["svr", "cr", "pc", "hir", "ma"]
    assert not report.tcl  # the guide's `if report.tcl:` skips an unmeasured latency


def test_an_unmeasured_metric_is_null_in_json_and_equals_none() -> None:
    report = MetricsReport(svr=None, cr=0.25, pc=None, hir=None, ma=None, tcl=None, wct=None)

    data = orjson.loads(report.model_dump_json())
    assert data["svr"] is None and data["cr"] == 0.25 and report.model_dump()["svr"] is None
    assert report.svr == None  # noqa: E711 - what a caller checking for "no value" writes
    assert report.svr == Measure(None) and report.svr not in {0.0, 1.0}
    assert MetricsReport.model_validate_json(report.model_dump_json()) == report
    assert value_of(report.svr) is None and value_of(report.cr) == 0.25


@pytest.mark.parametrize(
    "use",
    [
        lambda m: m > 0.9,
        lambda m: m <= 0.1,
        lambda m: 1.0 - m,
        lambda m: m * 100,
        float,
        lambda m: round(m, 2),
    ],
)
def test_an_unmeasured_metric_refuses_comparison_and_arithmetic(use: object) -> None:
    with pytest.raises(UnmeasuredError, match="no observations"):
        use(Measure(None))  # type: ignore[operator]


def test_a_measured_metric_is_its_float() -> None:
    m = Measure(0.5)

    assert m.measured and m == 0.5 and m == pytest.approx(0.5) and 1.0 - m == 0.5 and m > 0.4
    assert f"{m:.2%}" == "50.00%" and str(m) == "0.5" and value_of(m) == 0.5
