"""The guide's import name; its API re-exports come with issue #12."""

from __future__ import annotations

__all__: list[str] = []
