"""The consume loop every service shares: read a batch, handle it, ack it once its effects are durable."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from planwright.core.bus.base import Bus, Delivery

log = logging.getLogger(__name__)

Handler = Callable[[Sequence[Delivery]], Awaitable[None]]


async def consume(
    bus: Bus,
    streams: Sequence[str],
    group: str,
    consumer: str,
    handle: Handler,
    stop: asyncio.Event,
    *,
    count: int = 100,
    block_s: float = 0.5,
) -> None:
    """Run until ``stop`` is set. A batch whose handler raises is not acked, so it is delivered again."""
    while not stop.is_set():
        batch = await bus.read(streams, group, consumer, count=count, block_s=block_s)
        if not batch:
            continue
        try:
            await handle(batch)
        except Exception:
            log.exception("%s: handling %d message(s) failed; they will be redelivered", group, len(batch))
            continue
        await bus.ack(group, batch)
