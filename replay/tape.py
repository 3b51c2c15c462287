"""The tape: a recording's tool calls, served back by ordinal and compared with a re-run's."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger import ToolCalled
from replay.context import RunContext
from replay.redacted import NotComparable, compare_redacted
from replay.result import Difference, Significance, live_json, stored_json
from replay.tools import RecordedToolFailureError, ToolRegistry
from replay.values import NotReplayableValueError, from_json_value


class NotOnTapeError(LookupError):
    """A simulated call the tape cannot serve (raised into the orchestrator)."""


class TapeEndError(NotOnTapeError):
    """A call past the end of a trail cut at a checkpoint: the replay stops there, no divergence."""


class TapeRegistry(ToolRegistry):
    """Serves calls from the recording by ordinal; overrides and real tools where allowed."""

    def __init__(
        self,
        tape: list[ToolCalled],
        divergences: list[Difference],
        *,
        significance: Significance,
        overrides: Mapping[str, Any] | None = None,
        real: ToolRegistry | None = None,
        cut: bool = False,
        not_comparable: list[NotComparable] | None = None,
    ) -> None:
        super().__init__()
        # A tape cut at a checkpoint ends where the trail ends: what the original did after
        # the cut is not on it, so a call past its end stops the replay rather than diverging.
        self.cut = cut
        self.reached_cut = False
        self.tape = tape
        self.divergences = divergences
        self.significance = significance
        self.overrides = dict(overrides or {})
        self.real = real
        self.not_comparable = [] if not_comparable is None else not_comparable

    def _diverge(self, field_: str, index: int, original: Any, replayed: Any, text: str) -> None:
        self.divergences.append(
            Difference(field_, f"call {index}", self.significance, original, replayed, index, text)
        )

    def _serve(self, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        """Serve a call from an override or the tape (raising what the recording raised)."""
        if call_index >= len(self.tape) and self.cut:
            self.reached_cut = True
            raise TapeEndError(f"call {call_index} to '{name}' is past the trail's checkpoint")
        if call_index >= len(self.tape):
            self._diverge(
                "call",
                call_index,
                None,
                name,
                f"extra call to '{name}': the recording has no call {call_index}",
            )
            raise NotOnTapeError(f"call {call_index} to '{name}' is not on the tape")
        taped = self.tape[call_index]
        if taped.tool != name:
            self._diverge(
                "tool",
                call_index,
                taped.tool,
                name,
                f"called '{name}' where the recording called '{taped.tool}'",
            )
            raise NotOnTapeError(f"call {call_index}: the tape has '{taped.tool}', not '{name}'")
        differs, unknown = compare_redacted(
            taped, "arguments", stored_json(taped.arguments), live_json(arguments), call_index
        )
        self.not_comparable += unknown
        if differs:
            self._diverge(
                "arguments",
                call_index,
                taped.arguments,
                live_json(arguments),
                f"'{name}' called with other arguments",
            )
        if not taped.success:
            raise RecordedToolFailureError(taped.error or "recorded failure")
        try:
            return from_json_value(taped.result)
        except NotReplayableValueError as exc:
            self._diverge(
                "result",
                call_index,
                taped.result,
                None,
                f"'{name}' returned a value the tape cannot serve ({exc})",
            )
            raise

    async def call(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        if name in self.overrides:
            value = self.overrides[name]
            return value(**arguments) if callable(value) else value
        if self.real is not None and name in self.real:
            return await self.real.call(ctx, name, call_index, arguments)
        return self._serve(name, call_index, arguments)

    def call_sync(self, ctx: RunContext, name: str, call_index: int, arguments: dict[str, Any]) -> Any:
        if name in self.overrides:
            value = self.overrides[name]
            return value(**arguments) if callable(value) else value
        if self.real is not None and name in self.real:
            return self.real.call_sync(ctx, name, call_index, arguments)
        return self._serve(name, call_index, arguments)


def compare_calls(
    original: list[ToolCalled],
    replayed: list[ToolCalled],
    not_comparable: list[NotComparable] | None = None,
) -> list[Difference]:
    """Compare a re-run's tool calls with the recording's, ordinal by ordinal.

    Another tool, other arguments, a missing or extra call, or a call that now fails (or no
    longer does) is critical: the workflow did something else. A changed result alone is minor.
    What the recording holds redacted is left out of the comparison and added to
    ``not_comparable`` (:mod:`replay.redacted`).
    """
    unknown: list[NotComparable] = [] if not_comparable is None else not_comparable
    out: list[Difference] = []
    for i in range(max(len(original), len(replayed))):
        loc = f"call {i}"
        if i >= len(replayed):
            o = original[i]
            out.append(
                Difference(
                    "call", loc, "critical", o.tool, None, i, f"missing call: the recording called '{o.tool}'"
                )
            )
            continue
        if i >= len(original):
            r = replayed[i]
            out.append(Difference("call", loc, "critical", None, r.tool, i, f"extra call to '{r.tool}'"))
            continue
        o, r = original[i], replayed[i]
        if o.tool != r.tool:
            out.append(
                Difference(
                    "tool", loc, "critical", o.tool, r.tool, i, f"called '{r.tool}' instead of '{o.tool}'"
                )
            )
            continue
        differs, gone = compare_redacted(
            o, "arguments", stored_json(o.arguments), stored_json(r.arguments), i
        )
        unknown += gone
        if differs:
            out.append(
                Difference(
                    "arguments",
                    loc,
                    "critical",
                    o.arguments,
                    r.arguments,
                    i,
                    f"'{o.tool}' called with other arguments",
                )
            )
        if o.success != r.success:
            out.append(
                Difference(
                    "error",
                    loc,
                    "critical",
                    o.error,
                    r.error,
                    i,
                    f"'{o.tool}' {'now fails' if o.success else 'no longer fails'}",
                )
            )
        else:
            differs, gone = compare_redacted(o, "result", stored_json(o.result), stored_json(r.result), i)
            unknown += gone
            if differs:
                out.append(
                    Difference(
                        "result", loc, "minor", o.result, r.result, i, f"'{o.tool}' returned another result"
                    )
                )
    return out
