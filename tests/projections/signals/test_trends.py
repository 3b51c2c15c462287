"""Trend analysis: least squares ending at the newest observation, direction by polarity, breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from ledger import Ledger, StepRecorded
from projections import InsufficientDataError, ReliabilityProjection, TrendAnalyzer, TrendDirection
from projections.fold import fold_range
from projections.signals import reliability_series
from tests.conftest import ManualClock

START = datetime(2024, 6, 1, 0, 0, tzinfo=UTC)
"""Months before the hand clock's "now": analysis must not depend on the wall clock."""


@pytest.fixture
def analyzer(ledger: Ledger, clock: ManualClock) -> TrendAnalyzer:
    return TrendAnalyzer(ledger=ledger, clock=clock)


def hourly(analyzer: TrendAnalyzer, metric: str, values: list[float], start: datetime = START) -> None:
    for i, v in enumerate(values):
        analyzer.record_value(metric, v, start + timedelta(hours=i))


def test_a_flat_line_is_stable(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.97] * 20)

    trend = analyzer.analyze("success_rate")

    assert trend.direction is TrendDirection.STABLE
    assert trend.slope == pytest.approx(0)
    assert (trend.confidence, trend.current_value) == (1.0, 0.97)


def test_a_flat_line_of_zeros_is_stable(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "error_rate", [0.0] * 12)

    assert analyzer.analyze("error_rate").direction is TrendDirection.STABLE


def test_a_noisy_flat_series_is_volatile_and_a_slightly_noisy_one_stable(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "throughput", [100.0, 40.0] * 10)
    hourly(analyzer, "steady", [100.0, 99.0] * 10)

    noisy = analyzer.analyze("throughput")
    steady = analyzer.analyze("steady")

    assert noisy.direction is TrendDirection.VOLATILE
    assert noisy.confidence < 0.3
    assert steady.direction is TrendDirection.STABLE


def test_a_falling_success_rate_is_degrading_with_the_fit_of_numpy(analyzer: TrendAnalyzer) -> None:
    values = [0.99 - i * 0.005 + (0.002 if i % 3 == 0 else 0.0) for i in range(20)]
    hourly(analyzer, "success_rate", values)

    trend = analyzer.analyze("success_rate")

    slope, intercept = np.polyfit(np.arange(20.0), values, 1)
    fitted = np.polyval([slope, intercept], np.arange(20.0))
    r2 = 1 - ((np.array(values) - fitted) ** 2).sum() / ((np.array(values) - np.mean(values)) ** 2).sum()
    assert trend.direction is TrendDirection.DEGRADING
    assert trend.slope == pytest.approx(slope)
    assert trend.confidence == pytest.approx(r2)
    assert trend.predicted_value == pytest.approx(np.polyval([slope, intercept], 20.0))
    assert (trend.start, trend.end, trend.data_points) == (START, START + timedelta(hours=19), 20)


@pytest.mark.parametrize(
    ("metric", "step", "direction"),
    [
        ("p95_latency_ms", +5.0, TrendDirection.DEGRADING),
        ("p95_latency_ms", -5.0, TrendDirection.IMPROVING),
        ("tool_cost", +5.0, TrendDirection.DEGRADING),
        ("requests_served", +5.0, TrendDirection.IMPROVING),
        ("requests_served", -5.0, TrendDirection.DEGRADING),
    ],
)
def test_direction_follows_the_polarity_from_the_name(
    analyzer: TrendAnalyzer, metric: str, step: float, direction: TrendDirection
) -> None:
    hourly(analyzer, metric, [200.0 + step * i for i in range(12)])

    assert analyzer.analyze(metric).direction is direction


def test_an_explicit_polarity_wins_over_the_name(analyzer: TrendAnalyzer, ledger: Ledger) -> None:
    hourly(
        analyzer, "time_to_spare", [0.9 + 0.005 * i for i in range(12)]
    )  # the word "time" says lower is better
    assert analyzer.analyze("time_to_spare").direction is TrendDirection.DEGRADING

    assert (
        analyzer.analyze("time_to_spare", polarity="higher_is_better").direction is TrendDirection.IMPROVING
    )
    analyzer.record_value("time_to_spare", 0.96, START + timedelta(hours=12), polarity="higher_is_better")
    assert analyzer.analyze("time_to_spare").direction is TrendDirection.IMPROVING


