"""What the platform needs from a language model, and what every call to one costs.

A provider turns one ``ChatRequest`` into one ``ChatResult``; it knows its wire protocol and nothing
else. ``LLMClient`` (llm/client.py) is what the planner, tools and critic hold: it meters each call
(tokens, latency, estimated cost) and keeps a job inside its token budget.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, Field

from planwright.core.errors import LLMError

Purpose = Literal["plan", "replan", "generate", "summarize", "judge"]
# Receives the model's text as it streams, piece by piece (with a json_schema: the JSON as written).
TextSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class JsonSchema:
    """Ask for structured output: the answer must be JSON valid against ``schema``."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class ChatRequest:
    purpose: Purpose
    system: str
    # (role, content) turns, role "user" or "assistant"; the last one is the user's.
    messages: list[tuple[str, str]]
    json_schema: JsonSchema | None = None
    max_output_tokens: int = 2048


@dataclass(frozen=True)
class ChatResult:
    text: str  # with a json_schema: the JSON document, as the model wrote it
    input_tokens: int
    output_tokens: int
    model: str


class LLMCall(BaseModel):
    """One metered model call. Travels inside bus messages to the Orchestrator, which stores it."""

    provider: str
    model: str
    purpose: Purpose
    input_tokens: int = Field(ge=0)
    output_tokens: int = Field(ge=0)
    latency_ms: int = Field(ge=0)
    cost_usd: float | None = Field(None, description="Estimated from the price table; null if unknown.")

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@runtime_checkable
class LLMProvider(Protocol):
    """A chat model behind one wire protocol. Must be safe to share between concurrent tasks."""

    name: str  # mock, openai, anthropic, openai_compatible
    model: str

    async def chat(self, request: ChatRequest, *, on_text: TextSink | None = None) -> ChatResult:
        """The model's answer. With ``on_text`` the answer is streamed and each piece of text is
        awaited into it, in order, before the whole result returns (usage as the provider reports it)."""
        ...

    async def aclose(self) -> None: ...


def estimate_tokens(text: str) -> int:
    """A rough count (about four characters a token) for providers that report none."""
    return max(1, (len(text) + 3) // 4) if text else 0


def http_error(provider: str, status: int, body: object, fallback: str) -> LLMError:
    """An SDK's HTTP error in words: the status and the server's ``error.message``, never the request."""
    message = fallback
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            message = str(error["message"])
    return LLMError(f"{provider} answered HTTP {status}: {message}", provider=provider, status=status)


# A provider's error types (sent inside a stream that already answered 200) as the HTTP status they
# stand for, so that a failure mid-stream is classified (retryable or not) like the same failure before it.
_STREAM_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "rate_limit_exceeded": 429,
    "api_error": 500,
    "server_error": 500,
    "overloaded_error": 529,
}


def stream_error(provider: str, body: object, fallback: str) -> LLMError:
    """An error the server sent mid-stream, in words and with the status its type stands for (none if
    unknown: like a dropped connection, it is worth another try)."""
    error = body.get("error", body) if isinstance(body, dict) else None
    message, status = fallback, None
    if isinstance(error, dict):
        if isinstance(error.get("message"), str):
            message = str(error["message"])
        status = _STREAM_ERROR_STATUS.get(str(error.get("type") or error.get("code")))
    details = {} if status is None else {"status": status}
    return LLMError(f"{provider} failed mid-stream: {message}", provider=provider, **details)
