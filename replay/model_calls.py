"""The run context's model-call recording: ``call_model`` / ``call_model_sync`` (see ``replay.models``)."""

from __future__ import annotations

import inspect
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import CostIncurred, LedgerEvent, ModelCalled, new_event_id
from projections.metrics import PriceTable
from replay.models import (
    ModelCallError,
    ModelDecision,
    ModelInvoke,
    ModelReply,
    ModelRequest,
    ModelSource,
    usage_of,
)


class ModelCallRecorder:
    """The model-call methods of :class:`~replay.RunContext` (a mixin, like ``FactRecorder``)."""

    workflow_id: str
    agent: str | None
    prices: PriceTable
    price_at: datetime | None
    models: ModelSource | None
    model_call_count: int

    def now(self) -> datetime:
        """The context's clock, as aware UTC."""
        raise NotImplementedError

    def _record(self, event: LedgerEvent) -> None:
        raise NotImplementedError

    def _decide(self, request: ModelRequest, index: int) -> ModelDecision:
        return ModelDecision(request) if self.models is None else self.models.decide(request, index)

    async def call_model(
        self, request: ModelRequest, invoke: ModelInvoke, *, agent: str | None = None
    ) -> ModelReply:
        """Call a model (or have the replay's tape answer) and record the call and its cost.

        Args:
            request: what is asked (JSON values only).
            invoke: how the model is really called; a replay may not call it at all.
            agent: the agent the call is recorded for (default: the context's).

        Raises:
            ModelCallError: the model (or the recording) failed; the failure is recorded.
            NotOnTapeError: a replay's tape cannot answer this call (a divergence, recorded).
        """
        index, started, decision = self._begin(request)
        try:
            reply = self._served(decision)
            if reply is None:
                result = (decision.invoke or invoke)(decision.request)
                reply = await result if inspect.isawaitable(result) else result
        except Exception as exc:
            self._model_event(decision.request, index, None, started, agent, error=_describe(exc))
            raise ModelCallError(decision.request.model, index, str(exc)) from exc
        self._model_event(decision.request, index, reply, started, agent)
        return reply

    def call_model_sync(
        self, request: ModelRequest, invoke: ModelInvoke, *, agent: str | None = None
    ) -> ModelReply:
        """:meth:`call_model` for synchronous code (``invoke`` must then be synchronous)."""
        index, started, decision = self._begin(request)
        try:
            reply = self._served(decision)
            if reply is None:
                result = (decision.invoke or invoke)(decision.request)
                if inspect.isawaitable(result):
                    if inspect.iscoroutine(result):
                        result.close()
                    raise TypeError("the model is async: use 'await ctx.call_model(...)'")
                reply = result
        except Exception as exc:
            self._model_event(decision.request, index, None, started, agent, error=_describe(exc))
            raise ModelCallError(decision.request.model, index, str(exc)) from exc
        self._model_event(decision.request, index, reply, started, agent)
        return reply

    def _begin(self, request: ModelRequest) -> tuple[int, float, ModelDecision]:
        """Number the call, start its clock, and decide who answers it (tape, own invoke, model)."""
        index = self.model_call_count
        self.model_call_count += 1
        return index, time.perf_counter(), self._decide(request, index)

    def start_model_call(self, request: ModelRequest, *, agent: str | None = None) -> PendingModelCall:
        """Begin a model call whose reply arrives piece by piece (a stream); finish it when whole.

        :meth:`call_model` in two halves, for a caller that cannot hand over an ``invoke``: the
        pending call says what to do — serve ``reply`` (a replay's tape answered), run
        ``invoke`` (a counterfactual's own), or call the model with ``request`` for real — and
        :meth:`PendingModelCall.finish` records the whole reply once (or ``fail`` the error).

        Raises:
            ModelCallError: the recording failed at this call (the failure is recorded).
            NotOnTapeError: a replay's tape cannot answer this call (a divergence, recorded).
        """
        index, started, decision = self._begin(request)
        try:
            reply = self._served(decision)
        except Exception as exc:
            self._model_event(decision.request, index, None, started, agent, error=_describe(exc))
            raise ModelCallError(decision.request.model, index, str(exc)) from exc
        return PendingModelCall(self, decision.request, index, agent, started, reply, decision.invoke)

    @staticmethod
    def _served(decision: ModelDecision) -> ModelReply | None:
        if decision.failure is not None:
            raise RecordedModelFailureError(decision.failure)
        return decision.reply

    def _model_event(
        self,
        request: ModelRequest,
        index: int,
        reply: ModelReply | None,
        started: float,
        agent: str | None,
        *,
        error: str | None = None,
    ) -> None:
        at = self.now()
        usage = usage_of(reply.usage) if reply is not None else {}
        cost = self._cost_event(request.model, usage, agent, at) if usage else None
        stored = request.as_json()
        self._record(
            ModelCalled(
                workflow_id=self.workflow_id,
                agent=agent or self.agent,
                model=request.model,
                messages=stored["messages"],
                parameters=stored["parameters"],
                tools=stored["tools"],
                response=None if reply is None else reply.response,
                usage=usage,
                success=error is None,
                error=error,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                call_index=index,
                request_hash=request.hash,
                cost_event_id=None if cost is None else cost.event_id,
                occurred_at=at,
            )
        )
        if cost is not None:
            self._record(cost)

    def _cost_event(
        self, model: str, usage: Mapping[str, int], agent: str | None, at: datetime
    ) -> CostIncurred:
        prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
        cached, written = usage.get("cached_tokens", 0), usage.get("cache_write_tokens", 0)
        reasoning = usage.get("reasoning_tokens", 0)
        price = self.prices.lookup(model, self.price_at or at)
        amount = None if price is None else price.cost(prompt, completion, cached, written, reasoning)
        return CostIncurred(
            event_id=new_event_id(),
            workflow_id=self.workflow_id,
            agent=agent or self.agent,
            category="llm",
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cache_write_tokens=written,
            reasoning_tokens=reasoning,
            amount=amount,
            price_version=None if price is None else price.version,
            status="unpriced" if amount is None else "priced",
            occurred_at=at,
        )


