"""A scripted fake model server that speaks the OpenAI chat completions and Anthropic messages APIs.

Point the real SDKs at it (``OPENAI_BASE_URL`` / ``ANTHROPIC_BASE_URL`` / ``LLM_BASE_URL``) to test
tools, plans and failure handling without a provider, a key or the network. Each request takes the
next scripted reply: a text, a JSON document (sent as a structured answer: the message content for
OpenAI, a forced tool call's input for Anthropic) or an HTTP error. Every request is recorded.
A request that asks to stream (``"stream": true``) gets the same reply as server-sent events in its
API's format, cut into the reply's ``chunks`` with ``delay_s`` between them, and can be scripted to
fail mid-stream (``Reply.stream``).

    with FakeModelServer([Reply.error(429), Reply.json({"tasks": [...]})]) as fake:
        ...  # OPENAI_BASE_URL=fake.openai_url, or ANTHROPIC_BASE_URL=fake.url
        assert len(fake.requests) == 2

``planwright fake-llm --script replies.json`` serves a script from a file (docs/llm.md).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from planwright.core.llm.base import estimate_tokens

CHUNK_CHARS = 8  # a streamed reply's piece size, unless it is scripted in pieces


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    text: str = ""
    status: int = 200
    body: dict[str, Any] | None = None  # an error's JSON body
    headers: dict[str, str] = field(default_factory=dict)
    input_tokens: int | None = None  # default: estimated from the request
    output_tokens: int | None = None  # default: estimated from the text
    # Streaming (when the request asks for it): the pieces (default: the text cut every CHUNK_CHARS),
    # the pause before each piece after the first, whether OpenAI's final usage chunk is sent, and
    # after how many pieces the stream fails (with ``body`` as an error event; without one it just ends).
    chunks: tuple[str, ...] | None = None
    delay_s: float = 0.0
    stream_usage: bool = True
    fail_after: int | None = None

    @classmethod
    def stream(
        cls,
        chunks: Iterable[str],
        *,
        delay_s: float = 0.0,
        stream_usage: bool = True,
        fail_after: int | None = None,
        error: str | None = None,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
    ) -> Reply:
        """A reply streamed as ``chunks``; with ``fail_after``, the error event ``error`` (a provider
        error type such as ``overloaded_error``, or None to end the stream early) follows that many."""
        pieces = tuple(chunks)
        body = (
            None
            if error is None
            else {"type": "error", "error": {"type": error, "message": f"scripted {error}"}}
        )
        return cls(
            text="".join(pieces),
            body=body,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            chunks=pieces,
            delay_s=delay_s,
            stream_usage=stream_usage,
            fail_after=fail_after,
        )

    def pieces(self) -> list[str]:
        if self.chunks is not None:
            return list(self.chunks)
        return [self.text[i : i + CHUNK_CHARS] for i in range(0, len(self.text), CHUNK_CHARS)] or [""]

    @classmethod
    def json(
        cls, document: Any, *, input_tokens: int | None = None, output_tokens: int | None = None
    ) -> Reply:
        return cls(text=json.dumps(document), input_tokens=input_tokens, output_tokens=output_tokens)

    @classmethod
    def error(cls, status: int, message: str = "scripted error", *, retry_after: float | None = 0) -> Reply:
        headers = {"retry-after": f"{retry_after:g}"} if retry_after is not None else {}
        body = {"type": "error", "error": {"type": "scripted", "message": message}}
        return cls(status=status, body=body, headers=headers)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reply:
        """A script entry: ``{"text": ...}``, ``{"json": ...}`` or ``{"status": 429, "message": ...}``."""
        if int(data.get("status", 200)) != 200:
            return cls.error(int(data["status"]), str(data.get("message", "scripted error")))
        text = json.dumps(data["json"]) if "json" in data else str(data.get("text", ""))
        seen, out = data.get("input_tokens"), data.get("output_tokens")
        chunks = data.get("chunks")
        return cls(
            text="".join(map(str, chunks)) if chunks else text,
            input_tokens=None if seen is None else int(seen),
            output_tokens=None if out is None else int(out),
            chunks=tuple(map(str, chunks)) if chunks else None,
            delay_s=float(data.get("delay_s", 0.0)),
        )


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeModelServer:
    def __init__(
        self, replies: Iterable[Reply], *, repeat: bool = False, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.replies = list(replies)
        self.repeat = repeat
        self.requests: list[Recorded] = []
        self._lock = threading.Lock()
        self._next = 0
        self._server = ThreadingHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """The base URL for the Anthropic SDK (it adds /v1/messages)."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_url(self) -> str:
        """The base URL for the OpenAI SDK (it adds /chat/completions)."""
        return f"{self.url}/v1"

    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _take(self, recorded: Recorded) -> Reply | None:
        with self._lock:
            self.requests.append(recorded)
            if self._next >= len(self.replies):
                if not (self.repeat and self.replies):
                    return None
                self._next = 0
            reply = self.replies[self._next]
            self._next += 1
            return reply

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                recorded = Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if not self.path.rstrip("/").endswith(("/chat/completions", "/messages")):
                    return self._send(404, {"error": {"message": f"no such endpoint: {self.path}"}})
                reply = fake._take(recorded)
                if reply is None:
                    return self._send(500, {"error": {"message": "fake model: no scripted reply left"}})
                if reply.status != 200:
                    return self._send(reply.status, reply.body or {}, reply.headers)
                anthropic = self.path.rstrip("/").endswith("/messages")
                if body.get("stream"):
                    events = _anthropic_events(body, reply) if anthropic else _openai_events(body, reply)
                    return self._stream(events, reply)
                return self._send(200, _anthropic(body, reply) if anthropic else _openai(body, reply))

            def _stream(self, events: list[tuple[bool, str]], reply: Reply) -> None:
                """Server-sent events; a pause before each piece of text after the first."""
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("cache-control", "no-cache")
                self.end_headers()
                first = True
                for is_piece, event in events:
                    if is_piece and not first and reply.delay_s > 0:
                        time.sleep(reply.delay_s)
                    first = first and not is_piece
                    try:
                        self.wfile.write(event.encode())
                        self.wfile.flush()
                    except OSError:
                        return  # the client went away

            def _send(
                self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
            ) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _usage(request: dict[str, Any], reply: Reply) -> tuple[int, int]:
    seen = reply.input_tokens
    if seen is None:
        seen = estimate_tokens(json.dumps(request.get("messages", [])) + str(request.get("system", "")))
    out = reply.output_tokens if reply.output_tokens is not None else estimate_tokens(reply.text)
    return seen, out


