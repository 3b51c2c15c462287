"""Properties: encode → decode is identity for every event type; interleaved writers lose nothing.

The event strategies are read off the models' fields and constraints, so a new event type or
field is covered as soon as it exists (an unknown kind of field fails loudly). Free-form fields
hold JSON values; floats are finite here, and what happens to an infinite float is pinned down by
an example test below.
"""

from __future__ import annotations

import types
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, ValidationError

from ledger import (
    EVENT_TYPES,
    AppendResult,
    BatchRejectedError,
    CostIncurred,
    LedgerEvent,
    PlanRevised,
    ToolCalled,
    WorkflowStarted,
    open_ledger,
    validate_batch,
)
from ledger import chain as chain_module
from ledger.backends.base import ReadQuery
from ledger.codec import _SCANNED, _holds_free_form, decode, encode, validate_and_encode
from ledger.limits import FREE_FORM_FIELDS

NAME_CHARACTERS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
"""What a named field's text may hold: anything but NUL (free-form values may hold it too)."""

json_values: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
zones: st.SearchStrategy[Any] = st.sampled_from(
    [UTC, None, timezone(timedelta(hours=5, minutes=30)), timezone(-timedelta(hours=8))]
)
# A day's margin keeps every zone's conversion to UTC inside datetime's range.
moments = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones)


def _without_nul(value: Any) -> bool:
    """Whether no key or string in a value holds U+0000 (repr spells it as an escape)."""
    return "\\x00" not in repr(value)


def _bound(metadata: tuple[Any, ...], name: str) -> Any:
    return next((getattr(m, name) for m in metadata if getattr(m, name, None) is not None), None)


def strategy_for(tp: Any, metadata: tuple[Any, ...] = ()) -> st.SearchStrategy[Any]:
    """A strategy for the values a field annotated ``tp`` (with constraints) accepts."""
    origin = get_origin(tp)
    if origin is Annotated:
        base, *extra = get_args(tp)
        # A Field(...) nested in a type (a dict's values) keeps its constraints in its metadata.
        flat = [c for e in extra for c in (e, *getattr(e, "metadata", ()))]
        return strategy_for(base, (*metadata, *flat))
    if origin in (Union, types.UnionType):
        return st.one_of(*[st.none() if a is type(None) else strategy_for(a, metadata) for a in get_args(tp)])
    if origin is Literal:
        return st.sampled_from(get_args(tp))
    if origin is tuple:
        item, ellipsis = get_args(tp)
        assert ellipsis is Ellipsis
        return st.lists(strategy_for(item), max_size=3).map(tuple)
    if origin is dict:
        key, value = get_args(tp) or (str, Any)
        return st.dictionaries(strategy_for(key), strategy_for(value), max_size=4)
    ge = _bound(metadata, "ge")
    gt = _bound(metadata, "gt")
    strategies: dict[Any, st.SearchStrategy[Any]] = {
        Any: json_values,
        bool: st.booleans(),
        UUID: st.uuids(),
        datetime: moments,
        int: st.integers(min_value=ge if ge is not None else -(2**63), max_value=2**63 - 1),
        float: st.floats(
            min_value=gt if gt is not None else ge,
            exclude_min=gt is not None,
            allow_nan=False,
            allow_infinity=False,
        ),
        Decimal: st.decimals(min_value=ge, allow_nan=False, allow_infinity=False),
    }
    if tp in strategies:
        return strategies[tp]
    if tp is str:
        pattern = _bound(metadata, "pattern")
        if pattern is not None:
            return st.from_regex(pattern, fullmatch=True)
        low = _bound(metadata, "min_length") or 0
        # A named field is also a stored column: any text but NUL (ledger.limits).
        return st.text(NAME_CHARACTERS, min_size=low, max_size=_bound(metadata, "max_length") or 200)
    if isinstance(tp, type) and issubclass(tp, BaseModel):  # a record inside an event (Redaction)
        return st.fixed_dictionaries(
            {n: strategy_for(f.annotation, tuple(f.metadata)) for n, f in tp.model_fields.items()}
        ).map(tp.model_validate)
    raise TypeError(f"no strategy for a field of type {tp!r}: teach strategy_for about it")


def event_strategy(cls: type[LedgerEvent]) -> st.SearchStrategy[LedgerEvent]:
    """Events of ``cls`` with every field drawn; combinations a model rule refuses are skipped."""
    fields = {
        name: strategy_for(info.annotation, tuple(info.metadata))
        for name, info in cls.model_fields.items()
        if name != "type"
    }
    # A JSON value in a named field (a back-test's summary) is a stored column too: no NUL.
    for name in set(fields) - FREE_FORM_FIELDS:
        fields[name] = fields[name].filter(_without_nul)

    @st.composite
    def build(draw: st.DrawFn) -> LedgerEvent:
        values = {name: draw(strategy) for name, strategy in fields.items()}
        try:
            return cls(**values)
        except ValidationError as exc:
            if any(error["loc"] for error in exc.errors()):
                raise  # a field-level refusal means this strategy drew a value it should not
            reject()  # a rule across fields: inferred evidence without sources, and the like

    return build()


