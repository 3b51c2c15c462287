"""The guide's import name; its API re-exports come with issue #12."""

__all__: list[str] = []
