"""``POST /jobs`` with ``Accept: text/event-stream``: the submit answered with the job's events, in
one request. The same events as ``GET /jobs/{id}/events``, nothing read to open it, the slot taken
before the job is made, ``jobs:read`` needed too, and an Idempotency-Key repeat streaming the first job."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from planwright.core import apikeys
from planwright.services.api.app import create_app
from planwright.services.api.routes import events as route
from planwright.services.api.tests.test_events_direct import _until
from planwright.services.api.tests.test_events_limits import capped, refused
from planwright.services.api.tests.test_events_sse import parse

STREAM = {"Accept": "text/event-stream"}
__all__ = ["capped"]  # a fixture of test_events_limits, used here too


def _job_id(resp: httpx.Response) -> str:
    location = resp.headers["location"]
    assert location.startswith("/jobs/"), location
    return location.removeprefix("/jobs/")


async def _jobs(client: httpx.AsyncClient, **headers: str) -> list[str]:
    resp = await client.get("/jobs", headers=headers)
    assert resp.status_code == 200, resp.text
    return [item["id"] for item in resp.json()["items"]]


async def test_the_answer_is_the_jobs_whole_event_stream(client, demo_goal, runtime):
    resp = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM)
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"].startswith("text/event-stream")
    assert resp.headers["cache-control"] == "no-cache"
    job_id = _job_id(resp)
    streamed = parse(resp.text)
    assert streamed[0][1] == "job.created"
    assert streamed[-1][1] == "job.succeeded"
    assert all(data["job_id"] == job_id for _, _, data in streamed)
    # Exactly what the job's own stream replays: every event, in order, none twice.
    assert streamed == parse((await client.get(f"/jobs/{job_id}/events")).text)
    assert resp.text.startswith("retry: ")  # the reconnect hint, as every stream starts
    assert runtime.feed.subscriber_count() == 0


async def test_without_asking_for_events_the_answer_is_the_job(client, demo_goal):
    for accept in (None, "application/json", "text/event-stream;q=0, application/json", "*/*"):
        resp = await client.post(
            "/jobs", json={"goal": demo_goal}, headers={"Accept": accept} if accept else {}
        )
        assert resp.status_code == 201, (accept, resp.text)
        assert resp.headers["content-type"] == "application/json", accept
        assert resp.json()["status"] == "pending"


@pytest.mark.parametrize(
    ("accept", "wanted"),
    [
        ("text/event-stream", True),
        ("Text/Event-Stream", True),
        ("application/json, text/event-stream;q=0.5", True),
        ("text/event-stream; q=0", False),
        ("text/event-stream;q=0.0", False),
        ("text/event-stream;q=x", True),
        ("text/event-streams", False),
        ("application/json", False),
        ("", False),
    ],
)
def test_which_accept_headers_ask_for_events(accept, wanted):
    scope = {"type": "http", "method": "POST", "path": "/jobs", "headers": [(b"accept", accept.encode())]}
    assert route.wants_events(Request(scope)) is wanted


async def test_a_bad_submit_is_answered_as_json_and_holds_no_stream(client, runtime):
    resp = await client.post("/jobs", json={"goal": ""}, headers=STREAM)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "validation_error"
    plan = {"tasks": [{"key": "a", "title": "a", "tool": "no_such_tool", "args": {}, "depends_on": []}]}
    resp = await client.post("/jobs", json={"plan": plan}, headers=STREAM)
    assert resp.status_code == 422, resp.text
    assert await _jobs(client) == []
    app_streams = client._transport.app.state.streams
    assert app_streams.open == 0
    assert runtime.feed.subscriber_count() == 0


async def test_a_repeated_idempotency_key_streams_the_first_job(client, demo_goal):
    key = {"Idempotency-Key": f"k-{uuid.uuid4()}"}
    first = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM | key)
    assert first.status_code == 201, first.text
    job_id = _job_id(first)
    events = parse(first.text)
    again = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM | key)
    assert again.status_code == 200, again.text
    assert again.headers["content-type"].startswith("text/event-stream")
    assert _job_id(again) == job_id
    assert parse(again.text) == events
    # Resumed where the client's stream broke off, as GET /jobs/{id}/events would.
    cut = events[4][0]
    rest = await client.post(
        "/jobs", json={"goal": demo_goal}, headers=STREAM | key | {"Last-Event-ID": str(cut)}
    )
    assert rest.status_code == 200
    assert parse(rest.text) == events[5:]
    as_json = await client.post("/jobs", json={"goal": demo_goal}, headers=key)
    assert as_json.status_code == 200
    assert as_json.json()["id"] == job_id
    assert await _jobs(client) == [job_id]


async def test_a_store_that_fails_gives_the_slot_and_subscription_back(
    client, demo_goal, runtime, monkeypatch
):
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(runtime.orchestrator, "submit_job", broken)
    with pytest.raises(RuntimeError, match="went away"):
        await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM)
    assert client._transport.app.state.streams.open == 0
    assert runtime.feed.subscriber_count() == 0


async def test_under_uvicorn_and_with_no_room_for_a_stream(capped, demo_goal):
    """Under uvicorn (the stream written straight to its connection), one stream at most."""
    runtime, gate, client, _, _ = capped
    async with client.stream("POST", "/jobs", json={"goal": demo_goal}, headers=STREAM) as resp:
        assert resp.status_code == 201
        assert resp.headers["transfer-encoding"] == "chunked"
        job_id = _job_id(resp)
        assert gate.open == 1
        # The process is full: another streamed submit is refused, and makes no job.
        before = refused("create_job", "full")
        full = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM)
        assert full.status_code == 503, full.text
        assert full.json()["error"]["code"] == "too_many_streams"
        assert 1 <= int(full.headers["retry-after"]) <= 5
        assert refused("create_job", "full") == before + 1
        assert await _jobs(client) == [job_id]
        body = "".join([text async for text in resp.aiter_text()])
    streamed = parse(body)
    assert streamed[-1][1] == "job.succeeded"
    assert streamed == parse((await client.get(f"/jobs/{job_id}/events")).text)
    await _until(lambda: gate.open == 0 and runtime.feed.subscriber_count() == 0, "the stream's slot back")
    # A plain submit needs no stream slot: it is answered while a stream holds the only one.
    slot = gate.take()
    try:
        plain = await client.post("/jobs", json={"goal": demo_goal})
        assert plain.status_code == 201
        assert plain.headers["content-type"] == "application/json"
    finally:
        slot.release()


@pytest.fixture
async def keyed(runtime_factory):
    """The API with keys on: a writer that may not read, and one that may do both."""
    runtime = await runtime_factory(planwright_auth="keys")
    headers = {}
    async with runtime.engine.begin() as conn:
        for name, scopes in (("writer", "jobs:write"), ("both", "jobs:read,jobs:write")):
            key, _ = await apikeys.create(conn, tenant="acme", name=name, scopes=apikeys.parse_scopes(scopes))
            headers[name] = {"Authorization": f"Bearer {key}"}
    app = create_app(runtime)
    await app.state.keyring.refresh()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        yield client, headers, app.state.streams


async def test_following_a_submit_needs_jobs_read_too(keyed, demo_goal):
    client, keys, gate = keyed
    refused_ = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM | keys["writer"])
    assert refused_.status_code == 403, refused_.text
    error = refused_.json()["error"]
    assert error["code"] == "forbidden"
    assert "jobs:read" in error["message"]
    assert await _jobs(client, **keys["both"]) == []  # no job was made
    assert gate.open == 0
    plain = await client.post("/jobs", json={"goal": demo_goal}, headers=keys["writer"])
    assert plain.status_code == 201
    streamed = await client.post("/jobs", json={"goal": demo_goal}, headers=STREAM | keys["both"])
    assert streamed.status_code == 201
    assert parse(streamed.text)[-1][1] == "job.succeeded"
