"""Language model providers. The mock one is the default, so everything runs without keys."""

from __future__ import annotations

from planwright.core.errors import ConfigError
from planwright.core.llm.base import LLMProvider
from planwright.core.llm.mock import MockProvider

__all__ = ["LLMProvider", "MockProvider", "get_provider"]


def get_provider(name: str) -> LLMProvider:
    """The provider called ``name`` (the ``LLM_PROVIDER`` setting); ``ConfigError`` if there is none."""
    if name.strip().lower() == "mock":
        return MockProvider()
    raise ConfigError(
        f"LLM provider {name!r} is not available; supported providers: mock (set LLM_PROVIDER=mock)",
        provider=name,
    )