def test_the_window_ends_at_the_newest_observation_not_the_clock(analyzer: TrendAnalyzer) -> None:
    # A week of flat history, then a fall in the last 24 hours; the clock is months later.
    hourly(analyzer, "success_rate", [0.99] * 144)
    hourly(analyzer, "success_rate", [0.99 - 0.01 * i for i in range(24)], START + timedelta(hours=144))

    trend = analyzer.analyze("success_rate")
    whole = analyzer.analyze("success_rate", lookback_hours=24 * 7)

    assert (trend.data_points, trend.direction) == (24, TrendDirection.DEGRADING)
    assert trend.slope == pytest.approx(-0.01)
    assert whole.data_points == 168
    assert whole.slope > trend.slope


def test_back_filled_values_are_kept_and_ordered_by_time(analyzer: TrendAnalyzer) -> None:
    recent = [0.95 - 0.01 * i for i in range(10, 20)]
    hourly(analyzer, "success_rate", recent, START + timedelta(hours=10))
    hourly(analyzer, "success_rate", [0.95 - 0.01 * i for i in range(10)])  # back-filled afterwards

    trend = analyzer.analyze("success_rate")

    assert trend.data_points == 20
    assert trend.slope == pytest.approx(-0.01)
    assert [t for t, _ in analyzer.points("success_rate")] == [START + timedelta(hours=i) for i in range(20)]


def test_naive_timestamps_are_utc(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.9] * 10, START.replace(tzinfo=None))

    assert analyzer.analyze("success_rate").end == START + timedelta(hours=9)


def test_forecast_gives_hourly_points_after_the_last_observation_from_the_same_fit(
    analyzer: TrendAnalyzer,
) -> None:
    hourly(analyzer, "latency", [100.0 + 2.0 * i for i in range(10)])

    forecast = analyzer.forecast("latency", hours_ahead=3)
    trend = analyzer.analyze("latency")

    end = START + timedelta(hours=9)
    assert [t for t, _ in forecast] == [end + timedelta(hours=h) for h in (1, 2, 3)]
    assert [v for _, v in forecast] == pytest.approx([120.0, 122.0, 124.0])
    assert forecast[0][1] == pytest.approx(trend.predicted_value)


def test_degradation_of_a_higher_is_better_metric_predicts_the_breach(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.99 - 0.001 * i for i in range(20)])  # 0.971 at hour 19

    breach = analyzer.detect_degradation("success_rate", threshold=0.95, forecast_hours=24)

    assert breach is not None
    assert breach["direction"] is TrendDirection.DEGRADING  # a 2-point slide in a day is no noise
    assert breach["hours_until_breach"] == pytest.approx(21.0)
    assert breach["breach_value"] == pytest.approx(0.95)
    assert breach["breach_time"] == START + timedelta(hours=40)
    assert breach["already_breached"] is False


def test_degradation_of_a_lower_is_better_metric_predicts_the_breach(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "latency_ms", [100.0 + 5.0 * i for i in range(12)])  # 155 at hour 11

    breach = analyzer.detect_degradation("latency_ms", threshold=250.0, forecast_hours=24)

    assert breach is not None
    assert breach["hours_until_breach"] == pytest.approx(19.0)
    assert breach["breach_value"] == pytest.approx(250.0)
    assert breach["breach_time"] == START + timedelta(hours=30)
    # Improving latency never breaches an upper limit.
    hourly(analyzer, "falling_latency_ms", [300.0 - 5.0 * i for i in range(12)])
    assert analyzer.detect_degradation("falling_latency_ms", threshold=250.0) is None


def test_a_breach_beyond_the_horizon_is_no_breach(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.99 - 0.001 * i for i in range(20)])

    assert analyzer.detect_degradation("success_rate", threshold=0.95, forecast_hours=20) is None


