"""A redaction policy: which detectors scan free-form text, which field rules apply, and the hash key.

Loaded from a JSON file, a mapping or an existing :class:`RedactionPolicy`
(:func:`load_policy`). Every mistake is refused with the place it is in: an unknown key, an
unknown detector or event type, a path that does not parse or names no free-form field, an
action a detector cannot take, a hash action with no key to hash with. The hash key itself is
never in the policy: it is read from an environment variable (``hash_key_env``) or a file
(``hash_key_file``) when the policy is compiled, and kept only in memory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledger.redaction.detectors import DETECTORS

__all__ = [
    "DetectorSetting",
    "FieldRule",
    "RedactionPolicy",
    "RedactionPolicyError",
    "load_policy",
    "parse_path",
]

Action = Literal["drop", "mask", "hash"]
"""What a rule does to a value: remove it, replace it with a marker, or keep a keyed hash of it."""

_STEP = re.compile(r"([A-Za-z0-9_\-]+|\*)((?:\[(?:\d+|\*)\])*)")
_INDEX = re.compile(r"\[(\d+|\*)\]")

# Fields every event carries: redacting them would move an event to another stream or lose it.
_COMMON = frozenset({"type", "event_id", "occurred_at", "workflow_id", "agent", "redactions"})


class RedactionPolicyError(ValueError):
    """A redaction policy that cannot be used: where in it, and why."""


def parse_path(path: str) -> tuple[str | int, ...]:
    """Split a rule path (``arguments.card``, ``messages[*].content``, ``result.*.token``) into steps.

    A step is a key (``*`` for every key) or a list index (``[N]``; ``[*]`` for every item).

    Raises:
        ValueError: the path does not parse (says where).
    """
    if not path:
        raise ValueError("the path is empty")
    steps: list[str | int] = []
    for n, part in enumerate(path.split(".")):
        match = _STEP.fullmatch(part)
        if match is None:
            raise ValueError(
                f"step {n + 1} ({part!r}) of {path!r} is not a key, '*' or key[index] (keys are letters, "
                "digits, '_' and '-'; an index is [N] or [*])"
            )
        steps.append(match.group(1))
        for index in _INDEX.findall(match.group(2)):
            steps.append("[*]" if index == "*" else int(index))
    return tuple(steps)


class FieldRule(BaseModel):
    """One field rule: for events of ``type`` (``*``: every type), do ``action`` at ``path``.

    Attributes:
        type: an event type name, or ``*`` for every type that has the path's first field.
        path: where, from the event's top: ``arguments.password``, ``messages[*].content``.
        action: ``drop`` (removed), ``mask`` (replaced by the marker), ``hash`` (keyed HMAC).
        name: what the event's record calls the rule (default ``rule[N]``, its place in the list).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = "*"
    path: str
    action: Action
    name: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str) -> str:
        steps = parse_path(value)
        if not isinstance(steps[0], str) or steps[0] == "*":
            raise ValueError(f"{value!r} must start with a field name")
        if steps[0] in _COMMON:
            raise ValueError(
                f"{steps[0]!r} is a field every event needs (its id, time or stream); it cannot be redacted"
            )
        return value


