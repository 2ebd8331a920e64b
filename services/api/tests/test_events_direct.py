"""Event streams under the real server (uvicorn, httptools): live events are written to each client by
the feed, straight to its connection, without waking the stream's task; a client that cannot take
more (flow control) gets them from its own task instead. Either way every client gets every event
once, in order, in a well-formed chunked response."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import uvicorn

from planwright.core.db.eventlog import events_after
from planwright.services.api.app import create_app
from planwright.services.api.routes import events as route
from planwright.services.api.tests.support import wait_for_job, wait_for_task
from planwright.services.api.tests.test_approvals import POLICY
from planwright.services.api.tests.test_events_sse import parse
from tests.transports import record_server_writes

CLIENTS = 12


async def _serve(app: Any) -> tuple[uvicorn.Server, asyncio.Task[None], int]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http="httptools", lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):  # the server's own readiness flag
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, task, port


async def _follow(port: int, job_id: str) -> tuple[bytes, bool]:
    """The stream's body, de-chunked, and whether it ended with the last chunk (``0\\r\\n\\r\\n``)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        assert b"transfer-encoding: chunked" in head.lower()
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n"))[:-2], 16)
            chunk = await reader.readexactly(size + 2)
            assert chunk.endswith(b"\r\n")
            if size == 0:
                return bytes(body), True
            body += chunk[:-2]
    finally:
        writer.close()


async def _until(check: Any, what: str) -> None:
    """Wait (generous ceiling) until ``check()``; the message says what was awaited."""
    try:
        async with asyncio.timeout(30):
            while True:
                if check():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _waiting(runtime: Any, job_id: str) -> int:
    """How many of the job's streams wait for live events, ready to have them handed over."""
    subs = runtime.feed._subs.get(uuid.UUID(job_id), ())
    return sum(1 for sub in subs if sub.direct is not None)


@pytest.fixture
async def served(runtime_factory, tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(timeout=3600))  # the approval of write_artifact holds each job
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", policy_config_path=path)
    server, task, port = await _serve(create_app(runtime))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        yield runtime, client, port
    server.should_exit = True
    await asyncio.wait_for(task, 30)


async def test_live_events_reach_every_client_once_in_order_written_directly(served, demo_goal, monkeypatch):
    runtime, client, port = served
    made: list[route._Direct] = []
    writes: list[int] = []
    init, write = route._Direct.__init__, route._Direct.write_chunk

    def remember(self: route._Direct, *args: Any) -> None:
        init(self, *args)
        made.append(self)

    by_client: dict[int, list[bytes]] = {}
    made_chunks: list[tuple[bytes, int, bool]] = []
    chunk_of = route._chunk

    def counted(self: route._Direct, chunk: bytes) -> None:
        writes.append(len(chunk))
        by_client.setdefault(id(self), []).append(chunk)
        write(self, chunk)

    def chunk_made(*args: Any) -> tuple[bytes, int, bool]:
        made_chunks.append(chunk := chunk_of(*args))
        return chunk

    monkeypatch.setattr(route._Direct, "__init__", remember)
    monkeypatch.setattr(route._Direct, "write_chunk", counted)
    monkeypatch.setattr(route, "_chunk", chunk_made)

    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    task = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval", timeout_s=30)
    followers = [asyncio.create_task(_follow(port, job_id)) for _ in range(CLIENTS)]
    await _until(lambda: _waiting(runtime, job_id) == CLIENTS, "every stream replayed and waiting")
    assert len(made) == CLIENTS

    resp = await client.post(f"/tasks/{task['id']}/approve", json={"comment": "go"})
    assert resp.status_code == 200
    async with asyncio.timeout(30):
        bodies = await asyncio.gather(*followers)
    assert (await wait_for_job(client, job_id))["status"] == "succeeded"

    async with runtime.engine.connect() as conn:
        stored = [(e.id, e.type) for e in await events_after(conn, uuid.UUID(job_id), 0)]
    for body, ended in bodies:
        assert ended
        assert [(i, kind) for i, kind, _ in parse(body.decode())] == stored
    assert stored[-1][1] == "job.succeeded"
    assert writes  # the live events were written by the feed, not by the streams' tasks
    # Each commit's chunk was made once and written to every client: the same bytes, in the same order.
    chunks = list(by_client.values())
    assert len(chunks) == CLIENTS
    assert all(written == chunks[0] for written in chunks)
    assert len(made_chunks) == len(chunks[0])


