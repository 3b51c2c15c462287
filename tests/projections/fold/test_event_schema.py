"""Every field a fold reads exists in its event model with a type that takes what the model stores."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import msgspec
import orjson
import pytest
from pydantic import BaseModel, create_model

import projections
from ledger import (
    EVENT_TYPES,
    AlertAcknowledged,
    AlertDelivered,
    AlertRaised,
    AnomalyDetected,
    BreakerCallRecorded,
    BreakerConfigured,
    BreakerProbeStarted,
    CircuitTransitioned,
    LedgerEvent,
    MetricRecorded,
)
from projections.alerting.alert_fold import AlertProjection
from projections.fold import Projection
from projections.fold.event_schema import (
    DICT_READS,
    SchemaError,
    fields_of,
    read_problems,
    struct_problems,
    wire_types,
)
from projections.guards.breaker_fold import BreakerProjection
from projections.metrics.event_fields import CompletionFields, CostFields, StepFields
from projections.signals.anomaly_fold import AnomalyProjection
from projections.signals.series import MetricSeriesProjection

ALWAYS_READABLE = {"type", "event_id", "occurred_at", "workflow_id"}


def _subclasses(cls: type[Projection]) -> list[type[Projection]]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_subclasses(sub)]
    return out


PROJECTIONS = sorted(
    (p for p in _subclasses(Projection) if p.__module__.startswith("projections.")),
    key=lambda p: p.__qualname__,
)


def test_every_projection_of_the_package_is_checked() -> None:
    assert projections.CORE_PROJECTIONS  # the package is imported: its folds are registered
    names = {p.__name__ for p in PROJECTIONS}
    assert {"ReliabilityProjection", "SLOProjection", "CostProjection", "EvidenceProjection"} <= names
    assert {"ModeProjection", "AlertProjection", "BreakerProjection", "AnomalyProjection"} <= names


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.__name__)
def test_every_fold_struct_is_checked_against_its_topics_model(projection: type[Projection]) -> None:
    instance = projection()
    for topic, struct in projection.structs.items():
        assert topic in instance.handlers, f"{projection.__name__} decodes {topic} but folds no such event"
        model = EVENT_TYPES[topic]
        assert getattr(struct, "__event_model__", None) is model, (
            f"{struct.__name__} is not @fields_of({topic})"
        )
        assert struct_problems(struct, model) == []


@pytest.mark.parametrize("projection", PROJECTIONS, ids=lambda p: p.__name__)
def test_every_topic_folded_from_a_dict_lists_its_reads(projection: type[Projection]) -> None:
    for topic in projection().handlers:
        if topic not in projection.structs:
            assert topic in DICT_READS, f"{projection.__name__} folds {topic} as a dict: list its reads"


def test_the_registry_of_dict_reads_names_only_model_fields() -> None:
    assert read_problems() == []


class _Recording(dict[str, Any]):
    """A decoded event that remembers which fields were read by name."""

    def __init__(self, data: dict[str, Any], seen: set[str]) -> None:
        super().__init__(data)
        self.seen = seen

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)


def _sample_history() -> list[LedgerEvent]:
    alert = uuid4()
    at = datetime(2024, 1, 1, tzinfo=UTC)
    common: dict[str, Any] = {"occurred_at": at, "workflow_id": "wf-1"}
    return [
        AlertRaised(
            alert_id=alert,
            alert_type="metric",
            source="svr",
            severity="high",
            title="t",
            message="m",
            metric_name="svr",
            current_value=0.5,
            threshold=0.9,
            **common,
        ),
        AlertDelivered(alert_id=alert, channel="log", success=False, error="down", **common),
        AlertAcknowledged(alert_id=alert, by="ops", note="n", **common),
        AnomalyDetected(
            metric_name="svr",
            anomaly_type="threshold_breach",
            severity="high",
            current_value=0.5,
            expected_value=0.9,
            z_score=3.0,
            detail="d",
            **common,
        ),
        MetricRecorded(metric_name="svr", value=0.5, polarity="higher_is_better", **common),
        BreakerConfigured(
            breaker="b",
            failure_threshold=1,
            success_threshold=1,
            timeout_seconds=1.0,
            window_seconds=1.0,
            half_open_max_calls=1,
            **common,
        ),
        BreakerCallRecorded(breaker="b", outcome="failure", **common),
        CircuitTransitioned(breaker="b", from_state="closed", to_state="open", **common),
        BreakerProbeStarted(breaker="b", **common),
    ]


@pytest.mark.parametrize(
    "projection",
    [AlertProjection, AnomalyProjection, MetricSeriesProjection, BreakerProjection],
    ids=lambda p: p.__name__,
)
def test_the_former_dict_folds_read_only_checked_struct_fields(projection: type[Projection]) -> None:
    fold = projection()
    seen: dict[str, set[str]] = {}
    folded = set()
    for offset, event in enumerate(_sample_history(), 1):
        topic = event.type  # type: ignore[attr-defined]
        if topic not in fold.handlers:
            continue
        folded.add(topic)
        fold.fold(offset, _Recording(orjson.loads(event.model_dump_json()), seen.setdefault(topic, set())))
    assert folded and folded <= set(projection.structs)  # every topic is decoded into a checked struct
    assert fold.digest() != projection().digest()  # the handlers did fold the events
    for topic, names in seen.items():
        # Beyond what every event has, nothing is read by name: the struct holds the fields.
        assert names - ALWAYS_READABLE <= DICT_READS.get(topic, frozenset()), topic


def test_no_projection_of_the_package_folds_a_dict() -> None:
    dict_folds = {
        p.__name__: sorted(set(p().handlers) - set(p.structs))
        for p in PROJECTIONS
        if set(p().handlers) - set(p.structs)
    }
    assert dict_folds == {}


def test_a_fold_struct_round_trips_what_the_model_stores() -> None:
    stored = orjson.loads(
        orjson.dumps(
            {"type": "CostIncurred", "amount": "0.06", "status": "priced", "prompt_tokens": 3, "agent": "a"}
        )
    )
    cost = msgspec.convert(stored, CostFields)
    assert (cost.amount, cost.prompt_tokens, cost.agent, cost.currency) == ("0.06", 3, "a", None)


def test_wire_types_follow_the_json_encoding() -> None:
    assert wire_types(Decimal | None) == {str, None}
    assert wire_types(EVENT_TYPES["EvidenceCollected"].model_fields["based_on"].annotation) == {list}
    assert wire_types(EVENT_TYPES["StepRecorded"].model_fields["agent"].annotation) == {str}
    assert wire_types(EVENT_TYPES["ToolCalled"].model_fields["result"].annotation) == {Any}


# -- a renamed or retyped model field fails the checks -----------------------------------------


def _without(model: type[BaseModel], field: str, *, renamed_to: str | None = None) -> type[BaseModel]:
    """A copy of ``model`` with ``field`` removed (or renamed), as a careless edit would leave it."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.model_fields.items() if name != field
    }
    if renamed_to is not None:
        fields[renamed_to] = (model.model_fields[field].annotation, model.model_fields[field])
    return create_model(f"{model.__name__}Edited", **fields)


