"""Token counts of a GenAI span, read under every spelling the conventions and emitters use.

The GenAI conventions (all still "Development") count cached tokens *inside*
``gen_ai.usage.input_tokens``, cache reads and cache writes alike, and reasoning tokens inside
``gen_ai.usage.output_tokens`` — the ledger's own convention for ``CostIncurred`` (see
``projections.metrics.pricing``), so each bucket is priced once: fresh input at the input
price, cached reads at the cached price, never both. Some emitters (Anthropic's own API shape)
report the input *without* the cache buckets; that is visible when the buckets exceed the input
count, and then the input is taken as exclusive and the buckets are added back, never
subtracted twice. Two spellings of one bucket that disagree reject the span: no number is
guessed. Every attribute read is recorded (``CostIncurred.usage_attributes``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

INPUT = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",  # the conventions before 1.27; OpenLLMetry
    "llm.usage.prompt_tokens",
)
OUTPUT = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.usage.completion_tokens",
)
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",  # OpenLLMetry, Anthropic-style underscores
    "gen_ai.usage.input_tokens.cached",
    "gen_ai.usage.cached_tokens",
)
CACHE_WRITE = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_write.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_write_input_tokens",
    "gen_ai.usage.input_tokens.cache_write",
)
REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "gen_ai.usage.output_tokens.reasoning",
)
ALL_SPELLINGS = frozenset((*INPUT, *OUTPUT, *CACHE_READ, *CACHE_WRITE, *REASONING))


@dataclass(frozen=True)
class TokenUsage:
    """Token counts in the ledger's convention: cache buckets inside prompt, reasoning inside completion.

    Attributes:
        prompt: every input token, fresh, cached and cache-written.
        completion: every output token, reasoning included.
        cached: input tokens read from a provider's cache.
        cache_write: input tokens written to a provider's cache.
        reasoning: output tokens spent on reasoning.
        attributes: the span attributes the counts were read from, in the order above.
    """

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    cache_write: int = 0
    reasoning: int = 0
    attributes: tuple[str, ...] = ()


class UsageError(ValueError):
    """A token count that cannot be taken (not a count, or two spellings disagreeing)."""


def read_usage(attributes: Mapping[str, Any]) -> TokenUsage:
    """The span's token usage, under whichever spellings arrived.

    Raises:
        UsageError: a count is not a non-negative integer, or two spellings of one bucket differ.
    """
    seen: list[str] = []
    prompt = _bucket(attributes, INPUT, seen)
    completion = _bucket(attributes, OUTPUT, seen)
    cached = _bucket(attributes, CACHE_READ, seen)
    cache_write = _bucket(attributes, CACHE_WRITE, seen)
    reasoning = _bucket(attributes, REASONING, seen)
    if cached + cache_write > prompt:
        # The input count cannot hold buckets larger than itself: this emitter reported it
        # without them (Anthropic's shape), so they are added, once.
        prompt += cached + cache_write
    if reasoning > completion:
        completion += reasoning
    return TokenUsage(prompt, completion, cached, cache_write, reasoning, tuple(seen))


def _bucket(attributes: Mapping[str, Any], spellings: tuple[str, ...], seen: list[str]) -> int:
    found: dict[str, int] = {}
    for key in spellings:
        if key in attributes:
            found[key] = _count(key, attributes[key])
    if len(set(found.values())) > 1:
        listed = ", ".join(f"{k}={v}" for k, v in found.items())
        raise UsageError(f"token counts disagree: {listed}")
    seen.extend(found)
    return next(iter(found.values()), 0)


def _count(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise UsageError(f"{key} is a boolean, not a token count")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise UsageError(f"{key} {value!r} is not a non-negative integer")
    return value
