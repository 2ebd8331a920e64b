"""Money budgets before a call: the estimate, the refusal that never reaches the model, unknown prices,
and the policy's money limits as the file declares them."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from planwright.core import budget
from planwright.core.errors import ConfigError, CostBudgetExceeded
from planwright.core.llm import LLMClient, get_provider
from planwright.core.llm.base import ChatRequest
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.llm.prices import Price, PriceTable
from planwright.core.policy import PolicyEngine
from planwright.core.settings import Settings

# $10 per million tokens: 1,000 tokens cost $0.01.
PRICES = PriceTable(models={"gpt-4o-mini": Price(input=10.0, output=10.0)})


def client(fake: FakeModelServer, prices: PriceTable = PRICES) -> LLMClient:
    settings = Settings(llm_provider="openai", openai_api_key="sk-test", openai_base_url=fake.openai_url)
    return LLMClient(get_provider(settings), prices)


def test_the_estimate_is_the_prompt_and_every_output_token_it_may_write() -> None:
    request = ChatRequest("generate", "s" * 400, [("user", "u" * 4000)], max_output_tokens=1000)
    # 100 + 1,000 prompt tokens (about four characters a token) and 1,000 output tokens.
    assert budget.estimate_usd(PRICES, "gpt-4o-mini-2024-07-18", request) == pytest.approx(0.021)
    assert budget.estimate_usd(PRICES, "some-local-model", request) is None
    assert budget.usd(0.0123456) == "$0.0123"
    assert budget.smallest(None, 0.5, 0.25) == 0.25
    assert budget.smallest(None, None) is None
    assert budget.utc_day(datetime(2026, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))) == date(
        2026, 3, 2
    )
    assert budget.utc_day(datetime(2026, 3, 1, 23, 30, tzinfo=UTC)) == date(2026, 3, 1)


async def test_a_call_estimated_over_the_money_left_never_reaches_the_model() -> None:
    with FakeModelServer([Reply("one", input_tokens=500, output_tokens=500), Reply("two")]) as fake:
        llm = client(fake).metered(budget_usd=0.04)
        prompt = ChatRequest("generate", "", [("user", "Write a note")], max_output_tokens=2048)
        assert (await llm.chat(prompt)).text == "one"  # up to $0.0205 of $0.04: made, cost $0.01
        with pytest.raises(
            CostBudgetExceeded, match=r"would cost up to \$0.0350, more than the \$0.0300 left"
        ):
            await llm.chat(dataclasses.replace(prompt, max_output_tokens=3500))
        assert len(fake.requests) == 1
        assert (await llm.chat(prompt)).text == "two"  # within what is left: made
    assert len(fake.requests) == 2


async def test_a_model_without_a_price_cannot_be_budgeted_but_runs_without_a_budget() -> None:
    with FakeModelServer([Reply("free")]) as fake:
        with pytest.raises(CostBudgetExceeded, match="has no price in the price table"):
            await client(fake, PriceTable()).metered(budget_usd=10.0).complete("Write a note")
        assert fake.requests == []
        assert await client(fake, PriceTable()).metered().complete("Write a note") == "free"


def test_money_limits_in_the_policy_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "environments:\n  prod:\n    allowed_tools: ['*']\n    job: {max_cost_usd: 0.5}\n"
        "    budget:\n      daily_cost_usd: 20\n      tenants:\n        acme: {daily_cost_usd: 5}\n"
        "  dev:\n    allowed_tools: ['*']\n"
    )
    engine = PolicyEngine.load(path)
    assert engine.max_cost_usd("prod") == 0.5
    assert engine.daily_cost_usd("prod", "acme") == (
        5.0,
        "environments.prod.budget.tenants.acme.daily_cost_usd",
    )
    assert engine.daily_cost_usd("prod", "beta") == (20.0, "environments.prod.budget.daily_cost_usd")
    assert engine.max_cost_usd("dev") is None
    assert engine.daily_cost_usd("dev", "acme") is None
    path.write_text("environments:\n  prod:\n    budget: {tenants: {acme: {daily_cost_usd: 0}}}\n")
    with pytest.raises(
        ConfigError, match=r"environments.prod.budget.tenants.acme.daily_cost_usd: .*greater than 0"
    ):
        PolicyEngine.load(path)
    path.write_text("environments:\n  prod:\n    job: {max_cost_usd: -1}\n")
    with pytest.raises(ConfigError, match=r"environments.prod.job.max_cost_usd"):
        PolicyEngine.load(path)