EVENTS = {name: event_strategy(cls) for name, cls in sorted(EVENT_TYPES.items())}
any_event = st.one_of(*EVENTS.values())


@settings(max_examples=60, deadline=None)
@given(st.data())
@pytest.mark.parametrize("type_name", sorted(EVENT_TYPES))
def test_encode_then_decode_is_identity(type_name: str, data: st.DataObject) -> None:
    event = data.draw(EVENTS[type_name])

    stored = encode(event)
    back = decode(stored)

    assert back == event
    assert type(back) is type(event)
    assert encode(back) == stored  # the bytes the hash chain covers are stable
    assert back.occurred_at.utcoffset() == timedelta(0)


@settings(max_examples=60, deadline=None)
@given(any_event)
def test_a_validated_event_survives_its_own_json(event: LedgerEvent) -> None:
    # What the CLI and HTTP ingest do: JSON text in, validated, stored, read back.
    (validated,) = validate_batch([encode(event).decode()])

    assert validated == event


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"type": "ToolCalled", "tool": "t", "duration_ms": float("inf")}, id="duration"),
        pytest.param(
            {"type": "StepRecorded", "agent": "a", "success": True, "tool_duration_ms": float("inf")},
            id="step-duration",
        ),
        pytest.param({"type": "WorkflowStarted", "input": {"score": float("-inf")}}, id="input-value"),
        pytest.param({"type": "ToolCalled", "tool": "t", "result": [1.0, float("inf")]}, id="result-item"),
    ],
)
def test_an_infinite_float_is_refused_or_kept(item: dict[str, Any]) -> None:
    # JSON has no Infinity: an event holding one must be refused, or come back from storage as it went in.
    try:
        (event,) = validate_batch([item])
    except BatchRejectedError as exc:
        assert [p.index for p in exc.problems] == [0]
        return
    assert decode(encode(event)) == event


# -- interleaved writers ------------------------------------------------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> tuple[dict[str, list[list[PlanRevised]]], list[tuple[str, int]]]:
    """Writers with batches for their own workflow (and a shared one), and an interleaving.

    The interleaving keeps each writer's batches in order and may send a batch again later (a
    retry after a lost acknowledgement).
    """
    writers = draw(
        st.lists(st.text(NAME_CHARACTERS, min_size=1, max_size=12), min_size=1, max_size=5, unique=True)
    )
    plans: dict[str, list[list[PlanRevised]]] = {}
    for writer in writers:
        sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=6))
        plans[writer] = [
            [
                PlanRevised(
                    workflow_id="shared" if draw(st.booleans()) else f"own-{writer}",
                    agent=writer,
                    reason=f"{writer}:{b}:{i}",
                )
                for i in range(size)
            ]
            for b, size in enumerate(sizes)
        ]
    tokens = draw(st.permutations([w for w in writers for _ in plans[w]]))
    next_batch: dict[str, int] = defaultdict(int)
    order: list[tuple[str, int]] = []
    for writer in tokens:
        order.append((writer, next_batch[writer]))
        next_batch[writer] += 1
        if draw(st.integers(0, 4)) == 0:  # now and then, a retry of some earlier batch
            order.append((writer, draw(st.integers(0, next_batch[writer] - 1))))
    return plans, order


@settings(max_examples=80, deadline=None)
@given(schedules())
def test_interleaved_writers_never_lose_or_duplicate_events(
    schedule: tuple[dict[str, list[list[PlanRevised]]], list[tuple[str, int]]],
) -> None:
    plans, order = schedule
    first_offsets: dict[tuple[str, int], tuple[int, ...]] = {}

    with open_ledger("memory://") as ledger:
        for writer, batch in order:
            result = ledger.append(plans[writer][batch])
            if (writer, batch) in first_offsets:
                assert result == AppendResult(first_offsets[writer, batch], 0, len(result.offsets))
            else:
                first_offsets[writer, batch] = result.offsets
        records = list(ledger.read(page_size=7))
        assert ledger.verify().ok

    sent = [e for batches in plans.values() for batch in batches for e in batch]
    assert [r.offset for r in records] == list(range(1, len(sent) + 1))
    assert sorted(r.event.event_id for r in records) == sorted(e.event_id for e in sent)
    versions: dict[str, list[int]] = defaultdict(list)
    seen_by_writer: dict[tuple[str, str], list[UUID]] = defaultdict(list)
    for record in records:
        versions[record.stream].append(record.version)
        seen_by_writer[record.stream, record.event.agent or ""].append(record.event.event_id)
    assert all(v == list(range(1, len(v) + 1)) for v in versions.values())
    for writer, batches in plans.items():
        for stream in ("wf:shared", f"wf:own-{writer}"):
            expected = [e.event_id for b in batches for e in b if f"wf:{e.workflow_id}" == stream]
            assert seen_by_writer[stream, writer] == expected


