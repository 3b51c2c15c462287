"""A compiled policy applied to validated events: the redacted copies, their records, the counts.

:class:`Redactor` is what a ledger holds (``open_ledger(url, redaction=…)``). Its
:meth:`~Redactor.redact_batch` runs in :func:`ledger.batch.prepare` on the validated events and
their encodings, before anything is hashed or written: an event a rule or detector touches is
replaced by a validated copy whose fields hold the marker or hash (or lack the dropped value)
and whose ``redactions`` say which paths, by which rule or detector, with which action, and is
encoded again. The others keep the encoding they had, untouched: the detectors' combined
pattern runs once over each encoded event (:func:`ledger.redaction.detectors.prefilter`), and
only an event where it finds a candidate is walked.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ledger.event_base import _FREE_FORM_FIELDS, LedgerEvent, Redaction
from ledger.redaction.counts import as_counts, tally
from ledger.redaction.detectors import DETECTORS, Detector, prefilter
from ledger.redaction.policy import Action, RedactionPolicy, RedactionPolicyError, load_policy, parse_path
from ledger.redaction.rules import DROP, HASH_PREFIX, apply_path, keyed_hash

__all__ = ["Redactor"]

_MIN_TEXT = 6
"""Shorter strings hold nothing a detector finds (``a@b.co`` is 6)."""


def _free_form_regions() -> dict[type[LedgerEvent], tuple[bytes, bytes | None]]:
    from ledger.events import EVENT_TYPES

    regions: dict[type[LedgerEvent], tuple[bytes, bytes | None]] = {}
    for model in EVENT_TYPES.values():
        names = list(model.model_fields)
        free = [i for i, name in enumerate(names) if name in _FREE_FORM_FIELDS]
        if free:
            after = names[free[-1] + 1] if free[-1] + 1 < len(names) else None
            regions[model] = (
                f'"{names[free[0]]}":'.encode(),
                None if after is None else f',"{after}":'.encode(),
            )
    return regions


_REGIONS = _free_form_regions()
"""Where each event type's free-form values are in its encoding: from the first free-form
field's key to the key of the field after the last one. Only these bytes are pre-checked:
the id, the time and the named fields (digits, dashes, colons) would only raise false alarms.
The end is found from the right: a free-form value may hold that key too, the field itself
comes after it (the named fields after it are strings, in which a quote is escaped)."""


@dataclass(frozen=True, slots=True)
class _Rule:
    steps: tuple[str | int, ...]
    action: Action
    name: str


def _compile_rules(policy: RedactionPolicy) -> dict[type[LedgerEvent], list[_Rule]]:
    from ledger.events import EVENT_TYPES

    by_type: dict[type[LedgerEvent], list[_Rule]] = {}
    for n, rule in enumerate(policy.rules):
        steps = parse_path(rule.path)
        field = steps[0]
        models = [EVENT_TYPES[rule.type]] if rule.type != "*" else list(EVENT_TYPES.values())
        for model in models:
            info = model.model_fields.get(str(field))
            if info is None:
                continue
            if field not in _FREE_FORM_FIELDS:
                problem = None
                if len(steps) > 1:
                    problem = f"{field!r} is not a free-form field: a path cannot go inside it"
                elif rule.action == "drop" and info.is_required():
                    problem = f"{field!r} is required: it cannot be dropped (mask or hash it)"
                if problem is not None:
                    if rule.type == "*":
                        continue  # a rule for every type applies where it can
                    raise RedactionPolicyError(f"redaction policy: rules[{n}] ({model.__name__}): {problem}")
            by_type.setdefault(model, []).append(_Rule(steps, rule.action, rule.name or f"rule[{n}]"))
    return by_type


class Redactor:
    """A redaction policy, compiled, with the counts of what it redacted in this process.

    Args:
        policy: a :class:`RedactionPolicy`, its mapping, or a JSON file's path.

    Raises:
        RedactionPolicyError: the policy is invalid, or its hash key cannot be read.
    """

    def __init__(self, policy: RedactionPolicy | Mapping[str, Any] | str) -> None:
        self.policy = load_policy(policy)
        self._key = self.policy.hash_key()
        self._rules = _compile_rules(self.policy)
        self._detectors: list[tuple[Detector, Action]] = [
            (DETECTORS[d.name], d.action) for d in self.policy.detectors
        ]
        self._prefilter = prefilter(d.name for d in self.policy.detectors)
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def __repr__(self) -> str:  # never the key
        names = ", ".join(d.name for d in self.policy.detectors)
        return f"Redactor(detectors=[{names}], rules={len(self.policy.rules)})"

    # -- applying ----------------------------------------------------------------------------

    def _replacement(self, value: Any, action: str, name: str) -> Any:
        if action == "drop":
            return DROP
        if action == "hash":
            assert self._key is not None
            return keyed_hash(value, self._key)
        return self.policy.marker.format(name=name)

    def redact(self, event: LedgerEvent, state: bytes | None = None) -> LedgerEvent:
        """Return ``event`` redacted (the same object when nothing applies).

        ``state`` is its encoding, if known: the detectors' pre-check runs on it.
        """
        if state is None and self._prefilter is not None:
            state = event.__pydantic_serializer__.to_json(event)
        rules = self._rules.get(type(event))
        scan = state is not None and self._may_hold(type(event), state)
        if not rules and not scan:
            return event
        return self._rewrite(event, rules, scan)

    def _may_hold(self, kind: type[LedgerEvent], state: bytes) -> bool:
        """Whether the detectors could find something in the free-form bytes of an encoding."""
        region = _REGIONS.get(kind)
        pre = self._prefilter
        if region is None or pre is None:
            return False
        start = max(state.find(region[0]), 0)
        end = len(state) if region[1] is None else state.rfind(region[1])
        return pre(state[start : end if end > start else len(state)])

    def _rewrite(self, event: LedgerEvent, rules: list[_Rule] | None, scan: bool) -> LedgerEvent:
        """Apply the rules, then (``scan``) the detectors; the event itself when nothing changed."""
        done = {(r.path, r.by) for r in event.redactions}
        values: dict[str, Any] = {}
        records: list[Redaction] = []
        for rule in rules or ():
            field = str(rule.steps[0])
            current = values.get(field, getattr(event, field))

            def rewrite(value: Any, path: str, r: _Rule = rule) -> Any:
                if (path, r.name) in done:
                    return value  # redacted when first stored (an import, a re-append): kept as is
                return self._replacement(value, r.action, r.name)

            new, paths = apply_path({field: current}, rule.steps, "", rewrite)
            paths = [p for p in paths if (p, rule.name) not in done]
            if not paths:
                continue
            values[field] = new.get(
                field, type(event).model_fields[field].get_default(call_default_factory=True)
            )
            records += [Redaction(path=p, action=rule.action, kind="rule", by=rule.name) for p in paths]
        if scan:
            for field in _FREE_FORM_FIELDS:
                if field in type(event).model_fields:
                    current = values.get(field, getattr(event, field))
                    new = self._scan(current, field, records)
                    if new is not current:
                        values[field] = new
        if not records:
            return event
        values["redactions"] = (*event.redactions, *records)
        return event.model_copy(update=values)

    def _scan(self, value: Any, path: str, records: list[Redaction]) -> Any:
        """``value`` with what the detectors find replaced (the same object when nothing is)."""
        if isinstance(value, str):
            return self._scan_text(value, path, records) if len(value) >= _MIN_TEXT else value
        if isinstance(value, dict):
            out: dict[Any, Any] | None = None
            for key, item in value.items():
                new = self._scan(item, f"{path}.{key}", records)
                if new is not item:
                    out = dict(value) if out is None else out
                    out[key] = new
            return value if out is None else out
        if isinstance(value, list | tuple):
            items: list[Any] | None = None
            for i, item in enumerate(value):
                new = self._scan(item, f"{path}[{i}]", records)
                if new is not item:
                    items = list(value) if items is None else items
                    items[i] = new
            return value if items is None else items
        return value

    def _scan_text(self, text: str, path: str, records: list[Redaction]) -> str:
        if text.startswith(HASH_PREFIX):
            return text  # a value this or another policy already hashed
        original = text
        for detector, action in self._detectors:
            check = detector.check
            found = False

            def replace(match: Any, d: Detector = detector, a: Action = action, c: Any = check) -> str:
                nonlocal found
                if c is not None and not c(match.group(0)):
                    return str(match.group(0))
                found = True
                return str(self._replacement(match.group(0), a, d.name))

            text = detector.compiled().sub(replace, text)
            if found:
                records.append(Redaction(path=path, action=action, kind="detector", by=detector.name))
        return original if text == original else text

    def redact_batch(self, events: list[LedgerEvent], states: list[bytes], max_bytes: int) -> None:
        """Redact a validated batch in place: each touched event and its encoding are replaced.

        Raises:
            BatchRejectedError: a redacted event is over ``max_bytes`` (a marker or hash is longer
                than what it replaced); nothing of the batch is written.
        """
        from ledger.codec import encode
        from ledger.errors import BatchRejectedError, Problem

        problems: list[Problem] = []
        rules_of, scanned = self._rules, _REGIONS if self._prefilter is not None else {}
        for i, event in enumerate(events):
            # Inlined look-ups: most events have no rule and no free-form field (a call each
            # shows in bench.redaction).
            kind = type(event)
            rules = rules_of.get(kind)
            if rules is None and kind not in scanned:
                continue
            scan = kind in scanned and self._may_hold(kind, states[i])
            if not rules and not scan:
                continue
            redacted = self._rewrite(event, rules, scan)
            if redacted is not event:
                events[i] = redacted
                states[i] = encode(redacted)
                if len(states[i]) > max_bytes:
                    problems.append(
                        Problem(i, None, None, f"redacted event is {len(states[i])} bytes, over {max_bytes}")
                    )
        if problems:
            raise BatchRejectedError(problems, len(events))

    # -- counting ----------------------------------------------------------------------------

    def count(self, events: list[LedgerEvent]) -> None:
        """Add the redactions of committed events to :meth:`counts`."""
        add: Counter[tuple[str, str]] = Counter()
        for event in events:
            if event.redactions:
                tally(add, [(r.action, r.kind, r.by) for r in event.redactions])
        if add:
            with self._lock:
                self._counts.update(add)

    def counts(self) -> dict[str, Any]:
        """What this process redacted in committed appends (retries of an event count again)."""
        with self._lock:
            return as_counts(self._counts)
