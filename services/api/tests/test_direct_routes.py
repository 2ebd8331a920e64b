"""The way past FastAPI's router (``direct_routes.DirectRoutes``) of the event streams, ``GET
/jobs/{id}`` and ``POST /jobs``: every answer is the one the router would give, and an open stream
holds nothing of the router's."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from planwright.services.api.app import create_app
from planwright.services.api.direct_routes import DirectRoutes
from planwright.services.api.routes import events as route
from planwright.services.api.tests.support import wait_for_task
from planwright.services.api.tests.test_approvals import POLICY
from planwright.services.api.tests.test_events_direct import _serve, _until, _waiting
from planwright.services.runtime import Runtime

CEILING_S = 30.0
# Where the coroutines of FastAPI's router and exception layers live.
ROUTER_FILES = ("fastapi/routing.py", "starlette/routing.py", "starlette/_exception_handler.py")


def _routed(app: Any) -> Any:
    """``app`` without the shortcut: every request goes through the router, as before it existed."""
    app.user_middleware = [m for m in app.user_middleware if m.cls is not DirectRoutes]
    return app


@pytest.fixture
async def both(runtime: Runtime) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """Two clients of the same runtime: through the shortcut, and through the router."""
    direct, routed = create_app(runtime), _routed(create_app(runtime))
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=direct), base_url="http://localhost") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=routed), base_url="http://localhost") as b,
    ):
        yield a, b


def _without_retry(body: str) -> str:
    """The body without its ``retry:`` hint, which is spread over the clients at random."""
    return "\n".join(line for line in body.split("\n") if not line.startswith("retry:"))


async def test_every_answer_is_the_one_the_router_gives(both, demo_goal, finished):
    direct, routed = both
    job_id = (await direct.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    requests: list[tuple[str, dict[str, str]]] = [
        (f"/jobs/{job_id}/events", {}),  # the whole replay
        (f"/jobs/{job_id}/events?after=3", {}),
        (f"/jobs/{job_id}/events", {"Last-Event-ID": "2"}),
        ("/jobs/not-a-uuid/events", {}),  # 422, naming job_id
        (f"/jobs/{uuid.uuid4()}/events", {}),  # 404
        (f"/jobs/{job_id}/events?after=-1", {}),  # 422, naming after
        (f"/jobs/{job_id}/events", {"Last-Event-ID": "abc"}),  # 422
    ]
    statuses = set()
    for path, headers in requests:
        a, b = await direct.get(path, headers=headers), await routed.get(path, headers=headers)
        assert (a.status_code, a.headers["content-type"]) == (b.status_code, b.headers["content-type"]), path
        assert _without_retry(a.text) == _without_retry(b.text), path
        statuses.add(a.status_code)
    assert statuses == {200, 404, 422}


async def test_a_jobs_detail_is_the_one_the_router_gives(both, demo_goal, finished):
    direct, routed = both
    job_id = (await direct.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    requests = [
        f"/jobs/{job_id}",
        f"/jobs/{job_id.upper()}",  # a UUID as FastAPI reads it
        "/jobs/not-a-uuid",  # 422, naming job_id
        f"/jobs/{uuid.uuid4()}",  # 404
        f"/jobs/{job_id}/",  # not this route: the router's answer either way
        f"/jobs/{job_id}?unknown=1",
    ]
    statuses = set()
    for path in requests:
        a, b = await direct.get(path), await routed.get(path)
        assert (a.status_code, a.headers.get("content-type")) == (
            b.status_code,
            b.headers.get("content-type"),
        ), path
        assert a.content == b.content, path
        statuses.add(a.status_code)
    assert {200, 404, 422} <= statuses
    # Only the route's GET is taken past the router: the others reach it as before.
    a, b = await direct.post(f"/jobs/{job_id}"), await routed.post(f"/jobs/{job_id}")
    assert (a.status_code, a.json()) == (b.status_code, b.json()) == (405, b.json())


# POST /jobs bodies: each (content, content type) is answered alike through the shortcut and the router.
_SUBMITS: list[tuple[bytes, str | None]] = [
    (b'{"goal": "Write a note", "priority": 3, "context_json": {"audience": "ops"}}', "application/json"),
    (b'{"goal": "Write a note"}', "application/json; charset=utf-8"),
    (b'{"goal": "Write a note"}', "application/vnd.planwright+json"),
    (b'{"goal": "Write a note"}', None),  # no type: not read as JSON (FastAPI's strict default)
    (b'{"goal": "Write a note"}', "text/plain"),
    (b"goal=Write+a+note", "application/x-www-form-urlencoded"),  # (415 from the Guard, as before)
    (b"", "application/json"),  # the body is missing
    (b'{"goal": "Write a note",', "application/json"),  # JSON that does not decode
    (b"[1, 2]", "application/json"),
    (b"null", "application/json"),
    (b'{"goal": "Write a note", "unknown": 1}', "application/json"),
    (b'{"goal": 5, "priority": "high", "context_json": []}', "application/json"),
    (b'{"goal": "Write a note", "max_tasks": 0}', "application/json"),
    (b"{}", "application/json"),  # neither a goal nor a plan
    (b'{"goal": "x", "plan": {"tasks": [{"key": "a", "tool": "no_such_tool"}]}}', "application/json"),
]


def _without_ids(body: Any) -> Any:
    """A job's JSON without what differs between two jobs (ids, times, trace)."""
    if isinstance(body, dict):
        varying = {"id", "created_at", "updated_at", "trace_id", "trace_url"}
        return {k: _without_ids(v) for k, v in body.items() if k not in varying}
    return body


