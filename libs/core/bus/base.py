"""The bus protocol every service is written against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from planwright.core.messages import Message
from planwright.core.metrics import StreamStat


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message handed to a consumer. Ack ``id`` on ``stream`` once its effects are durable."""

    stream: str
    id: str
    message: Message
    deliveries: int  # 1 on first delivery; grows each time an unacked message is handed out again


# Deliveries to acknowledge for a group along with another operation: (group, deliveries).
Acks = tuple[str, Sequence[Delivery]]


class Bus(Protocol):
    async def publish(self, stream: str, messages: Sequence[Message], *, ack: Acks | None = None) -> None:
        """Append messages to a stream, in order; with ``ack``, also acknowledge those deliveries, in
        the same step (Redis: one script, atomic), so a worker's result and the end of its task go
        together."""

    async def read(
        self,
        streams: Sequence[str],
        group: str,
        consumer: str,
        *,
        count: int,
        block_s: float,
        ack: Sequence[Delivery] = (),
    ) -> list[Delivery]:
        """Up to ``count`` messages for ``group``, taking earlier streams first (priority lanes).

        Messages that a consumer of the group took but did not ack within the visibility timeout are
        handed out again first. Waits up to ``block_s`` when there is nothing to read. ``ack``:
        deliveries of ``group`` to acknowledge first, in the same round trip (a consume loop's
        previous batch), so acking costs no round trip of its own.
        """

    async def ack(self, group: str, deliveries: Sequence[Delivery]) -> None:
        """Mark deliveries done for ``group``: they are never handed out again."""

    async def touch(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        """Heartbeat: the consumer still works on these, so they must not be reclaimed yet."""

    async def release(self, group: str, consumer: str, deliveries: Sequence[Delivery]) -> None:
        """Give deliveries back unfinished: any consumer of the group may take them at once."""

    async def dead_letter(self, group: str, delivery: Delivery, reason: str) -> None:
        """Move a message that cannot be processed to the dead-letter stream and ack it."""

    async def dead_letter_payload(self, stream: str, entry_id: str, payload: bytes, reason: str) -> None:
        """Keep a payload that never became a message (an outbox row that does not decode or cannot
        be published) in the dead letters, as meant for ``stream``; ``entry_id`` names where it was."""

    async def fresh_epoch(self) -> bool:
        """True exactly once per bus lifetime: the first call after the bus started empty.

        Redis restarted without persistence or flushed, or a new in-process bus: whatever was in
        flight is gone, and the Orchestrator re-publishes unfinished work from the database.
        """

    async def stats(self, streams: Sequence[str]) -> list[StreamStat]:
        """Length, and each group's lag and pending count, of ``streams`` (for metrics)."""
        ...

    async def close(self) -> None: ...
