"""The model tape: a recording's model calls served back by ordinal, and the counterfactual change.

Simulated and strict replays serve every model call from the recording by its ordinal (model
call 0, 1, …): the request is compared with the recorded one by its hash, and a different
request is a divergence at that ordinal. The recorded reply answers a different question, so by
default the replay stops there (``NotOnTapeError`` into the orchestrator). With
``fallback="hash"`` a call whose request differs is served instead by an unused recorded call
with the same request hash (a reordered run finds its replies), reported as a minor difference;
a request found nowhere on the tape still stops the replay.

Counterfactual replays serve the calls before the change from the tape (while their requests
are the recorded ones); from the changed call on, every call runs for real — the orchestrator's
own model, or the ``invoke`` the :class:`ModelChange` supplies (a fake) — with the change
applied (another model, other parameters, another system prompt).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from ledger import ModelCalled
from replay.models import ModelDecision, ModelInvoke, ModelReply, ModelRequest
from replay.result import Difference, Significance
from replay.tape import NotOnTapeError, TapeEndError

Fallback = Literal["ordinal", "hash"]


@dataclass(frozen=True)
class ModelChange:
    """What a counterfactual replay changes in the model calls.

    Attributes:
        model: call this model instead (its name, priced from the price table).
        parameters: parameters merged over each request's (``{"temperature": 0.9}``).
        prompt: the system prompt: a string replaces the first ``system`` message's content
            (or is put first when there is none); a callable maps the messages to new ones.
        from_call: the first model call (ordinal) the change applies to; calls before it are
            served from the tape.
        invoke: the model the changed calls run on (a fake in tests); default: the
            orchestrator's own.
    """

    model: str | None = None
    parameters: Mapping[str, Any] | None = None
    prompt: str | Callable[[list[Any]], list[Any]] | None = None
    from_call: int = 0
    invoke: ModelInvoke | None = None

    def apply(self, request: ModelRequest) -> ModelRequest:
        """Return the request with the change applied."""
        messages = list(request.messages)
        if callable(self.prompt):
            messages = list(self.prompt(messages))
        elif self.prompt is not None:
            at = next((i for i, m in enumerate(messages) if _role(m) == "system"), None)
            if at is None:
                messages.insert(0, {"role": "system", "content": self.prompt})
            else:
                messages[at] = {**messages[at], "content": self.prompt}
        return replace(
            request,
            model=self.model or request.model,
            messages=tuple(messages),
            parameters={**request.parameters, **(self.parameters or {})},
        )


def _role(message: Any) -> Any:
    return message.get("role") if isinstance(message, Mapping) else None


def taped_request(call: ModelCalled) -> ModelRequest:
    """The request a recorded call made."""
    return ModelRequest(call.model, tuple(call.messages), dict(call.parameters), tuple(call.tools))


def _hash_of(call: ModelCalled) -> str:
    return call.request_hash or taped_request(call).hash


class ModelTape:
    """Serves model calls from the recording (see the module docstring)."""

    def __init__(
        self,
        tape: list[ModelCalled],
        divergences: list[Difference],
        *,
        significance: Significance,
        fallback: Fallback = "ordinal",
        cut: bool = False,
        change: ModelChange | None = None,
        counterfactual: bool = False,
    ) -> None:
        if fallback not in ("ordinal", "hash"):
            raise ValueError(f"fallback is 'ordinal' or 'hash', not {fallback!r}")
        self.tape = tape
        self.divergences = divergences
        self.significance = significance
        self.fallback = fallback
        self.cut = cut
        self.reached_cut = False
        self.change = change
        self.counterfactual = counterfactual
        self.live = False
        self._used: set[int] = set()

    def _diverge(
        self, field_: str, index: int, original: Any, replayed: Any, text: str, sig: Any = None
    ) -> None:
        where = f"model call {index}"
        self.divergences.append(
            Difference(field_, where, sig or self.significance, original, replayed, index, text)
        )

    def _serve(self, request: ModelRequest, index: int, call: ModelCalled) -> ModelDecision:
        self._used.add(index)
        if not call.success:
            return ModelDecision(request, failure=call.error or "recorded failure")
        return ModelDecision(request, reply=ModelReply(call.response, dict(call.usage)))

    def decide(self, request: ModelRequest, call_index: int) -> ModelDecision:
        """Serve model call ``call_index`` (see the module docstring)."""
        if self.counterfactual:
            return self._counterfactual(request, call_index)
        if call_index >= len(self.tape) and self.cut:
            self.reached_cut = True
            raise TapeEndError(f"model call {call_index} is past the trail's checkpoint")
        if call_index >= len(self.tape):
            self._diverge(
                "model_call",
                call_index,
                None,
                request.model,
                f"extra model call to '{request.model}': the recording has no model call {call_index}",
            )
            raise NotOnTapeError(f"model call {call_index} is not on the tape")
        taped = self.tape[call_index]
        if _hash_of(taped) == request.hash:
            return self._serve(request, call_index, taped)
        what = "model" if taped.model != request.model else "request"
        self._diverge(
            what,
            call_index,
            taped.model if what == "model" else taped_request(taped).as_json(),
            request.model if what == "model" else request.as_json(),
            f"called '{request.model}' where the recording called '{taped.model}'"
            if what == "model"
            else f"model call to '{request.model}' with another request (messages, parameters or tools)",
        )
        if self.fallback == "hash":
            for j, other in enumerate(self.tape):
                if j not in self._used and j != call_index and _hash_of(other) == request.hash:
                    self.divergences.pop()  # found: the call moved, it did not change
                    self._diverge(
                        "order",
                        call_index,
                        j,
                        call_index,
                        f"served by request hash from model call {j}",
                        "minor",
                    )
                    return self._serve(request, j, other)
        raise NotOnTapeError(f"model call {call_index}: the tape has another request")

    def _counterfactual(self, request: ModelRequest, call_index: int) -> ModelDecision:
        change = self.change
        if change is not None and call_index >= change.from_call:
            self.live = True
        if not self.live and call_index < len(self.tape):
            taped = self.tape[call_index]
            if _hash_of(taped) == request.hash:
                return self._serve(request, call_index, taped)
        # What follows a change runs for real: the tape does not know its replies.
        self.live = True
        if change is None:
            return ModelDecision(request)
        return ModelDecision(
            change.apply(request) if call_index >= change.from_call else request, invoke=change.invoke
        )

    def missing(self, made: int) -> None:
        """Report the recorded model calls a replay never made (after ``made`` calls)."""
        if self.counterfactual or self.cut:
            return
        if any(d.location.startswith("model call") for d in self.divergences):
            return  # the replay stopped at a divergence: what it did not reach is not "missing"
        for i in range(made, len(self.tape)):
            self._diverge(
                "model_call",
                i,
                self.tape[i].model,
                None,
                f"missing model call: the recording called '{self.tape[i].model}'",
            )


def _answer(response: Any) -> Any:
    # What a reply said, without its raw framework form (which carries per-run message ids).
    return {k: v for k, v in response.items() if k != "raw"} if isinstance(response, Mapping) else response


def compare_model_calls(original: list[ModelCalled], replayed: list[ModelCalled]) -> list[Difference]:
    """Compare a re-run's model calls with the recording's, ordinal by ordinal (all "expected").

    Used by counterfactual replays, whose differences are what the change caused: another
    model, another request, another reply, or a call made or no longer made.
    """
    out: list[Difference] = []
    for i in range(max(len(original), len(replayed))):
        loc = f"model call {i}"
        if i >= len(replayed):
            o = original[i]
            out.append(Difference("model_call", loc, "expected", o.model, None, i, "no longer made"))
            continue
        if i >= len(original):
            r = replayed[i]
            out.append(
                Difference("model_call", loc, "expected", None, r.model, i, f"new call to '{r.model}'")
            )
            continue
        o, r = original[i], replayed[i]
        if o.model != r.model:
            out.append(
                Difference(
                    "model", loc, "expected", o.model, r.model, i, f"'{r.model}' instead of '{o.model}'"
                )
            )
        elif _hash_of(o) != _hash_of(r):
            out.append(Difference("request", loc, "expected", None, None, i, "another request"))
        if _answer(o.response) != _answer(r.response) or o.success != r.success:
            out.append(Difference("response", loc, "expected", o.response, r.response, i, "another reply"))
    return out
