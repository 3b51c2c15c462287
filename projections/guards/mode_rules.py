"""What an action name means to a mode: word splitting, read/write/unknown, and the mode rules.

An action or tool name is split into words (on ``_``, ``-``, ``.``, spaces and any other
punctuation, and on camelCase) and matched case-insensitively on whole words, so
``get_runtime`` is a read, not a ``run``. A name with any write word is a write, even if it also
has a read word; a name with neither is unknown. The word lists are configuration
(:class:`ModeRules`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum


class AgentMode(StrEnum):
    """An agent's operating mode."""

    EXPLORE = "explore"
    EXECUTE = "execute"
    ESCALATE = "escalate"


class ActionKind(StrEnum):
    """What an action name says it does."""

    READ = "read"
    WRITE = "write"
    UNKNOWN = "unknown"


DEFAULT_READ_WORDS = frozenset(
    ("search", "lookup", "read", "get", "fetch", "query", "analyze", "list", "describe")
)
DEFAULT_WRITE_WORDS = frozenset(
    (
        "write",
        "update",
        "delete",
        "create",
        "modify",
        "execute",
        "run",
        "insert",
        "remove",
        "drop",
        "send",
        "post",
        "put",
    )
)

_SEPARATORS = re.compile(r"[\W_]+")
# An upper-case run not followed by lower case (an acronym), a capitalised or lower-case word
# (any non-ASCII letter counts as lower case), or digits.
_CAMEL = re.compile(r"[A-Z]+(?![^\W\dA-Z_])|[A-Z]?[^\W\dA-Z_]+|\d+")


def split_words(name: str) -> list[str]:
    """Split an action or tool name into lower-case words (``getRuntime`` → ``get``, ``runtime``)."""
    return [w.lower() for part in _SEPARATORS.split(name) for w in _CAMEL.findall(part)]


def _words(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.strip().lower() for v in values if v.strip())


@dataclass(frozen=True)
class ModeRules:
    """The enforcer's configuration: word lists, what EXPLORE does with unknown verbs, the default mode.

    Attributes:
        read_words: words that make an action a read (any set of strings; kept lower-cased).
        write_words: words that make an action a write (they win over read words).
        explore_allows_unknown: let EXPLORE agents run actions with no known verb.
        default_mode: the mode of an agent whose mode was never set.
    """

    read_words: AbstractSet[str] = DEFAULT_READ_WORDS
    write_words: AbstractSet[str] = DEFAULT_WRITE_WORDS
    explore_allows_unknown: bool = False
    default_mode: AgentMode = AgentMode.EXPLORE

    def __post_init__(self) -> None:
        object.__setattr__(self, "read_words", _words(self.read_words))
        object.__setattr__(self, "write_words", _words(self.write_words))
        object.__setattr__(self, "default_mode", AgentMode(self.default_mode))

    def classify(self, action: str) -> ActionKind:
        """Return whether ``action`` is a read, a write (any write word) or unknown."""
        words = set(split_words(action))
        if words & self.write_words:
            return ActionKind.WRITE
        if words & self.read_words:
            return ActionKind.READ
        return ActionKind.UNKNOWN

    def allows(self, mode: AgentMode, action: str) -> bool:
        """True when ``mode`` permits ``action`` without anyone's approval."""
        if mode is AgentMode.EXECUTE:
            return True
        if mode is AgentMode.EXPLORE:
            kind = self.classify(action)
            return kind is ActionKind.READ or (kind is ActionKind.UNKNOWN and self.explore_allows_unknown)
        return False
