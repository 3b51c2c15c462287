"""The sealed fields are content only: no fold reads one, so forgetting a subject changes no number."""

from __future__ import annotations

import importlib
import pkgutil

import msgspec

import projections
from ledger import EVENT_TYPES
from ledger.keys import ENCRYPTED_FIELDS
from ledger.keys.options import parse_horizons
from projections.fold.event_schema import DICT_READS


def _fold_structs() -> list[type[msgspec.Struct]]:
    for info in pkgutil.walk_packages(projections.__path__, "projections."):
        importlib.import_module(info.name)
    found, todo = [], list(msgspec.Struct.__subclasses__())
    while todo:
        struct = todo.pop()
        todo += struct.__subclasses__()
        if hasattr(struct, "__event_model__"):
            found.append(struct)
    return found


def test_every_sealed_field_is_a_field_of_its_event() -> None:
    for event_type, fields in ENCRYPTED_FIELDS.items():
        assert set(fields) <= set(EVENT_TYPES[event_type].model_fields), event_type


COPIED_VERBATIM = {("EvidenceFields", "content")}
"""Folds that keep a sealed field as it is stored (the ciphertext), computing nothing from it."""


def test_no_fold_computes_from_a_sealed_field() -> None:
    structs = _fold_structs()
    assert len(structs) > 10  # the walk found the folds
    for struct in structs:
        name = struct.__event_model__.__name__  # type: ignore[attr-defined]
        read = {
            f
            for f in set(struct.__struct_fields__) & set(ENCRYPTED_FIELDS.get(name, ()))
            if (struct.__name__, f) not in COPIED_VERBATIM
        }
        assert not read, f"{struct.__qualname__} reads sealed field(s) {read} of {name}"


def test_the_trail_reads_sealed_fields_only_as_content() -> None:
    # Replay's trails read these by name; they are opened (or erased) before the trail sees them.
    assert DICT_READS["ToolCalled"] & set(ENCRYPTED_FIELDS["ToolCalled"]) == {"arguments", "result", "error"}


def test_every_sealed_field_may_have_a_horizon() -> None:
    specs = ",".join(f"{t}.{f}:1" for t, fs in ENCRYPTED_FIELDS.items() for f in fs)
    assert len(parse_horizons(specs)) == sum(map(len, ENCRYPTED_FIELDS.values()))