async def test_a_client_the_server_cannot_write_to_now_gets_everything_from_its_own_task(
    served, demo_goal, monkeypatch
):
    """As if its transport were above the high-water mark: the feed hands it nothing directly, its
    stream's task writes instead (awaiting the drain), and it still gets every event once, in order."""
    runtime, client, port = served
    made: list[route._Direct] = []
    init, writable = route._Direct.__init__, route._Direct.writable

    def remember(self: route._Direct, *args: Any) -> None:
        init(self, *args)
        made.append(self)

    paused: list[route._Direct] = []

    def maybe_paused(self: route._Direct) -> bool:
        return False if self in paused else writable(self)

    monkeypatch.setattr(route._Direct, "__init__", remember)
    monkeypatch.setattr(route._Direct, "writable", maybe_paused)

    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    task = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval", timeout_s=30)
    slow = asyncio.create_task(_follow(port, job_id))
    await _until(lambda: len(made) == 1, "the first stream opened")
    paused.append(made[0])
    fast = asyncio.create_task(_follow(port, job_id))
    await _until(lambda: runtime.feed.subscriber_count() == 2, "both streams subscribed")

    await client.post(f"/tasks/{task['id']}/approve", json={"comment": "go"})
    async with asyncio.timeout(30):
        (slow_body, slow_ended), (fast_body, fast_ended) = await asyncio.gather(slow, fast)
    async with runtime.engine.connect() as conn:
        stored = [(e.id, e.type) for e in await events_after(conn, uuid.UUID(job_id), 0)]
    assert slow_ended
    assert fast_ended
    assert [(i, kind) for i, kind, _ in parse(slow_body.decode())] == stored
    assert [(i, kind) for i, kind, _ in parse(fast_body.decode())] == stored


async def test_a_write_that_fails_leaves_the_events_to_the_streams_task(served, demo_goal, monkeypatch):
    """If writing to a connection raises in the feed's hands, nothing is lost and the committer is not
    disturbed: the events go to the stream's queue and its task sends them."""
    runtime, client, port = served
    made: list[route._Direct] = []
    init, write = route._Direct.__init__, route._Direct.write_chunk
    failed: list[int] = []

    def remember(self: route._Direct, *args: Any) -> None:
        init(self, *args)
        made.append(self)

    def breaks_for_the_first(self: route._Direct, chunk: bytes) -> None:
        if self is made[0]:
            failed.append(len(chunk))
            raise OSError("the connection broke")
        write(self, chunk)

    monkeypatch.setattr(route._Direct, "__init__", remember)
    monkeypatch.setattr(route._Direct, "write_chunk", breaks_for_the_first)

    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    task = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval", timeout_s=30)
    followers = [asyncio.create_task(_follow(port, job_id)) for _ in range(2)]
    await _until(lambda: _waiting(runtime, job_id) == 2, "both streams replayed and waiting")
    await client.post(f"/tasks/{task['id']}/approve", json={"comment": "go"})
    async with asyncio.timeout(30):
        bodies = await asyncio.gather(*followers)
    assert (await wait_for_job(client, job_id))["status"] == "succeeded"
    async with runtime.engine.connect() as conn:
        stored = [(e.id, e.type) for e in await events_after(conn, uuid.UUID(job_id), 0)]
    assert failed  # the feed tried, and it failed
    for body, ended in bodies:
        assert ended
        assert [(i, kind) for i, kind, _ in parse(body.decode())] == stored


@pytest.mark.parametrize("written_by", ["the feed", "its task"])
async def test_a_followed_submit_costs_one_write_per_commit(runtime_factory, monkeypatch, written_by):
    """POST /jobs answered with the job's events: the response's head and the ``retry:`` hint go with
    the job's first event, not each in a write (a send, a packet and a wake-up of the client) of its
    own. Where the stream's task
    writes the job's last events (the client could not take them at once), the response's end goes
    with them; the feed, which writes them sooner to thousands of clients, leaves the end to the
    task."""
    runtime = await runtime_factory()
    writes = record_server_writes(monkeypatch)
    if written_by == "its task":
        monkeypatch.setattr(route._Direct, "writable", lambda self: False)
    server, task, port = await _serve(create_app(runtime))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        body = b'{"goal": "Write a note on queues, then summarize it."}'
        writer.write(
            b"POST /jobs HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        async with asyncio.timeout(30):
            received = await reader.readuntil(b"\r\n0\r\n\r\n")  # the stream's end
    finally:
        writer.close()
        server.should_exit = True
        await asyncio.wait_for(task, 30)
    job_id = uuid.UUID(received.split(b"location: /jobs/")[1][:36].decode())
    async with runtime.engine.connect() as conn:
        stored = await events_after(conn, job_id, 0)
    assert stored[-1].type == "job.succeeded"
    assert writes[0].startswith(b"HTTP/1.1 201 ")
    assert b"retry: " in writes[0]
    assert b"event: job.created" in writes[0]
    commits = len({event.created_at for event in stored})  # one commit's events share their time
    if written_by == "its task":
        assert b"event: job.succeeded" in writes[-1]
        assert writes[-1].endswith(b"\r\n0\r\n\r\n")
        assert len(writes) <= commits, [w[:40] for w in writes]
    else:
        assert b"event: job.succeeded" in writes[-2]
        assert writes[-1] == b"0\r\n\r\n"
        assert len(writes) <= 1 + commits, [w[:40] for w in writes]
    assert b"".join(writes) == received  # nothing else was written
