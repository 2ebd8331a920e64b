"""What a request may carry: bounds on the body, enforced while it is read (never after buffering
it), and checks on the JSON it decodes to.

``BodyLimits`` wraps ``receive``: a declared ``Content-Length`` over ``MAX_REQUEST_BYTES`` is answered
413 before a byte of the body is read; a chunked body is counted as it arrives and stopped at the
limit; the whole body must arrive within ``REQUEST_BODY_TIMEOUT_S`` (408), so a client dripping a
byte a second cannot hold a request open. A request without a body (most GETs, the event streams)
is passed through untouched.
"""

from __future__ import annotations

import asyncio
import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from planwright.core.errors import PlanwrightError
from planwright.services.api.errors import send_error


class BodyRejected(PlanwrightError, HTTPException):
    """A body over a limit. A PlanwrightError first (the API's JSON error body), an HTTPException too:
    FastAPI passes those on from its body parsing instead of turning them into a 400. Its answer closes
    the connection, whether the middleware or the app's error handler gives it: the rest of the body
    may still be on its way, and the connection cannot carry another request after it."""

    def __init__(self, message: str, **details: object) -> None:
        HTTPException.__init__(self, type(self).status_code, message, headers={"Connection": "close"})
        self.message = message
        self.details = details


# (status_code is a class constant of PlanwrightError and an attribute of HTTPException; same value.)
class BodyTooLarge(BodyRejected):
    code = "request_too_large"
    status_code = 413  # type: ignore[misc]


class BodyTimeout(BodyRejected):
    code = "request_timeout"
    status_code = 408  # type: ignore[misc]


def too_large(limit: int) -> str:
    return f"the request body is over the limit of {limit} bytes (MAX_REQUEST_BYTES)"


def too_slow(timeout_s: float) -> str:
    return f"the request body did not arrive within {timeout_s:g}s (REQUEST_BODY_TIMEOUT_S)"


class BodyLimits:
    """ASGI middleware: ``max_bytes`` per request body, all of it within ``timeout_s``."""

    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
        if length is None and not chunked:  # no body (the server enforces the framing)
            await self.app(scope, receive, send)
            return
        if length is not None and not chunked and (not length.isdigit() or int(length) > self.max_bytes):
            # Answered before the body is read; the server drops what the client still sends.
            await _reject(send, BodyTooLarge(too_large(self.max_bytes), limit=self.max_bytes))
            return
        await self.app(scope, _Reader(receive, self.max_bytes, self.timeout_s, counted=chunked), send)


class _Reader:
    """``receive`` with a deadline for the whole body and, for a chunked one, a byte count."""

    __slots__ = ("_counted", "_deadline", "_done", "_max", "_read", "_receive", "_timeout_s")

    def __init__(self, receive: Receive, max_bytes: int, timeout_s: float, *, counted: bool) -> None:
        self._receive = receive
        self._max = max_bytes
        self._timeout_s = timeout_s
        self._counted = counted
        self._read = 0
        self._deadline: float | None = None
        self._done = False

    async def __call__(self) -> Message:
        if self._done:  # the body is in: what follows is the disconnect, which may come any time
            return await self._receive()
        loop = asyncio.get_running_loop()
        if self._deadline is None:
            self._deadline = loop.time() + self._timeout_s
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyTimeout(too_slow(self._timeout_s), limit_s=self._timeout_s) from None
        if message["type"] != "http.request":
            self._done = True
            return message
        if self._counted:
            self._read += len(message.get("body", b""))
            if self._read > self._max:
                self._done = True
                raise BodyTooLarge(too_large(self._max), limit=self._max)
        if not message.get("more_body", False):
            self._done = True
        return message


async def _reject(send: Send, error: BodyRejected) -> None:
    # Closed after the answer: the server drops the body the client may still be sending.
    await send_error(send, error.status_code, error.code, error.message, error.details, error.headers)


# -- what a decoded body may hold ---------------------------------------------------------------


def json_size(value: object) -> int:
    """Bytes of ``value`` as compact JSON (UTF-8), as it is stored."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class ContentTooLarge(PlanwrightError):
    """A field over its size limit, answered like any validation error."""

    code = "validation_error"
    status_code = 422


def check_context_size(context: dict[str, object], max_bytes: int) -> None:
    """Refuse a job's context over ``max_bytes`` as compact JSON (CONTEXT_MAX_BYTES)."""
    size = json_size(context)
    if size > max_bytes:
        raise ContentTooLarge(
            f"context_json: is {size} bytes as JSON; the limit is {max_bytes} (CONTEXT_MAX_BYTES)",
            field="context_json",
            size=size,
            limit=max_bytes,
        )


MAX_OFFSET = 1_000_000_000  # a list's offset: far past any real list, well inside a 64-bit integer
