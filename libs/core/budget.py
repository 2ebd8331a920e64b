"""Money budgets: what a model call is estimated to cost before it is made, and how money is written.

Pure: the policy's limits (``job.max_cost_usd``, ``budget.daily_cost_usd``) are enforced by the
Orchestrator after each call (services/api/orchestrator/governance.py) and, with the money left that
each dispatch carries, by ``LLMClient`` before each call (docs/llm.md#budgets, ADR 0027).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from planwright.core.llm.base import ChatRequest, estimate_tokens
from planwright.core.llm.prices import PriceTable


def usd(amount: float) -> str:
    """``$0.0123``: four decimals, enough for one cheap call and exact enough for a daily budget."""
    return f"${amount:.4f}"


def estimate_usd(prices: PriceTable, model: str, request: ChatRequest) -> float | None:
    """The most ``request`` may cost on ``model``: its prompt's estimated tokens plus all of its
    ``max_output_tokens``; None when the model has no price."""
    prompt = [request.system, *(content for _, content in request.messages)]
    if request.json_schema is not None:
        prompt.append(str(request.json_schema.schema))
    tokens_in = sum(estimate_tokens(text) for text in prompt)
    return prices.cost(model, tokens_in, request.max_output_tokens)


def smallest(*amounts: float | None) -> float | None:
    """The tightest of the limits that apply (None: no limit at all)."""
    present = [a for a in amounts if a is not None]
    return min(present) if present else None


def utc_day(moment: datetime) -> date:
    """The UTC day a moment counts in (daily budgets and GET /usage count in UTC days)."""
    offset = moment.utcoffset() or timedelta(0)
    return (moment - offset).date()
