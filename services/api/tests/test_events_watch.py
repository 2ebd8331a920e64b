"""The streams written straight to their connections (uvicorn) have no task or timer of their own:
the process's one ``StreamWatch`` ends the stream of a client that left, and writes the keepalives."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from planwright.services.api import streams
from planwright.services.api.app import create_app
from planwright.services.api.routes import events as route
from planwright.services.api.tests.support import wait_for_task
from planwright.services.api.tests.test_approvals import POLICY
from planwright.services.api.tests.test_events_direct import _serve, _until, _waiting

CEILING_S = 30.0
STREAMS = 4


@pytest.fixture
async def held(runtime_factory, tmp_path, demo_goal):
    """The API under uvicorn, and a job held open by the approval of its write_artifact."""
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(timeout=3600))
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", policy_config_path=path)
    app = create_app(runtime)
    server, task, port = await _serve(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=CEILING_S) as client:
        job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
        await wait_for_task(client, job_id, "write_artifact", "awaiting_approval", timeout_s=CEILING_S)
        yield runtime, app.state.streams, port, job_id
    server.should_exit = True
    await asyncio.wait_for(task, CEILING_S)


async def _open(port: int, job_id: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    async with asyncio.timeout(CEILING_S):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
    return reader, writer


def _own_tasks() -> int:
    """Tasks that wait for one stream's client to leave (the way without the watch)."""
    qualnames = [getattr(t.get_coro(), "__qualname__", "") for t in asyncio.all_tasks()]
    return qualnames.count("_EventStream._until_gone")


async def test_clients_that_leave_end_their_streams_with_no_task_of_their_own(held):
    runtime, gate, port, job_id = held
    opened = [await _open(port, job_id) for _ in range(STREAMS)]
    await _until(lambda: _waiting(runtime, job_id) == STREAMS, "every stream waiting for live events")
    assert len(gate.watch) == STREAMS
    assert _own_tasks() == 0
    assert gate.open == STREAMS

    for _, writer in opened[:2]:  # two clients leave
        writer.close()
    await _until(lambda: gate.open == STREAMS - 2, "the streams of the clients who left to end")
    assert len(gate.watch) == STREAMS - 2
    assert _waiting(runtime, job_id) == STREAMS - 2  # the others go on

    for _, writer in opened[2:]:
        writer.close()
    await _until(lambda: gate.open == 0, "every stream to end")
    assert len(gate.watch) == 0
    assert runtime.feed.subscriber_count() == 0


async def _chunk(reader: asyncio.StreamReader) -> bytes:
    """One chunk of a chunked body (its framing checked)."""
    size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
    data = await reader.readexactly(size + 2)
    assert data.endswith(b"\r\n")
    return data[:-2]


async def test_a_quiet_stream_gets_keepalives_in_whole_chunks(held, monkeypatch):
    runtime, _, port, job_id = held
    monkeypatch.setattr(route, "KEEPALIVE_S", 0.2)
    monkeypatch.setattr(streams, "WATCH_S", 0.05)
    reader, writer = await _open(port, job_id)
    try:
        chunks: list[bytes] = []
        async with asyncio.timeout(CEILING_S):
            while chunks.count(b": keepalive\n\n") < 2:  # the replay, then keepalives, each a chunk
                chunks.append(await _chunk(reader))
        assert b"event: task.awaiting_approval" in b"".join(chunks)
        assert _waiting(runtime, job_id) == 1  # the stream still waits for live events
    finally:
        writer.close()


async def test_one_stream_that_fails_to_be_looked_at_leaves_the_others_looked_at(caplog):
    looked: list[str] = []

    class Stream:
        def __init__(self, name: str) -> None:
            self.name = name

        def look(self, now: float) -> None:
            looked.append(self.name)
            if self.name == "bad":
                raise RuntimeError("broken")

    watch = streams.StreamWatch()
    good, bad = Stream("good"), Stream("bad")
    with caplog.at_level(logging.ERROR, logger=streams.__name__):
        watch.add(bad)
        watch.add(good)
        await _until(lambda: looked.count("good") >= 2, "the good stream to be looked at twice")
    assert "looking at a stream failed" in caplog.text
    watch.discard(good)
    watch.discard(bad)
    assert watch._task is None  # no task runs while nothing is watched
