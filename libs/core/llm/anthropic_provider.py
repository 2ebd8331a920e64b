"""Anthropic's messages API, through the official ``anthropic`` SDK.

Structured output is a forced tool call: the schema is the tool's ``input_schema`` and the answer is
the tool call's input, serialised back to JSON. Timeouts and retries with backoff on 429 and 5xx are
the SDK's (LLM_TIMEOUT_S, LLM_MAX_RETRIES); errors become ``LLMError`` without the key or headers.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic

from planwright.core.errors import LLMError
from planwright.core.llm.base import ChatRequest, ChatResult, http_error


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
    ) -> None:
        self.model = model
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    async def chat(self, request: ChatRequest) -> ChatResult:
        options: dict[str, Any] = {}
        if request.system:
            options["system"] = request.system
        schema = request.json_schema
        if schema is not None:
            options["tools"] = [
                {"name": schema.name, "description": schema.description, "input_schema": schema.schema}
            ]
            options["tool_choice"] = {"type": "tool", "name": schema.name}
        messages: list[Any] = [{"role": role, "content": content} for role, content in request.messages]
        try:
            response = await self._client.messages.create(
                model=self.model, max_tokens=request.max_output_tokens, messages=messages, **options
            )
        except anthropic.APIStatusError as exc:
            raise http_error(self.name, exc.status_code, exc.body, exc.message) from None
        except anthropic.APIConnectionError as exc:
            raise LLMError(f"cannot reach anthropic: {exc.message}", provider=self.name) from None
        text = ""
        for block in response.content:
            if schema is not None and block.type == "tool_use" and block.name == schema.name:
                text = json.dumps(block.input)
                break
            if block.type == "text":
                text += block.text
        return ChatResult(
            text=text,
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            model=response.model or self.model,
        )

    async def aclose(self) -> None:
        await self._client.close()
