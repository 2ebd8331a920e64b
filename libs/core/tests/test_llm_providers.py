"""The real openai and anthropic SDKs, through the provider code, against the shipped fake model server."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from planwright.core.llm import LLMClient, LLMError, TokenBudgetExceeded, get_provider
from planwright.core.llm.base import ChatRequest, JsonSchema
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.llm.prices import PriceTable
from planwright.core.settings import Settings

PRICES = Path(__file__).parents[3] / "config" / "llm_prices.yaml"
KEY = "sk-test-0123456789-never-print-me"
SCHEMA = JsonSchema(
    "verdict",
    {
        "type": "object",
        "properties": {"verdict": {"type": "string"}},
        "required": ["verdict"],
        "additionalProperties": False,
    },
)


def provider_for(kind: str, fake: FakeModelServer, **extra):
    env: dict[str, Any]
    if kind == "openai":
        env = {"llm_provider": "openai", "openai_api_key": KEY, "openai_base_url": fake.openai_url}
    elif kind == "anthropic":
        env = {"llm_provider": "anthropic", "anthropic_api_key": KEY, "anthropic_base_url": fake.url}
    else:
        env = {"llm_provider": "openai_compatible", "llm_base_url": fake.openai_url, "llm_model": "llama3.1"}
    return get_provider(Settings(llm_max_retries=2, llm_timeout_s=5, **env, **extra))


KINDS = ["openai", "anthropic", "openai_compatible"]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_text_answer_with_its_tokens_and_cost(kind):
    with FakeModelServer([Reply("Queues hold work.", input_tokens=1200, output_tokens=300)]) as fake:
        llm = LLMClient(provider_for(kind, fake), PriceTable.load(PRICES))
        text = await llm.complete("Explain queues", system="Be brief.")
        await llm.provider.aclose()
    assert text == "Queues hold work."
    (call,) = llm.calls
    assert (call.provider, call.purpose, call.input_tokens, call.output_tokens) == (
        kind,
        "generate",
        1200,
        300,
    )
    expected = {"openai": "gpt-4o-mini", "anthropic": "claude-haiku-4-5", "openai_compatible": "llama3.1"}
    assert call.model == expected[kind]
    cost = {"openai": 0.00036, "anthropic": 0.0027, "openai_compatible": None}[kind]
    assert call.cost_usd == (pytest.approx(cost) if cost is not None else None)
    (request,) = fake.requests
    if kind == "anthropic":
        assert request.path == "/v1/messages"
        assert request.body["system"] == "Be brief."
        sent = request.headers.get("x-api-key") or request.headers["authorization"].removeprefix("Bearer ")
        assert sent == KEY
    else:
        assert request.path == "/v1/chat/completions"
        assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}
        bearer = "Bearer not-needed" if kind == "openai_compatible" else f"Bearer {KEY}"
        assert request.headers["authorization"] == bearer


@pytest.mark.parametrize("kind", KINDS)
async def test_structured_output_is_asked_for_in_each_protocol(kind):
    with FakeModelServer([Reply.json({"verdict": "approve"})]) as fake:
        provider = provider_for(kind, fake)
        result = await provider.chat(ChatRequest("judge", "Judge.", [("user", "x")], json_schema=SCHEMA))
        await provider.aclose()
    assert json.loads(result.text) == {"verdict": "approve"}
    body = fake.requests[0].body
    if kind == "anthropic":
        assert body["tools"][0]["input_schema"] == SCHEMA.schema
        assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    else:
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA.schema
        assert body["response_format"]["json_schema"]["strict"] is True
        # OpenAI's newer models take max_completion_tokens; compatible servers read max_tokens.
        assert ("max_completion_tokens" if kind == "openai" else "max_tokens") in body


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_429_then_a_500_are_retried_with_backoff_then_the_answer_arrives(kind):
    replies = [Reply.error(429, "slow down"), Reply.error(500, "oops"), Reply("done")]
    with FakeModelServer(replies) as fake:
        provider = provider_for(kind, fake)
        result = await provider.chat(ChatRequest("generate", "", [("user", "go")]))
        await provider.aclose()
    assert result.text == "done"
    assert len(fake.requests) == 3


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_after_the_retries_the_error_says_what_the_server_said_and_never_the_key(kind, caplog):
    caplog.set_level(logging.DEBUG)
    with FakeModelServer([Reply.error(503, "model overloaded")], repeat=True) as fake:
        provider = provider_for(kind, fake)
        with pytest.raises(LLMError) as caught:
            await provider.chat(ChatRequest("generate", "", [("user", "go")]))
        await provider.aclose()
    assert len(fake.requests) == 3  # the first try and LLM_MAX_RETRIES=2 more
    assert caught.value.details["status"] == 503
    assert "model overloaded" in caught.value.message
    assert KEY not in caught.value.message
    assert KEY not in caplog.text  # the SDKs' own debug logs included


async def test_a_spent_budget_refuses_the_call_and_a_small_one_caps_the_output():
    with FakeModelServer([Reply("x", input_tokens=96, output_tokens=5)]) as fake:
        llm = LLMClient(provider_for("openai", fake)).metered(budget_tokens=100)
        await llm.complete("first")
        assert fake.requests[0].body["max_completion_tokens"] == 100
        with pytest.raises(TokenBudgetExceeded, match="token budget is spent"):
            await llm.complete("second")
        await llm.provider.aclose()
    assert len(fake.requests) == 1


def test_an_unknown_model_has_no_price_and_the_longest_name_wins():
    table = PriceTable.load(PRICES)
    assert table.price("gpt-4o-mini-2024-07-18") == table.models["gpt-4o-mini"]
    assert table.cost("my-local-model", 10, 10) is None
    assert table.cost("gpt-4o", 1_000_000, 0) == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("status", "retryable"), [(None, True), (429, True), (503, True), (400, False), (401, False)]
)
def test_a_model_error_is_worth_retrying_only_when_it_may_pass(status, retryable):
    details = {} if status is None else {"status": status}
    assert LLMError("x", **details).retryable is retryable