def test_decimal_amounts_keep_their_exact_value() -> None:
    event = CostIncurred(amount=Decimal("0.000000123456789012345678901234567890"))

    assert decode(encode(event)).amount == event.amount  # type: ignore[union-attr]


# -- the append fast paths agree with the plain definitions --------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.integers(1, 2**62),
    st.lists(st.tuples(st.text(max_size=12), st.integers(1, 2**62), st.binary(max_size=64)), max_size=8),
)
def test_a_run_of_links_is_the_links_one_by_one(
    previous: bytes, first: int, events: list[tuple[str, int, bytes]]
) -> None:
    streams = [s for s, _, _ in events]
    versions = [v for _, v, _ in events]
    states = [b for _, _, b in events]

    chains = chain_module.link_run(previous, first, streams, versions, states)

    expected = []
    for offset, (stream, version, state) in enumerate(events, start=first):
        previous = chain_module.link(previous, offset, stream, version, state)
        expected.append(previous)
    assert chains == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(any_event, min_size=1, max_size=5))
def test_the_model_fast_path_encodes_like_the_full_checks(events: list[LedgerEvent]) -> None:
    fast_events, fast_states = validate_and_encode(events)
    # A dict forces the full, per-item checks for the whole batch.
    slow_events, slow_states = validate_and_encode([*events, {"type": "PlanRevised"}])

    assert fast_events == events
    assert fast_states == slow_states[:-1] == [encode(e) for e in events]
    assert slow_events[:-1] == events


SPARED = sorted(set(EVENT_TYPES.values()) - _SCANNED, key=lambda c: c.__name__)


@settings(max_examples=10, deadline=None)
@given(st.data())
@pytest.mark.parametrize("cls", SPARED, ids=[c.__name__ for c in SPARED])
def test_types_spared_the_non_finite_scan_refuse_non_finite_floats(
    cls: type[LedgerEvent], data: st.DataObject
) -> None:
    # The fast path skips the Infinity/NaN scan for these types: no value they hold may encode
    # as a bare non-finite token, so each float field must refuse one at validation — checked
    # on an otherwise valid event, so the refusal is that field's and no other.
    assert all("Any" not in repr(f.annotation) for f in cls.model_fields.values())
    valid = data.draw(EVENTS[cls.__name__]).model_dump()
    for name in [n for n, f in cls.model_fields.items() if "float" in repr(f.annotation)]:
        for bad in (float("inf"), float("-inf"), float("nan")):
            with pytest.raises(ValidationError) as caught:
                cls.model_validate({**valid, name: bad})
            assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [((name,), "finite_number")]


def test_a_field_that_allows_non_finite_floats_is_scanned() -> None:
    class Plain(LedgerEvent):
        value: float = 0.0

    class Allowed(LedgerEvent):
        value: Annotated[float, Field(allow_inf_nan=True)] = 0.0

    class AllowedInside(LedgerEvent):
        value: Annotated[float, Field(allow_inf_nan=True)] | None = None

    assert [_holds_free_form(c) for c in (Plain, Allowed, AllowedInside)] == [False, True, True]
    assert b"Infinity" in encode(Allowed(value=float("inf")))


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(lambda: ToolCalled(tool="t", result=[1.0, float("inf")]), id="tool-result"),
        pytest.param(lambda: ToolCalled(tool="t", arguments={"x": float("nan")}), id="tool-arguments"),
        pytest.param(lambda: WorkflowStarted(input={"score": float("-inf")}), id="workflow-input"),
    ],
)
def test_a_model_holding_a_non_finite_float_is_refused_whole(event: Any, tmp_path: Any) -> None:
    ledger = open_ledger(f"sqlite:///{tmp_path}/l.db")
    try:
        with pytest.raises(BatchRejectedError) as caught:
            ledger.append([PlanRevised(reason="fine"), event()])
        assert [(p.index, p.field) for p in caught.value.problems] == [(1, caught.value.problems[0].field)]
        assert caught.value.problems[0].field is not None
        assert ledger.latest_offset() == 0
    finally:
        ledger.close()


@settings(max_examples=40, deadline=None)
@given(times=st.lists(moments, min_size=1, max_size=6))
def test_sqlite_stores_any_event_time_to_the_microsecond(
    times: list[datetime], tmp_path_factory: Any
) -> None:
    path = tmp_path_factory.mktemp("times") / "l.db"
    ledger = open_ledger(f"sqlite:///{path}")
    try:
        events = [PlanRevised(occurred_at=t) for t in times]
        ledger.append(events)
        back = [r.event.occurred_at for r in ledger.read()]
        rows = [r.occurred_at for r in ledger.read_rows(ReadQuery())]
    finally:
        ledger.close()
    assert back == rows == [e.occurred_at for e in events]
