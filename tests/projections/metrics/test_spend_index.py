"""Bucketed spend (``projections.metrics.spend_index``) equals a full re-scan, to the last digit.

Random cost rows (times out of order, several currencies, categories and agents, unpriced ones)
and random windows, including windows cut inside a second, windows of one side only and none.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from projections import CostProjection

T0 = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z in microseconds
SPAN = 3 * 86_400 * 1_000_000  # three days: every bucket level is crossed

cost_rows = st.lists(
    st.tuples(
        st.integers(0, SPAN),  # time offset (us)
        st.sampled_from(["USD", "EUR"]),
        st.sampled_from([None, "llm", "tool"]),
        st.sampled_from([None, "a", "b"]),
        st.one_of(st.none(), st.decimals("0", "50", places=6)),  # None: unpriced
    ),
    max_size=60,
)
bound = st.one_of(st.none(), st.integers(-1_000_000, SPAN + 1_000_000))


def fold(rows: list[tuple[int, str, str | None, str | None, Decimal | None]]) -> CostProjection:
    """A cost projection that folded ``rows`` (offset order = list order, times in any order)."""
    p = CostProjection()
    for offset, (dt, currency, category, agent, amount) in enumerate(rows, start=1):
        event = {
            "type": "CostIncurred",
            "occurred_at": f"{T0 + dt}",
            "agent": agent,
            "category": category,
            "currency": currency,
            "amount": None if amount is None else str(amount),
            "status": "unpriced" if amount is None else "priced",
        }
        p._cost(T0 + dt, p.decoded("CostIncurred", event))
        p.advance_to(offset)
    return p


def rescan(
    rows: list[tuple[int, str, str | None, str | None, Decimal | None]],
    currency: str,
    since: int | None,
    until: int | None,
    category: str | None,
    agent: str | None,
) -> Decimal:
    """The spend by adding up every matching row."""
    total = Decimal(0)
    for dt, cur, cat, ag, amount in rows:
        t = T0 + dt
        if amount is None or cur != currency:
            continue
        if (since is not None and t < since) or (until is not None and t >= until):
            continue
        if category is not None and (cat or "llm") != category:
            continue
        if agent is not None and ag != agent:
            continue
        total += amount
    return total


@settings(max_examples=150, deadline=None)
@given(
    rows=cost_rows,
    windows=st.lists(st.tuples(bound, bound), min_size=1, max_size=6),
    currency=st.sampled_from(["USD", "EUR", "GBP"]),
    category=st.sampled_from([None, "llm", "tool", "other"]),
    agent=st.sampled_from([None, "a", "b", "c"]),
)
def test_bucketed_spend_is_the_rescan(
    rows: list[tuple[int, str, str | None, str | None, Decimal | None]],
    windows: list[tuple[int | None, int | None]],
    currency: str,
    category: str | None,
    agent: str | None,
) -> None:
    p = fold(rows)
    for lo, hi in windows:
        since = None if lo is None else T0 + lo
        until = None if hi is None else T0 + hi
        got = p.spend(currency=currency, since_us=since, until_us=until, category=category, agent=agent)
        want = rescan(rows, currency, since, until, category, agent)
        assert str(got) == str(want), (got, want)  # the same digits, the same exponent


@settings(max_examples=60, deadline=None)
@given(first=cost_rows, later=cost_rows, window=st.tuples(bound, bound))
def test_the_index_catches_up_with_rows_folded_after_a_query(
    first: list[tuple[int, str, str | None, str | None, Decimal | None]],
    later: list[tuple[int, str, str | None, str | None, Decimal | None]],
    window: tuple[int | None, int | None],
) -> None:
    p = fold(first)
    since = None if window[0] is None else T0 + window[0]
    until = None if window[1] is None else T0 + window[1]
    assert p.spend(since_us=since, until_us=until) == rescan(first, "USD", since, until, None, None)
    whole = fold(first + later)  # the same rows folded at once ...
    for offset, row in enumerate(later, start=len(first) + 1):  # ... and after the first query
        dt, currency, category, agent, amount = row
        event = {
            "type": "CostIncurred",
            "occurred_at": f"{T0 + dt}",
            "agent": agent,
            "category": category,
            "currency": currency,
            "amount": None if amount is None else str(amount),
            "status": "unpriced" if amount is None else "priced",
        }
        p._cost(T0 + dt, p.decoded("CostIncurred", event))
        p.advance_to(offset)
    want = rescan(first + later, "USD", since, until, None, None)
    assert p.spend(since_us=since, until_us=until) == want == whole.spend(since_us=since, until_us=until)


def test_a_window_inside_one_second_and_at_its_edges() -> None:
    rows = [(5_000_100, "USD", None, "a", Decimal("1.5")), (5_999_999, "USD", None, "a", Decimal("0.25"))]
    p = fold(rows)
    assert p.spend(since_us=T0 + 5_000_100, until_us=T0 + 5_000_101) == Decimal("1.5")
    assert p.spend(since_us=T0 + 5_000_101, until_us=T0 + 5_999_999) == 0
    assert p.spend(since_us=T0 + 5_000_000, until_us=T0 + 6_000_000) == Decimal("1.75")
    assert p.spend(since_us=T0 + 5_999_999, until_us=None, agent="a") == Decimal("0.25")
