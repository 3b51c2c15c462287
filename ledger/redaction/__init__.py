"""Redaction at append: field rules and detectors applied before an event is encoded and hashed.

A :class:`RedactionPolicy` (JSON file, mapping or object) is compiled into a :class:`Redactor`,
which a ledger opened with ``open_ledger(url, redaction=…)`` runs on every batch in
:func:`ledger.batch.prepare`: a redacted value never reaches the backend, its log or a replica.
Each redacted event records what was redacted (``LedgerEvent.redactions``: paths, actions, rule
or detector; never the value). See the README's "Privacy" section for the policy's shape.

Names load lazily: ``rledger stats`` counts records (:func:`count_redactions`) without pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.redaction.apply import Redactor
    from ledger.redaction.counts import count_redactions
    from ledger.redaction.detectors import DETECTORS, Detector, luhn_ok
    from ledger.redaction.policy import (
        DetectorSetting,
        FieldRule,
        RedactionPolicy,
        RedactionPolicyError,
        load_policy,
        parse_path,
    )
    from ledger.redaction.rules import HASH_PREFIX, keyed_hash

_WHERE = {
    "DETECTORS": "detectors",
    "Detector": "detectors",
    "luhn_ok": "detectors",
    "DetectorSetting": "policy",
    "FieldRule": "policy",
    "RedactionPolicy": "policy",
    "RedactionPolicyError": "policy",
    "load_policy": "policy",
    "parse_path": "policy",
    "HASH_PREFIX": "rules",
    "keyed_hash": "rules",
    "Redactor": "apply",
    "count_redactions": "counts",
}

__all__ = [
    "DETECTORS",
    "HASH_PREFIX",
    "Detector",
    "DetectorSetting",
    "FieldRule",
    "RedactionPolicy",
    "RedactionPolicyError",
    "Redactor",
    "count_redactions",
    "keyed_hash",
    "load_policy",
    "luhn_ok",
    "parse_path",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger.redaction' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"ledger.redaction.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
