"""Tools an orchestrator calls: the registry that runs them and the errors a call can raise."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from replay.context import RunContext

ToolFunction = Callable[..., Any]


class ToolError(Exception):
    """A tool raised; the error is recorded on its ``ToolCalled`` event and re-raised as this."""

    def __init__(self, tool: str, call_index: int, message: str) -> None:
        self.tool = tool
        self.call_index = call_index
        super().__init__(f"tool '{tool}' (call {call_index}) failed: {message}")


class UnknownToolError(LookupError):
    """The registry has no tool of that name."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name = name
        super().__init__(f"no tool named '{name}' (registered: {', '.join(known) or 'none'})")


class ToolRegistry:
    """Named tools (plain or ``async`` callables taking keyword arguments)."""

    def __init__(self, tools: Mapping[str, ToolFunction] | None = None) -> None:
        self._tools: dict[str, ToolFunction] = dict(tools or {})

    def register(self, name: str, tool: ToolFunction) -> None:
        """Add or replace a tool."""
        self._tools[name] = tool

    def get(self, name: str) -> ToolFunction:
        """Return the tool called ``name`` or raise :class:`UnknownToolError`."""
        try:
            return self._tools[name]
        except KeyError:
            raise UnknownToolError(name, sorted(self._tools)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    @property
    def names(self) -> list[str]:
        """The registered tool names."""
        return sorted(self._tools)

    async def call(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        """Run a tool and return its result (awaiting it if it is a coroutine)."""
        del ctx, call_index  # a plain registry runs the real tool whatever the ordinal
        result = self.get(name)(**arguments)
        if inspect.isawaitable(result):
            result = await result
        return result

    def call_sync(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        """Run a synchronous tool and return its result."""
        del ctx, call_index
        result = self.get(name)(**arguments)
        if inspect.isawaitable(result):
            if inspect.iscoroutine(result):
                result.close()  # never awaited: close it rather than leak a warning
            raise TypeError(f"tool '{name}' is async: use 'await ctx.call_tool(...)'")
        return result


Tools = ToolRegistry | Mapping[str, ToolFunction]
"""What every API taking tools accepts: a :class:`ToolRegistry` or a plain mapping name → callable."""


def as_tool_registry(tools: Tools | None) -> ToolRegistry | None:
    """``tools`` as a :class:`ToolRegistry` (a mapping is wrapped; ``None`` stays ``None``)."""
    if tools is None or isinstance(tools, ToolRegistry):
        return tools
    if isinstance(tools, Mapping):
        return ToolRegistry(tools)
    raise TypeError(
        f"a tool registry is a ToolRegistry or a mapping of tool name to callable, not {type(tools).__name__}"
    )


class RecordedToolFailureError(Exception):
    """A tool failure served from a recording, carrying the recorded error text.

    A failed call is recorded as ``"<ExceptionType>: <message>"``; the orchestrator saw the
    message. Replaying it must show the orchestrator the same message and record the same text.
    """

    def __init__(self, recorded: str) -> None:
        self.recorded = recorded
        kind, sep, message = recorded.partition(": ")
        super().__init__(message if sep and kind.isidentifier() else recorded)


def describe_error(exc: BaseException) -> str:
    """The error text recorded for a failed tool call (a replayed failure keeps the original)."""
    return exc.recorded if isinstance(exc, RecordedToolFailureError) else f"{type(exc).__name__}: {exc}"
