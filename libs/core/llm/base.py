"""What the platform needs from a language model; providers implement this protocol."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class LLMProvider(Protocol):
    """A text model. Implementations must be safe to share between concurrent tasks."""

    name: str

    async def complete(self, prompt: str, *, system: str | None = None) -> str:
        """The model's answer to ``prompt`` (markdown unless the prompt asks otherwise)."""
        ...

    async def summarize(self, text: str, *, max_sentences: int = 3) -> str:
        """A summary of ``text`` of at most ``max_sentences`` sentences."""
        ...
