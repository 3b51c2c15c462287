"""What folds read of an event, tied to the event models: checked structs and a registry of dict reads.

Folds decode stored JSON, not pydantic models (a model validation per event would cost more
than the whole fold). A field they read by a name that ``ledger/events.py`` no longer has would
pass ingest and types and silently fold as a default. So every fold struct is declared with
:func:`fields_of`, which checks at import that each of its fields exists in the event model
with a type that accepts what the model stores; and the handlers that still read decoded
dicts (replay's trails, not folds) list their reads in :data:`DICT_READS`, checked by
:func:`read_problems` (in the tests).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import types
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

import msgspec
from pydantic import BaseModel

from ledger import EVENT_TYPES

S = TypeVar("S", bound=type[msgspec.Struct])

_STRING_ON_THE_WIRE = (str, decimal.Decimal, uuid.UUID, _dt.datetime)
"""Model types stored as JSON strings (pydantic's JSON encoding)."""


_ALWAYS_STORED = frozenset({"type", "event_id", "occurred_at"})
"""Fields every stored event has had since wire format v1 (their defaults are filled at ingest)."""


class SchemaError(TypeError):
    """A fold's view of an event does not match the event model."""


def wire_types(annotation: Any) -> frozenset[Any]:
    """The JSON shapes a model field of ``annotation`` is stored as.

    ``str``, ``int``, ``float``, ``bool``, ``None``, ``list`` (any array), ``dict`` (any
    object) or ``Any`` (free-form).
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return wire_types(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return frozenset().union(*(wire_types(a) for a in typing.get_args(annotation)))
    if origin is typing.Literal:
        return frozenset().union(*(wire_types(type(v)) for v in typing.get_args(annotation)))
    if annotation is None or annotation is type(None):
        return frozenset({None})
    if annotation is Any:
        return frozenset({Any})
    if origin in (tuple, list, set, frozenset) or annotation in (tuple, list):
        return frozenset({list})
    if origin is dict or annotation is dict:
        return frozenset({dict})
    if annotation is bool:  # before int: bool is an int subclass
        return frozenset({bool})
    if isinstance(annotation, type) and issubclass(annotation, _STRING_ON_THE_WIRE):
        return frozenset({str})
    if annotation in (int, float):
        return frozenset({annotation})
    raise SchemaError(f"no JSON shape known for {annotation!r}")


def _accepted(annotation: Any) -> frozenset[Any]:
    """The JSON shapes a struct field of ``annotation`` decodes (msgspec: floats take ints)."""
    shapes = wire_types(annotation)
    return shapes | {int} if float in shapes else shapes


def _model_field(model: type[BaseModel], name: str) -> Any:
    field = model.model_fields.get(name)
    if field is None:
        raise SchemaError(f"{model.__name__} has no field {name!r}")
    return field


def struct_problems(struct: type[msgspec.Struct], model: type[BaseModel]) -> list[str]:
    """Why ``struct`` cannot decode every stored ``model`` event (empty: it can)."""
    problems: list[str] = []
    hints = typing.get_type_hints(struct, include_extras=True)
    info = msgspec.structs.fields(struct)
    for f in info:
        where = f"{struct.__name__}.{f.name}"
        try:
            field = _model_field(model, f.name)
        except SchemaError as error:
            problems.append(f"{where}: {error}")
            continue
        stored = wire_types(field.annotation)
        accepted = _accepted(hints[f.name])
        if Any not in accepted and not stored <= accepted:
            shapes = sorted(map(_shape_name, stored - accepted))
            problems.append(
                f"{where}: {model.__name__}.{f.name} is stored as {shapes}, which it does not take"
            )
        if f.required and not field.is_required() and f.name not in _ALWAYS_STORED:
            problems.append(f"{where}: required, but older {model.__name__} rows may lack it")
    return problems


def _shape_name(shape: Any) -> str:
    return "null" if shape is None else getattr(shape, "__name__", str(shape))


def fields_of(model: type[BaseModel]) -> Callable[[S], S]:
    """Declare a struct as the fields a fold reads of ``model``, checked at import.

    Raises:
        SchemaError: a field is not in the model, takes another JSON shape than the model
            stores, or is required where the model has a default.
    """

    def check(struct: S) -> S:
        problems = struct_problems(struct, model)
        if problems:
            raise SchemaError("; ".join(problems))
        struct.__event_model__ = model  # type: ignore[attr-defined]
        return struct

    return check


DICT_READS: dict[str, frozenset[str]] = {
    # replay/trail.py (the timeline) and replay/history.py
    "ToolCalled": frozenset({"tool", "arguments", "result", "success", "error"}),
    "StepRecorded": frozenset({"agent", "success", "error", "mode", "declared_mode", "duration_ms"}),
    "EvidenceCollected": frozenset({"confidence", "evidence_type", "source"}),
    "CostIncurred": frozenset(
        {"model", "tool", "category", "amount", "currency", "prompt_tokens", "completion_tokens"}
    ),
    "CheckpointMarked": frozenset({"checkpoint_id"}),
}
"""Event type → the fields read by name from its decoded dict (readers that are not folds: replay's).

Every event's ``type``, ``event_id``, ``occurred_at`` and ``workflow_id`` may be read too.
"""


def read_problems(
    reads: Mapping[str, Iterable[str]] = DICT_READS, models: Mapping[str, type[BaseModel]] = EVENT_TYPES
) -> list[str]:
    """Why some dict reads in ``reads`` name no field of their event model (empty: none)."""
    problems = []
    for topic, names in sorted(reads.items()):
        model = models.get(topic)
        if model is None:
            problems.append(f"{topic}: no such event type")
            continue
        problems += [
            f"{topic}.{n}: not a field of {model.__name__}"
            for n in sorted(names)
            if n not in model.model_fields
        ]
    return problems
