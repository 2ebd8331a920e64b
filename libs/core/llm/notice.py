"""What every surface says when the built-in mock model writes the text: the start-up banner,
``/healthz``, the UI, ``planwright submit`` and the mock's own first line. It is a placeholder, and
here is how to get real output."""

from __future__ import annotations

MOCK_NOTICE = (
    "mock model: placeholder text; set LLM_PROVIDER=openai, anthropic or openai_compatible for real output"
)
# One line each, by provider: what to run instead of a bare `make up`.
MOCK_RECIPES = {
    "OpenAI": "LLM_PROVIDER=openai OPENAI_API_KEY=sk-... make up",
    "Anthropic": "LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-... make up",
    "Ollama (local)": (
        "LLM_PROVIDER=openai_compatible LLM_BASE_URL=http://127.0.0.1:11434/v1 LLM_MODEL=llama3.1 make up"
    ),
}


def mock_advice(indent: str = "  ") -> str:
    """The notice and the recipes, one per line, for a terminal."""
    width = max(map(len, MOCK_RECIPES))
    lines = [
        MOCK_NOTICE,
        *(f"{indent}{name + ':':<{width + 1}} {line}" for name, line in MOCK_RECIPES.items()),
    ]
    return "\n".join(lines)
