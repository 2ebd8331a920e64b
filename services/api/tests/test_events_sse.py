"""SSE: replay after Last-Event-ID, live tail, end after the terminal event."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from planwright.core.db.eventlog import events_after
from planwright.core.states import JobStatus
from planwright.follow import sse_events


def parse(text: str) -> list[tuple[int, str, dict[str, Any]]]:
    return [(i, e, d) for i, e, d in sse_events(iter(text.split("\n"))) if i is not None]


async def test_replay_is_complete_ordered_and_ends_with_the_terminal_event(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    resp = await client.get(f"/jobs/{job_id}/events")
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = parse(resp.text)
    ids = [i for i, _, _ in events]
    assert ids == sorted(set(ids))
    types = [e for _, e, _ in events]
    assert types[:4] == ["job.created", "job.planning", "plan.created", "job.running"]
    assert types[-1] == "job.succeeded"
    for key in ("create_checklist", "write_artifact", "summarize_artifact"):
        states = [e for _, e, d in events if d["data"].get("key") == key and e != "task.progress"]
        assert states == ["task.ready", "task.queued", "task.running", "task.succeeded"], (key, states)
    assert all(d["id"] == i and d["job_id"] == job_id for i, _, d in events)


async def test_resume_with_last_event_id_returns_exactly_the_rest(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    full = parse((await client.get(f"/jobs/{job_id}/events")).text)
    for cut in (1, 5, len(full) - 1):
        last_id = full[cut - 1][0]
        rest = parse(
            (await client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": str(last_id)})).text
        )
        assert [i for i, _, _ in full[:cut]] + [i for i, _, _ in rest] == [i for i, _, _ in full]
        via_query = parse((await client.get(f"/jobs/{job_id}/events", params={"after": last_id})).text)
        assert via_query == rest


async def test_resume_after_the_terminal_event_ends_at_once(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    last = parse((await client.get(f"/jobs/{job_id}/events")).text)[-1][0]
    resp = await client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": str(last)})
    assert resp.status_code == 200
    assert parse(resp.text) == []


@pytest.mark.parametrize("after", ["-1", "abc", "1.5"])
async def test_a_bad_after_is_a_422_naming_it(client, demo_goal, after):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    resp = await client.get(f"/jobs/{job_id}/events", params={"after": after})
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["after"]


async def test_bad_last_event_id_is_a_422(client, demo_goal):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    resp = await client.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "abc"})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "invalid_last_event_id"


async def opened(open_, runtime, job_id, last):
    """``_stream``'s arguments after ``runtime``, as the route opens a stream."""
    sub, status, page = await open_(runtime, job_id, last, None)
    return sub, job_id, last, status, page


async def test_live_subscriber_receives_events_as_they_commit(runtime, demo_goal):
    """Drive the stream generator directly: subscribe first, then the job runs, and every event arrives."""
    from planwright.services.api.routes.events import _open, _stream

    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    received = []
    async with asyncio.timeout(10):
        async for chunk in _stream(runtime, *await opened(_open, runtime, job_id, 0)):
            received.extend(parse(chunk.decode()))
    types = [e for _, e, _ in received]
    assert types[0] == "job.created"
    assert types[-1] == "job.succeeded"
    ids = [i for i, _, _ in received]
    assert ids == sorted(set(ids))
    assert runtime.feed.subscriber_count() == 0  # unsubscribed when the stream ended


async def test_a_job_that_ends_between_the_status_read_and_the_replay_ends_the_stream(runtime, demo_goal):
    """The race a resumed stream once hit: the status read says running, then the terminal event is
    committed before the replay reads the log. The replay sends it, and the stream must end there."""
    from planwright.services.api.routes import events as route

    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    async with asyncio.timeout(10):
        async for _ in route._stream(runtime, *await opened(route._open, runtime, job_id, 0)):
            pass  # run the job to its end
    cut = 3  # resume after the third event, as a client reconnecting with Last-Event-ID would
    received = []
    async with asyncio.timeout(5):
        # "running": what the route's status read saw, just before the job ended (the replay read
        # after it holds the terminal event).
        sub, _, page = await route._open(runtime, job_id, cut, None)
        async for chunk in route._stream(runtime, sub, job_id, cut, JobStatus.running, page):
            received.extend(parse(chunk.decode()))
    assert received[-1][1] == "job.succeeded"
    assert received[0][0] == cut + 1


