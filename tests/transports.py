"""A server's or client's transport that notes what is written to it, for tests that count writes
(each one a send, a packet and a wake-up of the other end)."""

from __future__ import annotations

from typing import Any


class RecordingTransport:
    """Wraps ``transport``: each write is noted in ``writes`` and passed on; everything else is the
    wrapped transport's."""

    def __init__(self, transport: Any, writes: list[bytes] | None = None) -> None:
        self.transport = transport
        self.writes = writes if writes is not None else []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)
