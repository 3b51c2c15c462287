"""Redaction at append: field rules and detectors applied before an event is encoded and hashed.

A :class:`RedactionPolicy` (JSON file, mapping or object) is compiled into a :class:`Redactor`,
which a ledger opened with ``open_ledger(url, redaction=…)`` runs on every batch in
:func:`ledger.batch.prepare`: a redacted value never reaches the backend, its log or a replica.
Each redacted event records what was redacted (``LedgerEvent.redactions``: paths, actions, rule
or detector; never the value). See the README's "Privacy" section for the policy's shape.
"""

from __future__ import annotations

from ledger.redaction.apply import Redactor, count_records
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

DEFAULT_DETECTORS = tuple(DETECTORS)
"""Every detector: what ``{"detectors": "default"}``-style policies and the benchmark switch on."""

__all__ = [
    "DEFAULT_DETECTORS",
    "DETECTORS",
    "HASH_PREFIX",
    "Detector",
    "DetectorSetting",
    "FieldRule",
    "RedactionPolicy",
    "RedactionPolicyError",
    "Redactor",
    "count_records",
    "keyed_hash",
    "load_policy",
    "luhn_ok",
    "parse_path",
]
