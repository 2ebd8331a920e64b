"""Streaming with the real openai and anthropic SDKs against the fake model server, and coalescing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from planwright.core.llm import LLMClient, LLMError
from planwright.core.llm.base import ChatRequest
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.llm.prices import PriceTable
from planwright.core.llm.stream import Coalescer
from planwright.core.tests.test_llm_providers import KINDS, SCHEMA, provider_for

PRICES = Path(__file__).parents[3] / "config" / "llm_prices.yaml"
PIECES = ["Queues ", "hold ", "work ", "until ", "a ", "worker ", "is ", "free."]


class Collected:
    def __init__(self) -> None:
        self.pieces: list[str] = []

    async def __call__(self, text: str) -> None:
        self.pieces.append(text)


@pytest.mark.parametrize("kind", KINDS)
async def test_text_streams_in_order_with_the_exact_usage(kind):
    reply = Reply.stream(PIECES, input_tokens=1200, output_tokens=300)
    with FakeModelServer([reply]) as fake:
        llm = LLMClient(provider_for(kind, fake), PriceTable.load(PRICES))
        got = Collected()
        text = await llm.complete("Explain queues", system="Be brief.", on_text=got)
        await llm.provider.aclose()
    assert text == "".join(PIECES)
    assert got.pieces == PIECES
    (call,) = llm.calls
    assert (call.purpose, call.input_tokens, call.output_tokens) == ("generate", 1200, 300)
    body = fake.requests[0].body
    assert body["stream"] is True
    if kind != "anthropic":
        assert body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("kind", KINDS)
async def test_structured_output_streams_as_json_and_is_parsed(kind):
    document = {"verdict": "approve, with a long enough answer to come in many pieces"}
    with FakeModelServer([Reply.json(document)]) as fake:
        provider = provider_for(kind, fake)
        got = Collected()
        request = ChatRequest("judge", "Judge.", [("user", "x")], json_schema=SCHEMA)
        result = await provider.chat(request, on_text=got)
        await provider.aclose()
    assert json.loads(result.text) == document
    assert len(got.pieces) > 3
    assert json.loads("".join(got.pieces)) == document
    body = fake.requests[0].body
    if kind == "anthropic":
        assert body["tool_choice"] == {"type": "tool", "name": "verdict"}
    else:
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA.schema


@pytest.mark.parametrize("kind", ["openai", "openai_compatible"])
async def test_a_server_that_sends_no_usage_is_estimated(kind):
    with FakeModelServer([Reply.stream(PIECES, stream_usage=False)]) as fake:
        llm = LLMClient(provider_for(kind, fake))
        await llm.complete("Explain queues", on_text=Collected())
        await llm.provider.aclose()
    (call,) = llm.calls
    assert call.output_tokens == (len("".join(PIECES)) + 3) // 4
    assert call.input_tokens > 0


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize(
    ("error", "status", "retryable"),
    [("overloaded_error", 529, True), ("rate_limit_error", 429, True), ("invalid_request_error", 400, False)],
)
async def test_an_error_mid_stream_is_classified_like_the_same_error_before_it(
    kind, error, status, retryable
):
    reply = Reply.stream(PIECES, fail_after=3, error=error)
    with FakeModelServer([reply]) as fake:
        provider = provider_for(kind, fake)
        got = Collected()
        with pytest.raises(LLMError) as caught:
            await provider.chat(ChatRequest("generate", "", [("user", "go")]), on_text=got)
        await provider.aclose()
    assert got.pieces == PIECES[:3]  # what came before the error was streamed
    assert caught.value.details["status"] == status
    assert caught.value.retryable is retryable
    assert f"scripted {error}" in caught.value.message
    assert len(fake.requests) == 1  # the SDK does not retry a stream that had begun


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_stream_that_just_ends_is_a_retryable_error(kind):
    with FakeModelServer([Reply.stream(PIECES, fail_after=2)]) as fake:
        provider = provider_for(kind, fake)
        with pytest.raises(LLMError, match="ended the stream before the answer was complete") as caught:
            await provider.chat(ChatRequest("generate", "", [("user", "go")]), on_text=Collected())
        await provider.aclose()
    assert "status" not in caught.value.details
    assert caught.value.retryable


async def test_without_a_sink_the_same_reply_is_one_answer():
    with FakeModelServer([Reply.stream(PIECES, input_tokens=7, output_tokens=9)]) as fake:
        provider = provider_for("openai", fake)
        result = await provider.chat(ChatRequest("generate", "", [("user", "go")]))
        await provider.aclose()
    assert (result.text, result.input_tokens, result.output_tokens) == ("".join(PIECES), 7, 9)
    assert "stream" not in fake.requests[0].body


async def test_the_coalescer_sends_the_first_piece_at_once_then_a_few_and_the_rest_on_close():
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    coalescer = Coalescer(send, interval_s=0.1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await coalescer.add("first ")
    await asyncio.sleep(0)  # the pump's first step
    assert sent == ["first "]
    pieces = [f"{n} " for n in range(300)]
    for piece in pieces:
        await coalescer.add(piece)
        await asyncio.sleep(0.002)
    await coalescer.close()
    took = loop.time() - started
    assert "".join(sent) == "first " + "".join(pieces)
    assert 2 <= len(sent) <= took * 10 + 3
    assert coalescer.sent == len(sent)
    await coalescer.add("late")  # after close: dropped, nothing left running
    assert "late" not in "".join(sent)


async def test_a_failed_send_drops_its_text_and_the_stream_goes_on():
    sent: list[str] = []

    async def send(text: str) -> None:
        if not sent and text == "a":
            sent.append("<failed>")
            raise ConnectionError("bus away")
        sent.append(text)

    coalescer = Coalescer(send, interval_s=0.01)
    await coalescer.add("a")
    await asyncio.sleep(0.05)
    await coalescer.add("b")
    await coalescer.close()
    assert sent == ["<failed>", "b"]
    assert (coalescer.sent, coalescer.dropped) == (1, 1)
