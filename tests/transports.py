"""A server's or client's transport that notes what is written to it, for tests that count writes
(each one a send, a packet and a wake-up of the other end)."""

from __future__ import annotations

from typing import Any, cast


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


def record_server_writes(monkeypatch: Any) -> list[bytes]:
    """Every write uvicorn's HTTP/1.1 (httptools) server makes to a connection opened from now on,
    noted in the list returned (``monkeypatch`` undoes it after the test)."""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    writes: list[bytes] = []
    made = HttpToolsProtocol.connection_made

    def recorded(self: HttpToolsProtocol, transport: Any) -> None:
        made(self, cast(Any, RecordingTransport(transport, writes)))

    monkeypatch.setattr(HttpToolsProtocol, "connection_made", recorded)
    return writes
