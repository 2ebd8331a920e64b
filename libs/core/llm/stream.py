"""Coalescing a model's streamed text into a few messages: what the UI watches grow.

A model streams dozens of pieces a second; each one as a bus message and an event row would make
the event log a token log. ``Coalescer`` sends the first piece at once, then at most one message per
``interval_s`` carrying everything since the last one, and on ``close`` whatever is left, so a call
of ``s`` seconds sends at most about ``s / interval_s + 2`` messages, whose texts concatenate to the
whole answer. See docs/llm.md (Streaming) and ADR 0026.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

STREAM_INTERVAL_S = 0.1  # at most ~10 messages a second per task (or plan)


class Coalescer:
    """Collects text pieces (``add``, a ``TextSink``) and hands them to ``send`` in order, coalesced.

    ``send`` runs in a task of its own, so a slow bus never slows the model's stream; a failed send
    is logged and its text dropped (the streamed text is a live view: the final answer travels with
    the result). ``close`` must be awaited: it sends the rest before the caller reports the result.
    """

    def __init__(
        self, send: Callable[[str], Awaitable[None]], *, interval_s: float = STREAM_INTERVAL_S
    ) -> None:
        self._send = send
        self.interval_s = interval_s
        self._pending: list[str] = []
        self._last = float("-inf")  # when the last message went out (monotonic seconds)
        self._pump: asyncio.Task[None] | None = None
        self._closed = False
        self._closing: asyncio.Event | None = None  # made with the first piece: most tasks stream none
        self.sent = 0  # messages sent
        self.dropped = 0  # messages whose send failed

    async def add(self, text: str) -> None:
        if not text or self._closed:
            return
        if self._closing is None:
            self._closing = asyncio.Event()
        self._pending.append(text)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Send what is left now (no waiting out the interval), then stop."""
        self._closed = True
        if self._closing is None:  # nothing was streamed (nor will be: a piece after close is dropped)
            return
        self._closing.set()
        if self._pump is not None:
            await self._pump
        await self._flush()

    async def _run(self) -> None:
        assert self._closing is not None  # (made by the first add, which started this)
        while self._pending:
            wait = self._last + self.interval_s - time.monotonic()
            if wait > 0 and not self._closed:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._closing.wait()
            await self._flush()

    async def _flush(self) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last = time.monotonic()
        try:
            await self._send(text)
        except Exception as exc:
            self.dropped += 1
            if self.dropped == 1:  # once per stream: an outage would say it ten times a second
                log.warning("streamed text not sent (later pieces may be dropped too): %s", exc)
        else:
            self.sent += 1