def _openai(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    seen, out = _usage(request, reply)
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": reply.text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": seen, "completion_tokens": out, "total_tokens": seen + out},
    }


def _anthropic(request: dict[str, Any], reply: Reply) -> dict[str, Any]:
    seen, out = _usage(request, reply)
    forced = (request.get("tool_choice") or {}).get("name")
    content: list[dict[str, Any]] = [{"type": "text", "text": reply.text}]
    if forced:
        # A malformed structured answer stays text, as a confused model's would.
        with contextlib.suppress(json.JSONDecodeError):
            tool_input = json.loads(reply.text)
            content = [{"type": "tool_use", "id": "toolu_fake", "name": forced, "input": tool_input}]
    return {
        "id": f"msg_fake_{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "fake"),
        "content": content,
        "stop_reason": "tool_use" if content[0]["type"] == "tool_use" else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": seen, "output_tokens": out},
    }


def _sse(data: dict[str, Any] | str, event: str | None = None) -> str:
    payload = data if isinstance(data, str) else json.dumps(data)
    return (f"event: {event}\n" if event else "") + f"data: {payload}\n\n"


def _openai_events(request: dict[str, Any], reply: Reply) -> list[tuple[bool, str]]:
    """chat.completion.chunk events: the role, one per piece, the finish, then the usage if asked."""
    seen, out = _usage(request, reply)
    base = {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        return _sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [(False, chunk({"role": "assistant", "content": ""}))]
    for n, piece in enumerate(reply.pieces()):
        if n == reply.fail_after:
            return [*events, *_failure(reply, anthropic=False)]
        events.append((True, chunk({"content": piece})))
    events.append((False, chunk({}, "stop")))
    if (request.get("stream_options") or {}).get("include_usage") and reply.stream_usage:
        usage = {"prompt_tokens": seen, "completion_tokens": out, "total_tokens": seen + out}
        events.append((False, _sse({**base, "choices": [], "usage": usage})))
    return [*events, (False, _sse("[DONE]"))]


def _anthropic_events(request: dict[str, Any], reply: Reply) -> list[tuple[bool, str]]:
    """message_start, one content block (text, or the forced tool call's input as JSON pieces),
    message_delta with the output tokens, message_stop."""
    seen, out = _usage(request, reply)
    forced = (request.get("tool_choice") or {}).get("name")
    as_tool = False
    if forced:
        try:
            json.loads(reply.text)
            as_tool = True
        except json.JSONDecodeError:
            pass  # a malformed structured answer stays text, as a confused model's would
    message = {
        "id": f"msg_fake_{time.monotonic_ns()}",
        "type": "message",
        "role": "assistant",
        "model": request.get("model", "fake"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": seen, "output_tokens": 1},
    }
    block: dict[str, Any] = (
        {"type": "tool_use", "id": "toolu_fake", "name": forced, "input": {}}
        if as_tool
        else {"type": "text", "text": ""}
    )
    events = [
        (False, _sse({"type": "message_start", "message": message}, "message_start")),
        (
            False,
            _sse({"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"),
        ),
    ]
    for n, piece in enumerate(reply.pieces()):
        if n == reply.fail_after:
            return [*events, *_failure(reply, anthropic=True)]
        delta = (
            {"type": "input_json_delta", "partial_json": piece}
            if as_tool
            else {"type": "text_delta", "text": piece}
        )
        event = {"type": "content_block_delta", "index": 0, "delta": delta}
        events.append((True, _sse(event, "content_block_delta")))
    stop = {"stop_reason": "tool_use" if as_tool else "end_turn", "stop_sequence": None}
    return [
        *events,
        (False, _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")),
        (
            False,
            _sse({"type": "message_delta", "delta": stop, "usage": {"output_tokens": out}}, "message_delta"),
        ),
        (False, _sse({"type": "message_stop"}, "message_stop")),
    ]


def _failure(reply: Reply, *, anthropic: bool) -> list[tuple[bool, str]]:
    """The scripted error event, or nothing (the stream just ends, as when a connection drops)."""
    if reply.body is None:
        return []
    if anthropic:
        return [(False, _sse(reply.body, "error"))]
    return [(False, _sse({"error": reply.body.get("error", reply.body)}))]
