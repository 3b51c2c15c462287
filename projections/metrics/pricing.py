"""Model prices with effective dates: what a token cost when it was spent.

Prices are exact decimals per token. A lookup takes the newest entry effective on the day of the
spend, and its ``version`` is stored in the cost event, so a later price change never rewrites
history. An unknown model has no price: its cost is recorded as unpriced, never guessed.

Token convention (OpenAI's usage fields): ``cached_tokens`` and ``cache_write_tokens`` are part
of ``prompt_tokens``; ``reasoning_tokens`` are part of ``completion_tokens``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

_M = Decimal(1_000_000)


@dataclass(frozen=True)
class ModelPrice:
    """The price of one model from a date on (USD per token unless ``currency`` says otherwise).

    Cached-input, cache-write and reasoning prices fall back to the input or output price.
    """

    model: str
    effective_from: date
    input_per_token: Decimal
    output_per_token: Decimal
    cached_input_per_token: Decimal | None = None
    cache_write_per_token: Decimal | None = None
    reasoning_per_token: Decimal | None = None
    currency: str = "USD"
    source: str = "default"

    @property
    def version(self) -> str:
        """The identifier stored with every cost priced by this entry."""
        return f"{self.source}:{self.model}@{self.effective_from.isoformat()}"

    def cost(
        self,
        prompt: int,
        completion: int,
        cached: int = 0,
        cache_write: int = 0,
        reasoning: int = 0,
    ) -> Decimal:
        """Return the exact cost of the given token counts."""
        if cached + cache_write > prompt:
            raise ValueError(
                f"cached ({cached}) + cache-write ({cache_write}) tokens exceed prompt tokens ({prompt})"
            )
        if reasoning > completion:
            raise ValueError(f"reasoning tokens ({reasoning}) exceed completion tokens ({completion})")
        cached_price = self.cached_input_per_token
        write_price = self.cache_write_per_token
        reasoning_price = self.reasoning_per_token
        return (
            (prompt - cached - cache_write) * self.input_per_token
            + cached * (self.input_per_token if cached_price is None else cached_price)
            + cache_write * (self.input_per_token if write_price is None else write_price)
            + (completion - reasoning) * self.output_per_token
            + reasoning * (self.output_per_token if reasoning_price is None else reasoning_price)
        )


def _per_million(
    model: str,
    day: str,
    inp: str,
    out: str,
    cached: str | None = None,
    write: str | None = None,
) -> ModelPrice:
    return ModelPrice(
        model=model,
        effective_from=date.fromisoformat(day),
        input_per_token=Decimal(inp) / _M,
        output_per_token=Decimal(out) / _M,
        cached_input_per_token=None if cached is None else Decimal(cached) / _M,
        cache_write_per_token=None if write is None else Decimal(write) / _M,
    )


DEFAULT_PRICES: tuple[ModelPrice, ...] = (
    # The user's guide prices gpt-4 per 1K tokens: $0.03 prompt, $0.06 completion.
    _per_million("gpt-4", "2023-03-14", "30", "60"),
    _per_million("gpt-4-turbo", "2024-04-09", "10", "30"),
    _per_million("gpt-4o", "2024-05-13", "5", "15"),
    _per_million("gpt-4o", "2024-08-06", "2.50", "10", cached="1.25"),
    _per_million("gpt-4o-mini", "2024-07-18", "0.15", "0.60", cached="0.075"),
    _per_million("gpt-4.1", "2025-04-14", "2", "8", cached="0.50"),
    _per_million("gpt-4.1-mini", "2025-04-14", "0.40", "1.60", cached="0.10"),
    _per_million("o1", "2024-12-17", "15", "60", cached="7.50"),
    _per_million("o3-mini", "2025-01-31", "1.10", "4.40", cached="0.55"),
    _per_million("gpt-3.5-turbo", "2024-01-25", "0.50", "1.50"),
    _per_million("claude-3-5-sonnet", "2024-06-20", "3", "15", cached="0.30", write="3.75"),
    _per_million("claude-3-5-haiku", "2024-11-04", "0.80", "4", cached="0.08", write="1"),
    _per_million("claude-3-opus", "2024-03-04", "15", "75", cached="1.50", write="18.75"),
    _per_million("claude-sonnet-4", "2025-05-22", "3", "15", cached="0.30", write="3.75"),
    _per_million("gemini-1.5-pro", "2024-10-01", "1.25", "5"),
    _per_million("gemini-1.5-flash", "2024-08-12", "0.075", "0.30"),
)
"""A sensible current default table; override or extend it with :meth:`PriceTable.with_prices`."""


class PriceTable:
    """An immutable set of effective-dated model prices."""

    def __init__(self, prices: Iterable[ModelPrice] = DEFAULT_PRICES) -> None:
        by_model: dict[str, list[ModelPrice]] = {}
        for p in prices:
            by_model.setdefault(p.model, []).append(p)
        self._by_model = {m: sorted(ps, key=lambda p: p.effective_from) for m, ps in by_model.items()}

    @property
    def models(self) -> list[str]:
        """Every model with a price."""
        return sorted(self._by_model)

    def with_prices(self, prices: Iterable[ModelPrice], *, replace: bool = True) -> PriceTable:
        """Return a table with ``prices`` added; ``replace`` drops older entries of those models."""
        new = list(prices)
        replaced = {p.model for p in new} if replace else set()
        kept = [p for ps in self._by_model.values() for p in ps if p.model not in replaced]
        return PriceTable([*kept, *new])

    def lookup(self, model: str, at: datetime | date) -> ModelPrice | None:
        """Return the entry in force for ``model`` on the day of ``at``, or ``None``.

        A provider prefix (``openai/gpt-4o``) is accepted; no other name is matched loosely.
        """
        entries = self._by_model.get(model)
        if entries is None and "/" in model:
            entries = self._by_model.get(model.rsplit("/", 1)[1])
        if not entries:
            return None
        day = at.date() if isinstance(at, datetime) else at
        current = None
        for p in entries:
            if p.effective_from <= day:
                current = p
        return current

    @classmethod
    def from_litellm(
        cls,
        data: Mapping[str, Any] | str | Path,
        *,
        effective_from: date,
        base: PriceTable | None = None,
    ) -> PriceTable:
        """Return ``base`` (default prices) overridden by a LiteLLM-style price map.

        Entries need ``input_cost_per_token`` and ``output_cost_per_token``; optional
        ``cache_read_input_token_cost``, ``cache_creation_input_token_cost`` and
        ``output_cost_per_reasoning_token`` are used. Other entries (images, audio) are skipped.
        """
        table: Mapping[str, Any] = (
            orjson.loads(Path(data).read_bytes()) if isinstance(data, str | Path) else data
        )
        prices = []
        for model, entry in table.items():
            if not isinstance(entry, Mapping):
                continue
            inp, out = entry.get("input_cost_per_token"), entry.get("output_cost_per_token")
            if inp is None or out is None:
                continue

            def dec(value: Any) -> Decimal | None:
                # repr of a float is its shortest round-trip form: 2.5e-06 -> Decimal("0.0000025").
                return (
                    None
                    if value is None
                    else Decimal(repr(value) if isinstance(value, float) else str(value))
                )

            prices.append(
                ModelPrice(
                    model=model,
                    effective_from=effective_from,
                    input_per_token=dec(inp) or Decimal(0),
                    output_per_token=dec(out) or Decimal(0),
                    cached_input_per_token=dec(entry.get("cache_read_input_token_cost")),
                    cache_write_per_token=dec(entry.get("cache_creation_input_token_cost")),
                    reasoning_per_token=dec(entry.get("output_cost_per_reasoning_token")),
                    source="litellm",
                )
            )
        return (base or cls()).with_prices(prices)