STRUCT_FIELDS = [
    (struct, name)
    for projection in PROJECTIONS
    for struct in projection.structs.values()
    for name in struct.__struct_fields__
]


@pytest.mark.parametrize(
    ("struct", "field"), STRUCT_FIELDS, ids=[f"{s.__name__}.{f}" for s, f in STRUCT_FIELDS]
)
def test_a_struct_field_missing_from_its_model_fails_at_import(
    struct: type[msgspec.Struct], field: str
) -> None:
    edited = _without(struct.__event_model__, field, renamed_to=f"{field}_renamed")  # type: ignore[attr-defined]
    assert any(f"{struct.__name__}.{field}:" in p for p in struct_problems(struct, edited))
    with pytest.raises(SchemaError, match=field):
        fields_of(edited)(struct)


DICT_FIELDS = sorted((topic, name) for topic, names in DICT_READS.items() for name in names)


@pytest.mark.parametrize(("topic", "field"), DICT_FIELDS, ids=[f"{t}.{f}" for t, f in DICT_FIELDS])
def test_a_dict_read_missing_from_its_model_fails_the_registry_check(topic: str, field: str) -> None:
    models = {**EVENT_TYPES, topic: _without(EVENT_TYPES[topic], field)}
    assert read_problems(DICT_READS, models) == [f"{topic}.{field}: not a field of {models[topic].__name__}"]


def test_a_struct_field_of_another_json_shape_fails() -> None:
    retyped = create_model("StepRecordedEdited", __base__=EVENT_TYPES["StepRecorded"], success=(int, 0))
    with pytest.raises(SchemaError, match=r"StepFields.success: .* stored as \['int'\]"):
        fields_of(retyped)(StepFields)


def test_a_struct_field_required_where_the_model_has_a_default_fails() -> None:
    class Strict(msgspec.Struct, frozen=True):
        success: bool

    assert struct_problems(Strict, EVENT_TYPES["WorkflowCompleted"]) == [
        "Strict.success: required, but older WorkflowCompleted rows may lack it"
    ]
    assert struct_problems(CompletionFields, EVENT_TYPES["WorkflowCompleted"]) == []
