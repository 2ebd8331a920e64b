"""A response's head goes out with the first bytes of its body, in one write (``app.HeadWithBody``):
one send, one packet and one wake-up of the client per response instead of two."""

from __future__ import annotations

import asyncio
import json

import pytest

from planwright.services.api.app import create_app
from planwright.services.api.tests.test_events_direct import _serve
from tests.transports import record_server_writes


@pytest.fixture
async def served(runtime_factory, monkeypatch):
    """The app on a real uvicorn server, every write to a connection noted: (writes, port)."""
    runtime = await runtime_factory()
    writes = record_server_writes(monkeypatch)
    server, task, port = await _serve(create_app(runtime))
    try:
        yield writes, port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response with a Content-Length: (head, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


async def test_each_response_is_one_write_and_keep_alive_requests_stay_in_order(served):
    writes, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # Two requests at once on one connection: the second waits for the first's response.
        two = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
        two += b"GET /nowhere HTTP/1.1\r\nHost: localhost\r\n\r\n"
        writer.write(two)
        async with asyncio.timeout(30):
            first = await _response(reader)
            second = await _response(reader)
    finally:
        writer.close()
    assert first[0].startswith(b"HTTP/1.1 200 ")
    assert "status" in json.loads(first[1])
    assert second[0].startswith(b"HTTP/1.1 404 ")
    assert json.loads(second[1])["error"]
    assert writes == [first[0] + first[1], second[0] + second[1]]


async def test_a_head_response_is_written_though_it_has_no_body(served):
    writes, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"HEAD /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        async with asyncio.timeout(30):
            head = await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 ")
    assert writes == [head]


async def test_a_100_continue_goes_out_before_the_client_sends_its_body(served):
    writes, port = served
    body = b'{"goal": "Write a note"}'
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"POST /jobs HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        async with asyncio.timeout(30):
            interim = await reader.readuntil(b"\r\n\r\n")  # before the body is sent: held, it would hang
            writer.write(body)
            head, answer = await _response(reader)
    finally:
        writer.close()
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert head.startswith(b"HTTP/1.1 201 ")
    assert json.loads(answer)["id"]
    assert writes == [interim, head + answer]