def test_a_fit_already_past_the_threshold_breaches_now(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.99 - 0.01 * i for i in range(20)])  # the guide's series

    breach = analyzer.detect_degradation("success_rate", threshold=0.90, forecast_hours=24)

    assert breach is not None
    assert (breach["hours_until_breach"], breach["already_breached"]) == (0.0, True)
    assert breach["breach_value"] == pytest.approx(0.80)
    assert breach["breach_time"] == START + timedelta(hours=19)


def test_not_enough_data_is_an_error_not_a_missing_breach(analyzer: TrendAnalyzer) -> None:
    hourly(analyzer, "success_rate", [0.99 - 0.01 * i for i in range(9)])

    with pytest.raises(InsufficientDataError, match="9 observation") as caught:
        analyzer.detect_degradation("success_rate", threshold=0.5)
    assert (caught.value.have, caught.value.need) == (9, 10)
    with pytest.raises(InsufficientDataError, match="0 observation"):
        analyzer.analyze("never_recorded")


def test_observations_all_at_one_time_cannot_make_a_trend(analyzer: TrendAnalyzer) -> None:
    for v in range(12):
        analyzer.record_value("burst", float(v), START)

    with pytest.raises(InsufficientDataError, match="all at one time"):
        analyzer.analyze("burst")


def steps_per_hour(ledger: Ledger, successes: list[int], per_hour: int = 10) -> None:
    events = []
    for hour, ok in enumerate(successes):
        for k in range(per_hour):
            at = START + timedelta(hours=hour, minutes=5 * k)
            events.append(StepRecorded(agent="a", success=k < ok, occurred_at=at))
    ledger.append(events)


def test_an_hourly_svr_series_comes_from_the_reliability_projection(
    ledger: Ledger, analyzer: TrendAnalyzer
) -> None:
    successes = [10, 10, 10, 9, 10, 9, 9, 8, 9, 8, 8, 7]
    steps_per_hour(ledger, successes)
    projection = ReliabilityProjection()
    fold_range(ledger, [projection])

    points = reliability_series(projection, "svr", hours=12)

    assert points == [(START + timedelta(hours=h + 1), ok / 10) for h, ok in enumerate(successes)]
    analyzer.load_reliability_series(projection, "svr", hours=12)
    trend = analyzer.analyze("svr")
    assert trend.direction is TrendDirection.DEGRADING
    breach = analyzer.detect_degradation("svr", threshold=0.6, forecast_hours=48)
    assert breach is not None
    assert breach["breach_time"] > START + timedelta(hours=12)


def test_hours_without_data_are_left_out_of_a_built_in_series(ledger: Ledger) -> None:
    steps_per_hour(ledger, [10, 5])
    ledger.append(StepRecorded(agent="a", success=True, occurred_at=START + timedelta(hours=5)))
    projection = ReliabilityProjection()
    fold_range(ledger, [projection])

    points = reliability_series(projection, "svr", hours=6)

    assert points == [
        (START + timedelta(hours=1), 1.0),
        (START + timedelta(hours=2), 0.5),
        (START + timedelta(hours=6), 1.0),
    ]
    assert reliability_series(ReliabilityProjection(), "svr") == []
    with pytest.raises(ValueError, match="unknown built-in"):
        reliability_series(projection, "nps")


@pytest.mark.parametrize(
    ("name", "polarity"),
    [
        ("p95_latency_ms", "lower_is_better"),
        ("errors", "lower_is_better"),
        ("failure_rate", "lower_is_better"),
        ("toolLatencyMs", "lower_is_better"),
        ("response_time", "lower_is_better"),
        ("uptime", "higher_is_better"),
        ("error_free_rate", "higher_is_better"),
        ("cost_savings", "higher_is_better"),
        ("timeliness_score", "higher_is_better"),
        ("throughput", "higher_is_better"),
    ],
)
def test_a_metrics_polarity_follows_the_words_of_its_name(name: str, polarity: str) -> None:
    from projections.signals import polarity_of

    assert polarity_of(name) == polarity