class DetectorSetting(BaseModel):
    """A detector switched on, with what to do with the text it finds.

    Attributes:
        name: one of :data:`ledger.redaction.detectors.DETECTORS`.
        action: ``mask`` (replaced by ``[redacted:NAME]``) or ``hash`` (a keyed hash, for joins).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    action: Literal["mask", "hash"] = "mask"

    @field_validator("name")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in DETECTORS:
            raise ValueError(f"unknown detector {value!r} (known: {', '.join(DETECTORS)})")
        return value


class RedactionPolicy(BaseModel):
    """What is redacted from events before they are encoded, hashed and stored.

    Attributes:
        detectors: detectors scanning the free-form fields' text (a name, or ``{"name", "action"}``).
        rules: field rules by event type and path, applied before the detectors.
        marker: the mask text; ``{name}`` is the rule's or detector's name.
        hash_key_env: the environment variable holding the key of ``hash`` actions.
        hash_key_file: a file holding that key (used when ``hash_key_env`` is not given).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    detectors: tuple[DetectorSetting, ...] = ()
    rules: tuple[FieldRule, ...] = ()
    marker: str = Field(default="[redacted:{name}]", min_length=1, max_length=200)
    hash_key_env: str | None = Field(default=None, min_length=1)
    hash_key_file: str | None = Field(default=None, min_length=1)

    @field_validator("detectors", mode="before")
    @classmethod
    def _names_to_settings(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="before")
    @classmethod
    def _no_key_inside(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and ("hash_key" in data or "key" in data):
            raise ValueError(
                "the policy must not hold the hash key itself: put it in an environment variable "
                "(hash_key_env) or a file (hash_key_file)"
            )
        return data

    @model_validator(mode="after")
    def _checked(self) -> RedactionPolicy:
        from ledger.events import EVENT_TYPES  # the event models load only with a policy

        names = [d.name for d in self.detectors]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"detector {name!r} is listed twice")
        for n, rule in enumerate(self.rules):
            first = parse_path(rule.path)[0]
            if rule.type != "*":
                model = EVENT_TYPES.get(rule.type)
                if model is None:
                    raise ValueError(
                        f"rules[{n}].type: unknown event type {rule.type!r} "
                        f"(known: {', '.join(sorted(EVENT_TYPES))})"
                    )
                if first not in model.model_fields:
                    raise ValueError(f"rules[{n}].path: {rule.type} has no field {first!r}")
            elif not any(first in m.model_fields for m in EVENT_TYPES.values()):
                raise ValueError(f"rules[{n}].path: no event type has a field {first!r}")
        if self.uses_hash and self.hash_key_env is None and self.hash_key_file is None:
            raise ValueError("a 'hash' action needs a key: give hash_key_env or hash_key_file")
        try:
            self.marker.format(name="x")
        except (KeyError, IndexError, ValueError):
            raise ValueError("marker: only the placeholder {name} may be used") from None
        return self

    @property
    def uses_hash(self) -> bool:
        """Whether any rule or detector keeps a keyed hash."""
        return any(r.action == "hash" for r in self.rules) or any(d.action == "hash" for d in self.detectors)

    def hash_key(self) -> bytes | None:
        """Read the key of ``hash`` actions (``None`` when none is used).

        Raises:
            RedactionPolicyError: the variable is unset or empty, or the file cannot be read.
        """
        if not self.uses_hash:
            return None
        if self.hash_key_env is not None:
            value = os.environ.get(self.hash_key_env, "")
            if not value:
                raise RedactionPolicyError(
                    f"redaction policy: hash_key_env names ${self.hash_key_env}, which is not set (or empty)"
                )
            return value.encode()
        assert self.hash_key_file is not None
        try:
            key = Path(self.hash_key_file).read_bytes().strip()
        except OSError as exc:
            raise RedactionPolicyError(
                f"redaction policy: cannot read hash_key_file {self.hash_key_file!r}: {exc.strerror}"
            ) from None
        if not key:
            raise RedactionPolicyError(f"redaction policy: hash_key_file {self.hash_key_file!r} is empty")
        return key


def _where(error: ValidationError, source: str) -> RedactionPolicyError:
    lines = []
    for err in error.errors(include_url=False):
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        lines.append(f"{loc}: {msg}" if loc else msg)
    return RedactionPolicyError(f"redaction policy {source}: " + "; ".join(lines))


def load_policy(source: RedactionPolicy | Mapping[str, Any] | str | os.PathLike[str]) -> RedactionPolicy:
    """Return the policy ``source`` is: a policy, a mapping, or the path of a JSON file.

    Raises:
        RedactionPolicyError: the file is missing or not JSON, or the policy is invalid (where, why).
    """
    if isinstance(source, RedactionPolicy):
        return source
    shown = "(given as a mapping)"
    if isinstance(source, str | os.PathLike):
        shown = f"'{os.fspath(source)}'"
        try:
            source = orjson.loads(Path(source).read_bytes())
        except OSError as exc:
            raise RedactionPolicyError(f"redaction policy {shown}: cannot read it: {exc.strerror}") from None
        except orjson.JSONDecodeError as exc:
            raise RedactionPolicyError(f"redaction policy {shown}: not JSON: {exc}") from None
        if not isinstance(source, dict):
            raise RedactionPolicyError(f"redaction policy {shown}: must be a JSON object")
    try:
        return RedactionPolicy.model_validate(dict(source))
    except ValidationError as exc:
        raise _where(exc, shown) from None
