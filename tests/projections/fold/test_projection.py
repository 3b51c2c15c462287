"""Projections are deterministic folds: in pieces, at once, resumed from bytes or as of an offset.

Histories are realistic interleaved traffic from :func:`ledger.workload.generate` with SLO,
budget and completion events mixed in at random places; split points are random. Whatever the
split, the state digest and the report are identical to folding everything at once.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger import (
    BudgetBreached,
    BudgetReservationReleased,
    BudgetReserved,
    ExplanationRecorded,
    Ledger,
    LedgerEvent,
    ReplayAttempted,
    StepRecorded,
    WorkflowCompleted,
    open_ledger,
)
from ledger.backends.base import SavedView
from ledger.workload import generate
from projections import (
    CORE_PROJECTIONS,
    CostProjection,
    CostTracker,
    Projection,
    ReliabilityMetrics,
    ReliabilityProjection,
    SLOProjection,
    SLOTracker,
    load_stored,
)
from projections.fold import fold_range
from projections.fold.columns import Table
from projections.fold.projection import Handler, fold_together

LATER = datetime(2030, 1, 1, tzinfo=UTC)
"""A clock after every generated event, so "now" never cuts a history short."""

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

moments = st.datetimes(
    min_value=datetime(2025, 12, 31), max_value=datetime(2026, 1, 2), timezones=st.just(UTC)
)
reservation_ids = st.sampled_from([UUID(int=i) for i in range(1, 6)])
money = st.decimals(min_value=0, max_value=100, places=2)
workflows = st.sampled_from(["wf-x", "wf-y", None])

extra_events: st.SearchStrategy[LedgerEvent] = st.one_of(
    st.builds(
        ExplanationRecorded,
        workflow_id=workflows,
        duration_ms=st.floats(min_value=0, max_value=1e6),
        success=st.booleans(),
        occurred_at=moments,
    ),
    st.builds(
        ReplayAttempted,
        workflow_id=workflows,
        replay_mode=st.sampled_from(["strict", "simulated", "counterfactual"]),
        success=st.booleans(),
        occurred_at=moments,
    ),
    st.builds(
        BudgetReserved,
        budget=st.sampled_from(["b1", "b2"]),
        reservation_id=reservation_ids,
        amount=money,
        category=st.sampled_from([None, "llm"]),
        expires_at=st.none() | moments,
        occurred_at=moments,
    ),
    st.builds(
        BudgetReservationReleased,
        budget=st.sampled_from(["b1", "b2"]),
        reservation_id=reservation_ids,
        occurred_at=moments,
    ),
    st.builds(BudgetBreached, budget=st.just("b1"), limit=money, spend=money, occurred_at=moments),
    st.builds(
        WorkflowCompleted,
        workflow_id=workflows,
        success=st.booleans(),
        total_retries=st.none() | st.integers(0, 5),
        required_human=st.booleans(),
        occurred_at=moments,
    ),
)


@st.composite
def histories(draw: st.DrawFn) -> list[LedgerEvent]:
    """Generated agent traffic (few concurrent workflows, so many complete) plus extra events."""
    events: list[LedgerEvent] = list(
        generate(
            draw(st.integers(0, 250)),
            seed=draw(st.integers(0, 2**32 - 1)),
            active_workflows=draw(st.integers(1, 6)),
        )
    )
    for extra in draw(st.lists(extra_events, max_size=15)):
        events.insert(draw(st.integers(0, len(events))), extra)
    return events


def ledger_with(events: list[LedgerEvent]) -> Ledger:
    ledger = open_ledger("memory://")
    if events:
        ledger.append(events)
    return ledger


def report_of(projection: Projection) -> Any:
    assert isinstance(projection, ReliabilityProjection | SLOProjection | CostProjection)
    return projection.report()


def folded(ledger: Ledger, projection_type: type[Projection], **options: Any) -> Projection:
    projection = projection_type()
    fold_range(ledger, [projection], **options)
    return projection


# -- incremental = batch ------------------------------------------------------------------------


@PROPERTY
@given(
    events=histories(),
    splits=st.lists(st.integers(0, 300), max_size=6),
    page_size=st.integers(1, 64),
)
def test_folding_in_pieces_equals_folding_at_once(
    events: list[LedgerEvent], splits: list[int], page_size: int
) -> None:
    with ledger_with(events) as ledger:
        for projection_type in CORE_PROJECTIONS:
            at_once = folded(ledger, projection_type)
            pieces = projection_type()
            for split in sorted(splits):
                k = min(split, len(events))
                fold_range(ledger, [pieces], through=k, page_size=page_size)
                # Reports along the way (reports may keep incremental caches) are right too.
                assert report_of(pieces) == report_of(folded(ledger, projection_type, through=k))
            fold_range(ledger, [pieces], page_size=page_size)

            assert pieces.position == at_once.position == len(events)
            assert pieces.digest() == at_once.digest()
            assert report_of(pieces) == report_of(at_once)


EVERYTHING = {"since_us": -(2**62), "until_us": 2**62}


@PROPERTY
@given(events=histories(), splits=st.lists(st.integers(0, 300), max_size=4))
def test_the_all_time_report_equals_a_window_covering_everything(
    events: list[LedgerEvent], splits: list[int]
) -> None:
    with ledger_with(events) as ledger:
        for projection_type in CORE_PROJECTIONS:
            projection = projection_type()
            for split in [*sorted(splits), len(events)]:
                fold_range(ledger, [projection], through=min(split, len(events)))
                everything = projection.report(**EVERYTHING)  # type: ignore[attr-defined]
                assert report_of(projection) == everything


@PROPERTY
@given(events=histories(), split=st.integers(0, 300))
def test_resuming_from_stored_bytes_equals_folding_at_once(events: list[LedgerEvent], split: int) -> None:
    with ledger_with(events) as ledger:
        for projection_type in CORE_PROJECTIONS:
            first_part = folded(ledger, projection_type, through=min(split, len(events)))
            resumed = projection_type.from_bytes(first_part.to_bytes())
            assert resumed is not None
            fold_range(ledger, [resumed])

            at_once = folded(ledger, projection_type)
            assert resumed.digest() == at_once.digest()
            assert report_of(resumed) == report_of(at_once)


@PROPERTY
@given(events=histories())
def test_folding_event_by_event_equals_folding_rows_and_refolding_changes_nothing(
    events: list[LedgerEvent],
) -> None:
    with ledger_with(events) as ledger:
        rows = list(ledger.scan())
        assert [row[0] for row in rows] == list(range(1, len(events) + 1))
        for projection_type in CORE_PROJECTIONS:
            one_by_one = projection_type()
            for offset, _, _, state in rows:
                one_by_one.fold(offset, orjson.loads(state))
            by_rows = projection_type()
            by_rows.fold_rows(rows)
            digest = by_rows.digest()

            by_rows.fold_rows(rows)  # already folded: skipped
            for offset, _, _, state in rows:
                by_rows.fold(offset, orjson.loads(state))

            assert one_by_one.digest() == digest == by_rows.digest()
            assert report_of(one_by_one) == report_of(by_rows)


@PROPERTY
@given(events=histories(), splits=st.lists(st.integers(0, 300), min_size=3, max_size=3))
def test_projections_at_different_positions_folded_together_each_equal_folding_alone(
    events: list[LedgerEvent], splits: list[int]
) -> None:
    with ledger_with(events) as ledger:
        together = [
            folded(ledger, projection_type, through=min(split, len(events)))
            for projection_type, split in zip(CORE_PROJECTIONS, splits, strict=True)
        ]

        fold_range(ledger, together, page_size=7)

        for projection in together:
            alone = folded(ledger, type(projection))
            assert projection.position == len(events)
            assert projection.digest() == alone.digest()
            assert report_of(projection) == report_of(alone)


@PROPERTY
@given(events=histories(), split=st.integers(0, 300), start=st.integers(0, 300))
def test_folding_a_page_that_overlaps_what_was_folded_skips_the_overlap(
    events: list[LedgerEvent], split: int, start: int
) -> None:
    # All projections at one position, handed rows from an earlier offset: the rows at or
    # before the position must not be folded twice.
    with ledger_with(events) as ledger:
        rows = list(ledger.scan())
        position = min(split, len(events))
        together = [folded(ledger, t, through=position) for t in CORE_PROJECTIONS]

        fold_together(together, rows[min(start, position) :])

        for projection in together:
            alone = folded(ledger, type(projection))
            assert projection.digest() == alone.digest()
            assert report_of(projection) == report_of(alone)


# -- as of ----------------------------------------------------------------------------------------

FACADES: list[Callable[[Ledger], ReliabilityMetrics | SLOTracker | CostTracker]] = [
    lambda ledger: ReliabilityMetrics(ledger=ledger, clock=lambda: LATER),
    lambda ledger: SLOTracker(ledger=ledger, clock=lambda: LATER),
    lambda ledger: CostTracker(ledger=ledger, clock=lambda: LATER),
]


@PROPERTY
@given(events=histories(), cut=st.integers(0, 300))
def test_report_as_of_an_offset_equals_a_fresh_fold_of_only_the_events_up_to_it(
    events: list[LedgerEvent], cut: int
) -> None:
    k = min(cut, len(events))
    with ledger_with(events) as full, ledger_with(events[:k]) as prefix:
        for make in FACADES:
            facade = make(full)
            facade.report()  # the facade's own projection is past k already
            as_of = facade.report(as_of=k)

            assert as_of == make(prefix).report()
            assert as_of.as_of_offset == k


def test_report_as_of_leaves_the_current_report_alone(ledger: Ledger, metrics: ReliabilityMetrics) -> None:
    ledger.append([StepRecorded(agent="a", success=True, occurred_at=LATER.replace(year=2024))])
    ledger.append([StepRecorded(agent="a", success=False, occurred_at=LATER.replace(year=2024))])

    assert metrics.report(as_of=1).svr == 1.0
    assert metrics.report().svr == 0.5
    assert metrics.report(as_of=1).total_steps == 1


# -- stored state ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2])
def test_state_round_trips_through_bytes_with_its_digest_report_and_position(seed: int) -> None:
    with ledger_with(list(generate(400, seed=seed, active_workflows=4))) as ledger:
        for projection_type in CORE_PROJECTIONS:
            original = folded(ledger, projection_type)

            restored = projection_type.from_bytes(original.to_bytes())

            assert restored is not None
            assert restored.position == original.position == 400
            assert restored.digest() == original.digest()
            assert report_of(restored) == report_of(original)
            assert restored.to_bytes() == original.to_bytes()


def test_a_generated_history_has_something_in_every_projection() -> None:
    # Guards the properties above against folding nothing: generated traffic fills the folds.
    with ledger_with(list(generate(400, seed=1, active_workflows=4))) as ledger:
        reliability = folded(ledger, ReliabilityProjection).report()  # type: ignore[attr-defined]
        costs = folded(ledger, CostProjection).report()  # type: ignore[attr-defined]

    assert reliability.total_steps > 0
    assert reliability.total_workflows > 0
    assert reliability.tool_calls > 0
    assert costs.total_cost > Decimal(0)
    assert costs.unpriced_events > 0


def test_bytes_of_another_projection_are_not_loaded() -> None:
    assert ReliabilityProjection.from_bytes(CostProjection().to_bytes()) is None
    assert SLOProjection.from_bytes(ReliabilityProjection().to_bytes()) is None


class ReliabilityV2(ReliabilityProjection):
    """The same projection with a changed state layout."""

    version = ReliabilityProjection.version + 1


def test_a_stored_state_of_another_version_is_discarded(ledger: Ledger) -> None:
    ledger.append(list(generate(200, seed=3, active_workflows=3)))
    old = folded(ledger, ReliabilityProjection)
    ledger.backend.save_view(SavedView(old.name, old.position, old.to_bytes(), old.digest(), LATER))

    same_version = load_stored(ledger, ReliabilityProjection)
    newer = load_stored(ledger, ReliabilityV2)

    assert same_version.position == 200
    assert same_version.digest() == old.digest()
    assert isinstance(newer, ReliabilityV2)
    assert newer.position == 0
    assert newer.digest() == ReliabilityV2().digest()


def test_a_facade_over_a_stale_stored_state_rebuilds_from_the_events(ledger: Ledger) -> None:
    ledger.append([StepRecorded(agent="a", success=True, occurred_at=LATER.replace(year=2024))])
    old = folded(ledger, ReliabilityProjection)
    ledger.backend.save_view(SavedView(old.name, 1, old.to_bytes(), old.digest(), LATER))
    ledger.append([StepRecorded(agent="a", success=False, occurred_at=LATER.replace(year=2024))])

    class MetricsV2(ReliabilityMetrics):
        projection_type = ReliabilityV2

    report = MetricsV2(ledger=ledger, clock=lambda: LATER).report()

    assert report.total_steps == 2
    assert report.svr == 0.5


def test_the_digest_ignores_events_a_projection_does_not_fold() -> None:
    with ledger_with(list(generate(60, seed=5, active_workflows=2))) as ledger:
        slo = folded(ledger, SLOProjection)  # generated traffic has no SLO events

        assert slo.position == 60
        assert slo.digest() == SLOProjection().digest()


@PROPERTY
@given(events=histories(), flush_rows=st.integers(1, 40))
def test_moving_pending_rows_into_columns_early_changes_nothing(
    events: list[LedgerEvent], flush_rows: int
) -> None:
    # Tables flush pending rows every FLUSH_ROWS (memory); where the flushes fall must not
    # change a state, its digest or its report.
    with ledger_with(events) as ledger:
        reference = {t.name: folded(ledger, t) for t in CORE_PROJECTIONS}
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Table, "FLUSH_ROWS", flush_rows)
            chunked = {t.name: folded(ledger, t) for t in CORE_PROJECTIONS}
            tables = [v for p in chunked.values() for v in vars(p).values() if isinstance(v, Table)]
            assert tables
            # The bound held while folding (rows wait in the private list until a flush).
            assert all(len(t._rows) < flush_rows for t in tables)
        for name, projection in chunked.items():
            assert projection.digest() == reference[name].digest()
            assert report_of(projection) == report_of(reference[name])


class StepsByAgent(Projection):
    """A test projection that reads steps as plain dicts (the default decoding)."""

    name = "steps-by-agent"

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def _handlers(self) -> dict[str, Handler]:
        return {"StepRecorded": self._step, "ToolCalled": self._step}

    def _step(self, t: int, e: dict[str, Any]) -> None:
        assert isinstance(e, dict)
        key = f"{e['type']}:{e.get('agent')}"
        self.counts[key] = self.counts.get(key, 0) + 1

    def dump(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return {"counts": self.counts}, {}

    def load(self, meta: dict[str, Any], arrays: dict[str, Any]) -> None:
        self.counts = dict(meta["counts"])


@PROPERTY
@given(events=histories())
def test_projections_wanting_different_decodings_of_a_type_each_get_theirs(
    events: list[LedgerEvent],
) -> None:
    # The reliability fold reads steps and tool calls as typed structs, this one as dicts:
    # folded together, each must equal folding alone. (What the struct handlers compute is
    # checked against hand-computed values in test_reliability and test_costs.)
    with ledger_with(events) as ledger:
        together = [ReliabilityProjection(), StepsByAgent()]
        fold_range(ledger, together)
        reliability_alone = folded(ledger, ReliabilityProjection)
        dicts_alone = folded(ledger, StepsByAgent)
        assert together[0].digest() == reliability_alone.digest()
        assert together[1].digest() == dicts_alone.digest()
