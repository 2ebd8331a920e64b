"""OpenAI's chat completions API, through the official ``openai`` SDK: OpenAI itself, or any server that
speaks it (Ollama, vLLM, LM Studio: ``LLM_PROVIDER=openai_compatible`` with ``LLM_BASE_URL``).

Structured output uses ``response_format={"type": "json_schema", ...}``. Timeouts and retries with
backoff on 429 and 5xx (honouring ``Retry-After``) are the SDK's, set from LLM_TIMEOUT_S and
LLM_MAX_RETRIES. Errors are re-raised as ``LLMError`` with the status and the server's message only:
never the request, its headers or the key.

With ``on_text`` the answer streams (``stream=True``, with ``stream_options.include_usage`` so the
usage is the server's; estimated only from a server that sends none). An error inside the stream is
classified by its type like the same error before it (``stream_error``); a stream that ends before
the answer is finished is a retryable ``LLMError``, like a dropped connection.
"""

from __future__ import annotations

from typing import Any

import openai

from planwright.core.errors import LLMError
from planwright.core.llm.base import (
    ChatRequest,
    ChatResult,
    TextSink,
    estimate_tokens,
    http_error,
    stream_error,
)


class OpenAIProvider:
    def __init__(
        self,
        *,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        name: str = "openai",
    ) -> None:
        self.name = name
        self.model = model
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    async def chat(self, request: ChatRequest, *, on_text: TextSink | None = None) -> ChatResult:
        messages: list[Any] = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": role, "content": content} for role, content in request.messages]
        options: dict[str, Any] = {}
        if request.json_schema is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.json_schema.name,
                    "description": request.json_schema.description,
                    "schema": request.json_schema.schema,
                    "strict": True,
                },
            }
        # OpenAI's newer models take max_completion_tokens; other servers still read max_tokens.
        if self.name == "openai":
            options["max_completion_tokens"] = request.max_output_tokens
        else:
            options["max_tokens"] = request.max_output_tokens
        try:
            if on_text is not None:
                return await self._stream(request, messages, options, on_text)
            response = await self._client.chat.completions.create(
                model=self.model, messages=messages, **options
            )
        except openai.APIStatusError as exc:
            raise http_error(self.name, exc.status_code, exc.body, exc.message) from None
        except openai.APIConnectionError as exc:
            raise LLMError(f"cannot reach {self.name}: {exc.message}", provider=self.name) from None
        except openai.APIError as exc:  # an error event inside a stream that had answered 200
            raise stream_error(self.name, exc.body, exc.message) from None
        if not response.choices:
            raise LLMError(f"{self.name} returned no answer", provider=self.name)
        message = response.choices[0].message
        if getattr(message, "refusal", None):
            raise LLMError(f"the model refused: {message.refusal}", provider=self.name)
        usage = response.usage
        return ChatResult(
            text=message.content or "",
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            model=response.model or self.model,
        )

    async def _stream(
        self, request: ChatRequest, messages: list[Any], options: dict[str, Any], on_text: TextSink
    ) -> ChatResult:
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            **options,
        )
        parts: list[str] = []
        refusal: list[str] = []
        usage, model, finished = None, self.model, False
        async with stream:
            async for chunk in stream:
                model = chunk.model or model
                usage = chunk.usage or usage
                for choice in chunk.choices:
                    if choice.index != 0:
                        continue
                    if choice.delta.content:
                        parts.append(choice.delta.content)
                        await on_text(choice.delta.content)
                    if getattr(choice.delta, "refusal", None):
                        refusal.append(str(choice.delta.refusal))
                    finished = finished or choice.finish_reason is not None
        if refusal:
            raise LLMError(f"the model refused: {''.join(refusal)}", provider=self.name)
        if not finished:
            raise LLMError(f"{self.name} ended the stream before the answer was complete", provider=self.name)
        text = "".join(parts)
        if usage is None:  # a server that does not honour include_usage
            seen = request.system + "".join(content for _, content in request.messages)
            return ChatResult(text, estimate_tokens(seen), estimate_tokens(text), model)
        return ChatResult(text, usage.prompt_tokens, usage.completion_tokens, model)

    async def aclose(self) -> None:
        await self._client.close()
