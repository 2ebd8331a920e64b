"""``GET /healthz`` answers from a health state checked in the background (services/api/health.py):
no query per call, yet a failing dependency shows within a second or two, and so does a check loop
that stopped checking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event

from planwright.core.db.engine import make_engine
from planwright.core.llm import MOCK_NOTICE
from planwright.services.api.app import create_app
from planwright.services.api.health import Health
from planwright.services.runtime import Runtime

REFUSED = "postgresql://nobody@127.0.0.1:1/none"  # nothing listens on port 1

# What /healthz says about the model under the default settings (the mock).
MOCK = {"llm_provider": "mock", "llm_model": "mock", "llm_notice": MOCK_NOTICE}


@pytest.fixture
async def quiet_runtime(runtime_factory) -> Runtime:
    """A runtime with no service loops: every statement on its engine comes from the health check."""
    runtime: Runtime = await runtime_factory(roles=())
    return runtime


def client_for(runtime: Runtime, health: Health | None = None) -> httpx.AsyncClient:
    app = create_app(runtime)
    if health is not None:
        app.state.health = health
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


@pytest.fixture
async def started() -> AsyncIterator[list[Health]]:
    """Health loops a test starts (ASGITransport runs no lifespan); all are stopped afterwards."""
    healths: list[Health] = []
    yield healths
    for health in healths:
        await health.stop()


async def start(health: Health, started: list[Health]) -> Health:
    await health.start()
    started.append(health)
    return health


async def wait_for_status(
    client: httpx.AsyncClient, status: int, *, timeout_s: float = 15.0
) -> httpx.Response:
    """Poll /healthz until it answers ``status`` (generous ceiling: the loop checks every second)."""
    async with asyncio.timeout(timeout_s):
        while True:
            resp = await client.get("/healthz")
            if resp.status_code == status:
                return resp
            await asyncio.sleep(0.05)


async def test_healthz_serves_the_cached_state_without_a_query(quiet_runtime, started):
    # A long interval: no background check falls inside the measured calls.
    health = await start(Health(quiet_runtime, interval_s=3600, stale_after_s=3600), started)
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    sync_engine = quiet_runtime.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        async with client_for(quiet_runtime, health) as client:
            answers = [await client.get("/healthz") for _ in range(20)]
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert statements == []
    assert health.state is not None
    assert {a.status_code for a in answers} == {200}
    bodies = [a.json() for a in answers]
    assert bodies[0] == {
        "status": "ok",
        "mode": "embedded",
        **MOCK,
        "database": "ok",
        "checked_at": health.state.checked_at.isoformat(timespec="milliseconds"),
    }
    assert all(b == bodies[0] for b in bodies)  # one check, served 20 times

    # The loop itself does query: one SELECT 1 per check.
    event.listen(sync_engine, "before_cursor_execute", count)
    try:
        await health.check()
    finally:
        event.remove(sync_engine, "before_cursor_execute", count)
    assert statements == ["SELECT 1"]


async def test_a_failing_database_turns_healthz_503_and_back(quiet_runtime, started, caplog):
    health = await start(Health(quiet_runtime), started)  # the production interval: 1 s
    original = quiet_runtime.engine
    async with client_for(quiet_runtime, health) as client:
        assert (await client.get("/healthz")).status_code == 200
        quiet_runtime.engine = make_engine(REFUSED)
        try:
            with caplog.at_level(logging.WARNING, logger="planwright.services.api.health"):
                failed = await wait_for_status(client, 503)
        finally:
            await quiet_runtime.engine.dispose()
            quiet_runtime.engine = original
        body = failed.json()
        assert body.pop("checked_at")
        assert body == {
            "status": "unavailable",
            "mode": "embedded",
            **MOCK,
            "database": "unavailable",
            "error": "database unavailable: connection refused",
        }
        # The driver's own message (host, port, "Connect call failed") goes to the log, not the answer.
        assert "127.0.0.1" not in failed.text
        assert any("127.0.0.1" in r.getMessage() for r in caplog.records)

        recovered = await wait_for_status(client, 200)
        assert recovered.json()["database"] == "ok"


async def test_a_check_loop_that_stops_checking_is_not_reported_healthy(quiet_runtime, started, caplog):
    health = await start(Health(quiet_runtime, interval_s=0.05, stale_after_s=0.5), started)
    async with client_for(quiet_runtime, health) as client:
        # Healthy while the loop checks (a loaded machine may leave one answer stale: wait for a fresh one).
        await wait_for_status(client, 200)
        hung = asyncio.Event()

        async def hang() -> None:
            hung.set()
            await asyncio.Event().wait()  # never returns: the loop is stuck, not failing

        health.check = hang  # type: ignore[assignment,method-assign]
        await asyncio.wait_for(hung.wait(), timeout=10)
        stale = (await wait_for_status(client, 503)).json()
        assert stale["status"] == "unavailable"
        assert stale["database"] == "unknown"
        assert stale["error"].startswith("the last health check completed")
        assert health.running  # stuck, not ended: stop() below cancels it

    # A check that raises is logged and the loop goes on.
    health2 = await start(Health(quiet_runtime, interval_s=0.05, stale_after_s=0.5), started)
    calls = 0
    crashed_thrice = asyncio.Event()

    async def broken() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            crashed_thrice.set()
        raise RuntimeError("a bug in the check")

    with caplog.at_level(logging.ERROR, logger="planwright.services.api.health"):
        health2.check = broken  # type: ignore[assignment,method-assign]
        await asyncio.wait_for(crashed_thrice.wait(), timeout=10)
    assert health2.running
    assert any(r.getMessage() == "health check crashed" for r in caplog.records)
    async with client_for(quiet_runtime, health2) as client:
        assert (await wait_for_status(client, 503)).json()["database"] == "unknown"


async def test_a_hung_database_is_a_timeout(quiet_runtime, monkeypatch):
    health = Health(quiet_runtime, timeout_s=0.1)

    async def hang() -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(health, "_database", hang)
    state = await health.check()
    assert state.error == "database unavailable: timed out after 0.1 s"
    assert health.report()[0] == 503


async def test_distributed_mode_also_pings_redis(quiet_runtime):
    class Answering:
        async def ping(self) -> bool:
            return True

    def fake(client: Any) -> Runtime:
        distributed = SimpleNamespace(
            settings=SimpleNamespace(embedded=False, llm_provider="openai", model="gpt-4o-mini"),
            bus=SimpleNamespace(redis=client),
            engine=quiet_runtime.engine,
        )
        return cast(Runtime, distributed)

    health = Health(fake(Answering()))
    assert health.report() == (
        503,
        {
            "status": "unavailable",
            "mode": "distributed",
            "llm_provider": "openai",  # a real model: no notice
            "llm_model": "gpt-4o-mini",
            "error": "no health check has completed yet",
        },
    )
    await health.check()
    status, body = health.report()
    assert status == 200
    assert (body["mode"], body["database"], body["redis"]) == ("distributed", "ok", "ok")

    refused = Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        health = Health(fake(refused))
        await health.check()
    finally:
        await refused.aclose()
    status, body = health.report()
    assert status == 503
    assert (body["database"], body["redis"]) == ("ok", "unavailable")
    assert body["error"] == "redis unavailable: connection refused"


async def test_the_lifespan_calls_started_once_everything_started(quiet_runtime):
    # `planwright up` and `api` pass heap.settle here: it must run once the runtime, the health check
    # and the key ring have started, and before the app serves.
    seen: list[bool] = []
    app = create_app(quiet_runtime, started=lambda: seen.append(app.state.health.state is not None))
    async with app.router.lifespan_context(app):
        assert seen == [True]
    assert seen == [True]


async def test_the_lifespan_checks_before_serving_and_stops_the_loop(quiet_runtime):
    app = create_app(quiet_runtime)
    health: Health = app.state.health
    assert health.report()[0] == 503  # nothing checked yet
    async with app.router.lifespan_context(app):
        assert health.running
        assert health.state is not None
        assert health.state.ok  # the first answer is a real one
        loop = health._task
    assert health._task is None  # stopped with the app
    assert loop is not None
    assert loop.cancelled()
