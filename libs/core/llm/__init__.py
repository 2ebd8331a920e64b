"""Language model providers. The mock one is the default, so everything runs without keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planwright.core.errors import LLMError, TokenBudgetExceeded
from planwright.core.llm.base import LLMCall, LLMProvider
from planwright.core.llm.client import LLMClient
from planwright.core.llm.mock import MockProvider
from planwright.core.llm.notice import MOCK_NOTICE, MOCK_RECIPES, mock_advice
from planwright.core.llm.prices import PriceTable

if TYPE_CHECKING:
    from planwright.core.settings import Settings

__all__ = [
    "MOCK_NOTICE",
    "MOCK_RECIPES",
    "LLMCall",
    "LLMClient",
    "LLMError",
    "LLMProvider",
    "MockProvider",
    "TokenBudgetExceeded",
    "get_provider",
    "make_client",
    "mock_advice",
]


def get_provider(settings: Settings) -> LLMProvider:
    """The provider LLM_PROVIDER names, configured from the settings (which checked the keys)."""
    model, timeout_s, retries = settings.model, settings.llm_timeout_s, settings.llm_max_retries
    match settings.llm_provider:
        case "openai" | "openai_compatible":
            from planwright.core.llm.openai_provider import OpenAIProvider

            compatible = settings.llm_provider == "openai_compatible"
            secret = settings.llm_api_key if compatible else settings.openai_api_key
            return OpenAIProvider(
                model=model,
                api_key=secret.get_secret_value() if secret else "not-needed",
                base_url=settings.llm_base_url if compatible else settings.openai_base_url,
                timeout_s=timeout_s,
                max_retries=retries,
                name=settings.llm_provider,
            )
        case "anthropic":
            from planwright.core.llm.anthropic_provider import AnthropicProvider

            assert settings.anthropic_api_key is not None
            return AnthropicProvider(
                model=model,
                api_key=settings.anthropic_api_key.get_secret_value(),
                base_url=settings.anthropic_base_url,
                timeout_s=timeout_s,
                max_retries=retries,
            )
        case _:
            return MockProvider()


def make_client(settings: Settings) -> LLMClient:
    """The process's metered client: the configured provider and the price table."""
    return LLMClient(get_provider(settings), PriceTable.load(settings.llm_prices_path))
