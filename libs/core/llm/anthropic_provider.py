"""Anthropic's messages API, through the official ``anthropic`` SDK.

Structured output is a forced tool call: the schema is the tool's ``input_schema`` and the answer is
the tool call's input, serialised back to JSON. Timeouts and retries with backoff on 429 and 5xx are
the SDK's (LLM_TIMEOUT_S, LLM_MAX_RETRIES); errors become ``LLMError`` without the key or headers.

With ``on_text`` the answer streams: text deltas, or the forced tool call's input as JSON pieces; the
usage is message_start's input tokens and message_delta's output tokens. An ``error`` event inside the
stream is classified by its type (``overloaded_error`` is retryable, like a 529 before it); a stream
that ends without message_stop is a retryable ``LLMError``, like a dropped connection.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2  # the anthropic SDK's transport: a connection lost mid-stream surfaces as its error

from planwright.core.errors import LLMError
from planwright.core.llm.base import ChatRequest, ChatResult, TextSink, http_error, stream_error


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

    async def chat(self, request: ChatRequest, *, on_text: TextSink | None = None) -> ChatResult:
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
            if on_text is not None:
                return await self._stream(request, messages, options, on_text)
            response = await self._client.messages.create(
                model=self.model, max_tokens=request.max_output_tokens, messages=messages, **options
            )
        except anthropic.APIStatusError as exc:
            if exc.status_code == 200:  # an error event inside a stream that had answered 200
                raise stream_error(self.name, exc.body, exc.message) from None
            raise http_error(self.name, exc.status_code, exc.body, exc.message) from None
        except anthropic.APIConnectionError as exc:
            raise LLMError(f"cannot reach anthropic: {exc.message}", provider=self.name) from None
        except httpx2.TransportError as exc:
            raise LLMError(f"lost anthropic mid-stream: {type(exc).__name__}", provider=self.name) from None
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

    async def _stream(
        self, request: ChatRequest, messages: list[Any], options: dict[str, Any], on_text: TextSink
    ) -> ChatResult:
        schema = request.json_schema
        stream = await self._client.messages.create(
            model=self.model, max_tokens=request.max_output_tokens, messages=messages, stream=True, **options
        )
        texts: list[str] = []
        answer: list[str] | None = None  # the forced tool call's input, as JSON pieces
        answer_block = -1
        seen = written = 0
        model, done = self.model, False
        async with stream:
            async for event in stream:
                match event.type:
                    case "message_start":
                        model = event.message.model or model
                        seen, written = event.message.usage.input_tokens, event.message.usage.output_tokens
                    case "content_block_start":
                        block = event.content_block
                        if schema is not None and block.type == "tool_use" and block.name == schema.name:
                            answer, answer_block = ([] if answer is None else answer), event.index
                    case "content_block_delta":
                        delta = event.delta
                        if delta.type == "text_delta" and answer is None:
                            texts.append(delta.text)
                            await on_text(delta.text)
                        elif delta.type == "input_json_delta" and event.index == answer_block:
                            assert answer is not None
                            answer.append(delta.partial_json)
                            await on_text(delta.partial_json)
                    case "message_delta":
                        written = event.usage.output_tokens
                        seen = event.usage.input_tokens or seen  # newer servers repeat it here
                    case "message_stop":
                        done = True
        if not done:
            raise LLMError("anthropic ended the stream before the answer was complete", provider=self.name)
        text = ("".join(answer) or "{}") if answer is not None else "".join(texts)
        return ChatResult(text=text, input_tokens=seen, output_tokens=written, model=model)

    async def aclose(self) -> None:
        await self._client.close()