async def test_lagging_subscriber_catches_up_from_the_database(runtime, demo_goal, monkeypatch):
    from planwright.services.api import queries
    from planwright.services.api.routes.events import _open, _stream

    subscribe = runtime.feed.subscribe

    async def slow_client(job_id):  # its queue holds one event: the feed drops the rest, flags the lag
        sub = await subscribe(job_id)
        sub.maxsize = 1
        return sub

    monkeypatch.setattr(runtime.feed, "subscribe", slow_client)
    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    gen = _stream(runtime, *await opened(_open, runtime, job_id, 0))
    first = parse((await anext(gen)).decode())
    assert first[0][1] == "job.created"
    async with asyncio.timeout(10):  # the client reads nothing while the whole job runs
        while True:
            async with runtime.engine.connect() as conn:
                if await queries.job_status(conn, job_id, None) == "succeeded":
                    break
            await asyncio.sleep(0.02)
    (sub,) = runtime.feed._subs[job_id]
    assert sub.lagged
    rest = []
    async with asyncio.timeout(10):
        async for chunk in gen:
            rest.extend(parse(chunk.decode()))
    assert rest[-1][1] == "job.succeeded"
    async with runtime.engine.connect() as conn:
        stored = [e.id for e in await events_after(conn, job_id, 0)]
    seen = [e[0] for e in first]
    assert seen + [i for i, _, _ in rest] == stored  # nothing lost, nothing twice


async def test_the_jobs_list_stream_says_ready_then_names_each_job_that_changed(runtime, demo_goal):
    from planwright.services.api import queries
    from planwright.services.api.routes.events import _changes

    gen = _changes(runtime, None)  # an async generator
    assert parse_named(await anext(gen)) == ("ready", {})
    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    seen: set[str] = set()
    changes = 0
    async with asyncio.timeout(10):
        while True:
            name, body = parse_named(await anext(gen))
            assert (name, body["all"]) == ("jobs.changed", False)
            seen.update(body["job_ids"])
            changes += 1
            async with runtime.engine.connect() as conn:
                if await queries.job_status(conn, job_id, None) == "succeeded":
                    break
    assert seen == {str(job_id)}
    # The job's ~20 events arrive in bursts; each burst is one change, not one per event.
    async with runtime.engine.connect() as conn:
        assert changes < len(await events_after(conn, job_id, 0))
    await gen.aclose()  # type: ignore[attr-defined]
    assert not runtime.feed._boards  # stopped listening when the client went away


def parse_named(chunk: bytes) -> tuple[str, dict[str, Any]]:
    lines = chunk.decode().strip().split("\n")
    return lines[0].removeprefix("event: "), json.loads(lines[1].removeprefix("data: "))


async def test_a_stream_that_never_starts_still_lets_go_of_its_subscription(runtime, demo_goal):
    """The client leaves before the first byte: the generator never runs, so its own cleanup cannot;
    the response releases the subscription."""
    from planwright.services.api.routes.events import _EventStream, _open, _stream

    job_id = await runtime.orchestrator.create_job(demo_goal, {}, 1)
    sub, status, page = await _open(runtime, job_id, 0, None)
    assert runtime.feed.subscriber_count() == 1
    response = _EventStream(
        _stream(runtime, sub, job_id, 0, status, page),
        sub=sub,
        on_close=lambda: runtime.feed.unsubscribe(sub),
    )

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        raise OSError("the client is gone")

    with pytest.raises(OSError, match="the client is gone"):
        await response({"type": "http", "method": "GET", "path": "/", "headers": []}, receive, send)
    assert runtime.feed.subscriber_count() == 0


async def test_a_client_that_leaves_mid_stream_ends_it(runtime):
    """A stream waiting for live events ends when its client disconnects, and lets go of its
    subscription: nothing keeps waiting for a job on behalf of nobody."""
    from planwright.services.api.routes.events import _EventStream, _stream

    job_id = uuid.uuid4()  # no events will ever come: the stream waits until the client leaves
    sub = await runtime.feed.subscribe(job_id)
    stream = _stream(runtime, sub, job_id, 0, JobStatus.running, [])
    response = _EventStream(stream, sub=sub, on_close=lambda: runtime.feed.unsubscribe(sub))
    gone, started = asyncio.Event(), asyncio.Event()
    sent = []

    async def receive():
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        started.set()

    scope = {"type": "http", "method": "GET", "path": "/", "headers": []}
    serving = asyncio.create_task(response(scope, receive, send))
    async with asyncio.timeout(10):  # the head is sent before any event
        await started.wait()
    assert sent[0]["type"] == "http.response.start"
    gone.set()
    async with asyncio.timeout(10):
        await serving
    assert runtime.feed.subscriber_count() == 0
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_replay_from_the_encoding_cache_is_the_replay_from_the_database(client, demo_goal, finished):
    from planwright.services.api import replay

    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    replay.ENCODED.clear()
    cold = (await client.get(f"/jobs/{job_id}/events")).content  # reads the events, fills the cache
    assert any(key[0] == uuid.UUID(job_id) for key in replay.ENCODED)
    warm = (await client.get(f"/jobs/{job_id}/events")).content  # ids only, bytes from the cache
    replay.ENCODED.pop(next(k for k in replay.ENCODED if k[0] == uuid.UUID(job_id)))
    partly = (await client.get(f"/jobs/{job_id}/events")).content  # one missing: read them again
    assert cold == warm == partly
    assert parse(cold.decode())[-1][1] == "job.succeeded"
