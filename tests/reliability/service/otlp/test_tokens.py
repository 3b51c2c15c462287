"""Token usage: every spelling read and recorded, cached tokens priced once, nothing guessed."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from ledger import CostIncurred, Ledger, open_ledger
from reliability.service.otlp import ingest_otlp_sync
from tests.reliability.service.otlp.build import Span, json_body, protobuf

GPT_4O_IN, GPT_4O_CACHED, GPT_4O_OUT = Decimal("2.50") / 10**6, Decimal("1.25") / 10**6, Decimal(10) / 10**6


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    with open_ledger("memory://") as opened:
        yield opened


def cost_of(ledger: Ledger, attributes: dict[str, Any]) -> CostIncurred:
    span = Span("2000000000000001", "chat gpt-4o", {"gen_ai.operation.name": "chat", **attributes})
    answer = ingest_otlp_sync(ledger, protobuf([span]), content_type="application/x-protobuf")
    assert answer.spans_rejected == 0, answer.body
    (recorded,) = ledger.read()
    assert isinstance(recorded.event, CostIncurred)
    return recorded.event


def test_cached_tokens_inside_input_are_priced_once_at_the_cached_price(ledger: Ledger) -> None:
    cost = cost_of(
        ledger,
        {
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.provider.name": "openai",
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 200,
            "gen_ai.usage.cache_read.input_tokens": 400,
        },
    )

    assert (cost.prompt_tokens, cost.cached_tokens, cost.completion_tokens) == (1000, 400, 200)
    assert cost.amount == 600 * GPT_4O_IN + 400 * GPT_4O_CACHED + 200 * GPT_4O_OUT == Decimal("0.004")
    assert (cost.model, cost.provider, cost.status) == ("gpt-4o", "openai", "priced")
    assert cost.price_version == "default:gpt-4o@2024-08-06"


def test_an_input_count_without_the_cache_buckets_gets_them_added_not_subtracted(ledger: Ledger) -> None:
    # Anthropic's API reports input_tokens without cache reads and writes: 100 fresh + 400 + 50.
    cost = cost_of(
        ledger,
        {
            "gen_ai.request.model": "claude-sonnet-4",
            "gen_ai.system": "anthropic",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.output_tokens": 10,
            "gen_ai.usage.cache_read_input_tokens": 400,
            "gen_ai.usage.cache_creation_input_tokens": 50,
        },
    )

    assert (cost.prompt_tokens, cost.cached_tokens, cost.cache_write_tokens) == (550, 400, 50)
    per_m = Decimal(10) ** 6
    assert cost.amount == (100 * 3 + 400 * Decimal("0.30") + 50 * Decimal("3.75") + 10 * 15) / per_m
    assert cost.provider == "anthropic"


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}, (10, 5, 0, 0, 0)),
        ({"gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5}, (10, 5, 0, 0, 0)),
        ({"llm.usage.prompt_tokens": 10, "llm.usage.completion_tokens": 5}, (10, 5, 0, 0, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read.input_tokens": 4}, (10, 0, 4, 0, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_read_input_tokens": 4}, (10, 0, 4, 0, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.input_tokens.cached": 4}, (10, 0, 4, 0, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_creation.input_tokens": 3}, (10, 0, 0, 3, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_write.input_tokens": 3}, (10, 0, 0, 3, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_creation_input_tokens": 3}, (10, 0, 0, 3, 0)),
        ({"gen_ai.usage.input_tokens": 10, "gen_ai.usage.cache_write_input_tokens": 3}, (10, 0, 0, 3, 0)),
        ({"gen_ai.usage.output_tokens": 9, "gen_ai.usage.reasoning.output_tokens": 6}, (0, 9, 0, 0, 6)),
        ({"gen_ai.usage.output_tokens": 9, "gen_ai.usage.reasoning_tokens": 6}, (0, 9, 0, 0, 6)),
    ],
)
def test_every_spelling_is_read_and_recorded(
    ledger: Ledger, attributes: dict[str, int], expected: tuple[int, ...]
) -> None:
    cost = cost_of(ledger, {"gen_ai.request.model": "my-model", **attributes})

    counts = (
        cost.prompt_tokens,
        cost.completion_tokens,
        cost.cached_tokens,
        cost.cache_write_tokens,
        cost.reasoning_tokens,
    )
    assert counts == expected
    assert set(cost.usage_attributes) == set(attributes)
    assert (cost.status, cost.amount) == ("unpriced", None)  # an unknown model is never $0


def test_reasoning_outside_the_output_count_is_added(ledger: Ledger) -> None:
    cost = cost_of(ledger, {"gen_ai.usage.output_tokens": 3, "gen_ai.usage.reasoning.output_tokens": 6})

    assert (cost.completion_tokens, cost.reasoning_tokens) == (9, 6)


def test_response_model_wins_over_request_model(ledger: Ledger) -> None:
    cost = cost_of(ledger, {"gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-mini"})

    assert cost.model == "gpt-4o-mini"


@pytest.mark.parametrize(
    ("attributes", "why"),
    [
        (
            {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 12},
            "token counts disagree: gen_ai.usage.input_tokens=10, gen_ai.usage.prompt_tokens=12",
        ),
        ({"gen_ai.usage.input_tokens": -1}, "gen_ai.usage.input_tokens -1 is not a non-negative integer"),
        ({"gen_ai.usage.output_tokens": "many"}, "gen_ai.usage.output_tokens 'many' is not a non-negative"),
        ({"gen_ai.usage.output_tokens": True}, "gen_ai.usage.output_tokens is a boolean"),
    ],
)
def test_counts_that_cannot_be_taken_reject_the_span(
    ledger: Ledger, attributes: dict[str, Any], why: str
) -> None:
    span = Span("2000000000000001", "chat gpt-4o", {"gen_ai.operation.name": "chat", **attributes})

    answer = ingest_otlp_sync(ledger, json_body([span]), content_type="application/json")

    assert answer.spans_rejected == 1
    assert why in orjson.loads(answer.body)["partialSuccess"]["errorMessage"]
    assert list(ledger.read()) == []


def test_agreeing_spellings_of_one_bucket_are_fine(ledger: Ledger) -> None:
    cost = cost_of(ledger, {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 10})

    assert cost.prompt_tokens == 10
    assert cost.usage_attributes == ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