async def test_a_submit_is_answered_as_through_the_router(both):
    direct, routed = both
    statuses = set()
    for content, content_type in _SUBMITS:
        headers = {"content-type": content_type} if content_type else {}
        a = await direct.post("/jobs", content=content, headers=headers)
        b = await routed.post("/jobs", content=content, headers=headers)
        case = (content, content_type)
        assert a.status_code == b.status_code, case
        assert a.headers.get("content-type") == b.headers.get("content-type"), case
        assert _without_ids(a.json()) == _without_ids(b.json()), case
        statuses.add(a.status_code)
    assert statuses == {201, 415, 422}
    # A repeated Idempotency-Key: the first job, 200, either way.
    key = {"idempotency-key": "direct-routes-test"}
    first = await direct.post("/jobs", json={"goal": "Write a note"}, headers=key)
    again = [await client.post("/jobs", json={"goal": "Write a note"}, headers=key) for client in both]
    assert [r.status_code for r in (first, *again)] == [201, 200, 200]
    assert first.json()["id"] == again[0].json()["id"] == again[1].json()["id"]


async def test_a_submit_over_the_body_limit_is_refused_alike(runtime_factory):
    runtime = await runtime_factory(max_request_bytes=1024)
    for app in (create_app(runtime), _routed(create_app(runtime))):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            resp = await c.post("/jobs", json={"goal": "Write a note " * 100})
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "request_too_large"


async def test_the_direct_routes_never_reach_the_router(both, demo_goal, finished, monkeypatch):
    reached: list[str] = []
    handle = APIRoute.handle

    async def spied(self: APIRoute, scope: Any, receive: Any, send: Any) -> None:
        reached.append(self.path)
        await handle(self, scope, receive, send)

    monkeypatch.setattr(APIRoute, "handle", spied)
    direct, routed = both
    job_id = (await direct.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    for client in (direct, routed):
        reached.clear()
        assert (await client.post("/jobs", json={"goal": demo_goal})).status_code == 201
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/events", f"/jobs/{job_id}/tasks"):
            assert (await client.get(path)).status_code == 200, path
        assert (await client.get("/jobs")).status_code == 200  # the list: GET on POST /jobs's path
        if client is direct:
            assert reached == ["/jobs/{job_id}/tasks", "/jobs"]
        else:
            routes = ["/jobs/{job_id}", "/jobs/{job_id}/events", "/jobs/{job_id}/tasks"]
            assert reached == ["/jobs", *routes, "/jobs"]


@pytest.mark.parametrize("shortcut", [True, False])
async def test_the_jobs_list_stream_opens_as_through_the_router(runtime, shortcut):
    app = create_app(runtime)
    server, task, port = await _serve(app if shortcut else _routed(app))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /jobs/changes HTTP/1.1\r\nHost: localhost\r\n\r\n")
        async with asyncio.timeout(CEILING_S):
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200"), head
            assert b"content-type: text/event-stream" in head.lower()
            assert b"event: ready\n" in await reader.readuntil(b"event: ready\n")
        writer.close()
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, CEILING_S)


async def test_an_error_no_handler_takes_is_the_servers_500(runtime, monkeypatch):
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(route, "_open", broken)
    for app in (create_app(runtime), _routed(create_app(runtime))):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            resp = await client.get(f"/jobs/{uuid.uuid4()}/events")
        assert resp.status_code == 500
        assert resp.json()["error"]["code"] == "internal_error"


def _router_coroutines() -> int:
    """Suspended coroutines of FastAPI's router and exception layers in this process."""
    return sum(
        1
        for obj in gc.get_objects()
        if type(obj).__name__ == "coroutine"
        and obj.cr_frame is not None
        and obj.cr_code.co_filename.replace("\\", "/").endswith(ROUTER_FILES)
    )


@pytest.mark.parametrize("shortcut", [True, False])
async def test_an_open_stream_holds_nothing_of_the_routers(runtime_factory, tmp_path, demo_goal, shortcut):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(timeout=3600))  # the approval of write_artifact holds the job
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", policy_config_path=path)
    app = create_app(runtime)
    server, task, port = await _serve(app if shortcut else _routed(app))
    streams = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=CEILING_S) as client:
            job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
            await wait_for_task(client, job_id, "write_artifact", "awaiting_approval", timeout_s=CEILING_S)
            before = _router_coroutines()
            for _ in range(3):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"GET /jobs/{job_id}/events HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                async with asyncio.timeout(CEILING_S):
                    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
                streams.append(writer)
            await _until(lambda: _waiting(runtime, job_id) == 3, "3 streams waiting for live events")
            held = _router_coroutines() - before
            if shortcut:
                assert held == 0
            else:  # the check sees what the shortcut saves: several of the router's per stream
                assert held >= 3 * 5
    finally:
        for writer in streams:
            writer.close()
        server.should_exit = True
        await asyncio.wait_for(task, CEILING_S)
