"""Event streams, cheap and bounded: the per-process cap (503 with Retry-After), slots given back
however a stream ends, no read for a client who left before its stream opened, the ``retry:`` hint
that starts every stream, and the one query that opens a stream."""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from planwright.core.db.reads import fetch_all
from planwright.core.errors import NotFound
from planwright.core.settings import Settings
from planwright.services.api import replay, streams
from planwright.services.api.app import create_app
from planwright.services.api.routes import events as route
from planwright.services.api.tests.support import wait_for_job
from planwright.services.api.tests.test_events_direct import _serve, _until
from planwright.services.api.tests.test_events_sse import parse

CEILING_S = 30.0  # for anything awaited here: a ceiling, not an expectation


def refused(stream: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "planwright_sse_streams_refused_total", {"stream": stream, "reason": reason}
    )
    return value or 0.0


async def _get(port: int, path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A GET on a new connection: the reader, the writer and the response's head."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    async with asyncio.timeout(CEILING_S):
        head = await reader.readuntil(b"\r\n\r\n")
    return reader, writer, head


def _headers(head: bytes) -> dict[str, str]:
    lines = head.decode().split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}


@pytest.fixture
async def capped(runtime_factory):
    """The API under uvicorn, serving at most one stream at a time."""
    runtime = await runtime_factory(sse_max_streams=1)
    app = create_app(runtime)
    server, task, port = await _serve(app)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=CEILING_S) as client:
        yield runtime, app.state.streams, client, port, server
    server.should_exit = True
    await asyncio.wait_for(task, CEILING_S)


async def test_a_stream_past_the_cap_is_answered_503_with_retry_after_at_once(capped, demo_goal):
    _, gate, client, port, _ = capped
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await wait_for_job(client, job_id)
    # The jobs list's stream holds the only slot.
    reader, writer, head = await _get(port, "/jobs/changes")
    assert head.startswith(b"HTTP/1.1 200")
    async with asyncio.timeout(CEILING_S):
        await reader.readuntil(b"event: ready")
    before = refused("job_events", "full")

    resp = await client.get(f"/jobs/{job_id}/events")
    assert resp.status_code == 503
    assert 1 <= int(resp.headers["retry-after"]) <= 5
    assert resp.headers["connection"] == "close"  # a refused client holds no connection
    error = resp.json()["error"]
    assert error["code"] == "too_many_streams"
    assert error["details"] == {"limit": 1, "retry_after_s": int(resp.headers["retry-after"])}
    assert "SSE_MAX_STREAMS" in error["message"]
    assert refused("job_events", "full") == before + 1

    writer.close()  # the jobs list leaves: its slot comes back
    await _until(lambda: gate.open == 0, "the jobs list's slot to come back")
    resp = await client.get(f"/jobs/{job_id}/events")
    assert resp.status_code == 200
    assert parse(resp.text)[-1][1] == "job.succeeded"
    assert gate.open == 0  # the stream ended: its slot too


async def test_a_stream_that_cannot_open_gives_its_slot_back(runtime_factory, demo_goal):
    runtime = await runtime_factory(sse_max_streams=1)
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        for _ in range(2):  # the second is a 404 too, not a 503: the first gave its slot back
            resp = await client.get(f"/jobs/{uuid.uuid4()}/events")
            assert resp.status_code == 404
        assert app.state.streams.open == 0


async def test_every_stream_starts_with_a_retry_hint_spread_over_its_clients(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    body = (await client.get(f"/jobs/{job_id}/events")).text
    first, _, rest = body.partition("\n\n")
    low, high = streams.RECONNECT_MS
    assert first.startswith("retry: ")
    assert low <= int(first.removeprefix("retry: ")) <= high
    assert parse(rest)[-1][1] == "job.succeeded"  # then the replay, as before
    # Each connection (its own client port) gets its own delay: a herd comes back spread out.
    delays = [streams._reconnect_ms({"client": ("127.0.0.1", port)}) for port in range(40000, 40200)]
    assert all(low <= d < high for d in delays)
    assert len(set(delays)) > 150
    assert max(delays) - min(delays) > (high - low) * 0.9


async def test_the_jobs_list_stream_starts_with_the_hint_too(runtime):
    gen = route._changes(runtime, None, b"retry: 1234\n\n")
    assert await anext(gen) == b"retry: 1234\n\nevent: ready\ndata: {}\n\n"
    await gen.aclose()  # type: ignore[attr-defined]


async def test_a_client_that_left_while_waiting_its_turn_gets_nothing_read(capped, monkeypatch, caplog):
    """As after a stall: the request waits its turn to open (the turns are all taken here) while its
    client gives up. When its turn comes, nothing is read for it, and nothing is logged as an error."""
    runtime, gate, _, port, server = capped
    opened: list[Any] = []
    real_open = route._open

    async def counted(*args: Any) -> Any:
        opened.append(args)
        return await real_open(*args)

    monkeypatch.setattr(route, "_open", counted)
    monkeypatch.setattr(gate, "opening", asyncio.Semaphore(1))
    before = refused("job_events", "client_gone")
    caplog.set_level(logging.ERROR)
    async with gate.opening:  # every turn taken
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(f"GET /jobs/{uuid.uuid4()}/events HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await _until(lambda: gate.open == 1, "the request to wait for its turn")
        writer.close()
        await _until(lambda: not server.server_state.connections, "the server to see the client leave")
    await _until(lambda: gate.open == 0, "the slot to come back")
    assert refused("job_events", "client_gone") == before + 1
    assert opened == []  # no subscription, no query
    assert runtime.feed.subscriber_count() == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_the_status_and_the_first_page_are_one_query(runtime, demo_goal, monkeypatch):
    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    async with asyncio.timeout(CEILING_S):
        async for _ in route._stream(runtime, *await _opened(runtime, job_id)):
            pass  # the job runs to its end, and its events are encoded (the cache is warm)
    queries: list[Any] = []
    real_fetch = fetch_all

    async def counted(conn: Any, stmt: Any, params: Any) -> Any:
        queries.append(stmt)
        return await real_fetch(conn, stmt, params)

    monkeypatch.setattr(replay, "fetch_all", counted)
    read = replay.status_and_page
    status, page = await runtime.reads.run(lambda c: read(c, job_id=job_id, after=2, tenant=None))
    assert len(queries) == 1
    assert status == "succeeded"
    assert [event_id for event_id, _, _ in page] == sorted(event_id for event_id, _, _ in page)
    assert page[0][0] > 2
    assert page[-1][1] == "job.succeeded"
    assert json.loads(page[-1][2].decode().split("data: ", 1)[1])["type"] == "job.succeeded"
    for job, tenant in ((job_id, "someone-else"), (uuid.uuid4(), None)):
        with pytest.raises(NotFound):
            await runtime.reads.run(lambda c, j=job, t=tenant: read(c, job_id=j, after=0, tenant=t))


async def _opened(runtime: Any, job_id: uuid.UUID) -> tuple[Any, ...]:
    sub, status, page = await route._open(runtime, job_id, 0, None)
    return sub, job_id, 0, status, page


def test_the_default_cap_is_half_the_open_file_limit_within_a_ceiling(monkeypatch):
    for soft, cap in ((1024, 512), (20_000, 10_000), (resource.RLIM_INFINITY, 10_000)):
        monkeypatch.setattr(resource, "getrlimit", lambda _, s=soft: (s, resource.RLIM_INFINITY))
        assert streams.machine_max_streams() == cap
        assert streams.StreamGate.of(Settings(_env_file=None)).max_streams == cap
    assert streams.StreamGate.of(Settings(_env_file=None, sse_max_streams=7)).max_streams == 7
