"""Two tools, declared with ``@tool``: the entry point in pyproject.toml names this module."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, Field

from planwright.tools import ToolCall, ToolError, tool


class WordCount(BaseModel):
    words: int
    lines: int
    top: list[str] = Field(description="The most frequent words, most frequent first.")


@tool(name="example.word_count", timeout_s=10)
def word_count(
    call: ToolCall,
    text: Annotated[str, Field(max_length=1_000_000, description="The text to count.")],
    top: Annotated[int, Field(ge=0, le=50)] = 5,
) -> WordCount:
    """Count the words and lines of a text and name its most frequent words.

    A sync function: Planwright runs it in a thread, so it never blocks the event loop.
    """
    words = re.findall(r"[\w']+", text.lower())
    call.report(f"counted {len(words)} words")  # sync tools report progress with call.report
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    return WordCount(words=len(words), lines=len(text.splitlines()), top=ranked[:top])


@tool(name="example.greet")
async def greet(call: ToolCall, name: str) -> str:
    """Greet someone in the job's language: context_json's "language" (en, de, fr), English by default."""
    greetings = {"en": "Hello", "de": "Hallo", "fr": "Bonjour"}
    language = str(call.context.get("language", "en"))
    if language not in greetings:
        raise ToolError(f"no greeting for language {language!r}; known: {', '.join(greetings)}")
    await call.progress(f"greeting in {language}")
    return f"{greetings[language]}, {name}!"
