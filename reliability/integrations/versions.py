"""The framework versions each integration supports, checked when the integration is imported."""

from __future__ import annotations

import re
from importlib import metadata

from ledger import LedgerError

SUPPORTED: dict[str, tuple[str, str]] = {
    # distribution: (lowest supported, first unsupported): the ranges the tests ran on.
    "langgraph": ("1.0", "2"),
    "langchain-core": ("1.0", "2"),
    "openai-agents": ("0.24", "0.25"),
}
"""Distribution name → the supported range ``[low, high)`` (the extras pin the same)."""

_EXTRA = {"langgraph": "langgraph", "langchain-core": "langgraph", "openai-agents": "openai-agents"}


class FrameworkVersionError(LedgerError, ImportError):
    """A framework an integration needs is missing, or its version is outside the supported range.

    Attributes:
        distribution: the framework's package name (``langgraph``).
        installed: the installed version, or ``None`` when it is not installed.
        supported: the supported range, as ``>=low,<high``.
    """

    def __init__(self, distribution: str, installed: str | None, supported: str) -> None:
        self.distribution = distribution
        self.installed = installed
        self.supported = supported
        extra = _EXTRA.get(distribution, distribution)
        found = "is not installed" if installed is None else f"is {installed}, outside the supported range"
        super().__init__(
            f"{distribution} {found}: this integration supports {distribution}{supported} "
            f"(pip install 'reliability-ledger[{extra}]')"
        )


def _release(version: str) -> tuple[int, ...]:
    # The release numbers only: "1.2.24", "0.24.0rc1" → (1, 2, 24), (0, 24, 0).
    parts = []
    for piece in version.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() != len(piece):
            break
    return tuple(parts)


def require(distribution: str, installed: str | None = None) -> str:
    """Check that ``distribution`` is installed in its supported range; return its version.

    Args:
        distribution: a key of :data:`SUPPORTED`.
        installed: the version to check (default: the installed one; tests pass others).

    Raises:
        FrameworkVersionError: missing, or outside the range.
    """
    low, high = SUPPORTED[distribution]
    spec = f">={low},<{high}"
    if installed is None:
        try:
            installed = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            raise FrameworkVersionError(distribution, None, spec) from None
    if not _release(low) <= _release(installed) < _release(high):
        raise FrameworkVersionError(distribution, installed, spec)
    return installed