@dataclass
class PendingModelCall:
    """A model call begun by :meth:`ModelCallRecorder.start_model_call`, recorded once it ends.

    Attributes:
        request: what to ask (a counterfactual may have changed the request it was begun with).
        reply: the reply a replay's tape serves (``None``: the model must run).
        invoke: a counterfactual's own way to call the model (``None``: the real one).
    """

    recorder: ModelCallRecorder
    request: ModelRequest
    index: int
    agent: str | None
    started: float
    reply: ModelReply | None
    invoke: ModelInvoke | None
    done: bool = False

    def finish(self, reply: ModelReply) -> ModelReply:
        """Record the call with its whole reply (once) and return the reply."""
        if not self.done:
            self.done = True
            self.recorder._model_event(self.request, self.index, reply, self.started, self.agent)
        return reply

    def fail(self, exc: BaseException) -> ModelCallError:
        """Record the call as failed with ``exc`` (once); return the error to raise."""
        if not self.done:
            self.done = True
            self.recorder._model_event(
                self.request, self.index, None, self.started, self.agent, error=_describe(exc)
            )
        return ModelCallError(self.request.model, self.index, str(exc))


class RecordedModelFailureError(Exception):
    """A model failure served from a recording, carrying the recorded error text."""

    def __init__(self, recorded: str) -> None:
        self.recorded = recorded
        kind, sep, message = recorded.partition(": ")  # the original saw the message alone
        super().__init__(message if sep and kind.isidentifier() else recorded)


def _describe(exc: BaseException) -> str:
    return exc.recorded if isinstance(exc, RecordedModelFailureError) else f"{type(exc).__name__}: {exc}"


def reply_of(response: Any, usage: Mapping[str, Any] | None = None) -> ModelReply:
    """A :class:`ModelReply` from a recorded response and usage."""
    return ModelReply(response, dict(usage or {}))


__all__ = ["ModelCallRecorder", "PendingModelCall", "RecordedModelFailureError", "reply_of"]
