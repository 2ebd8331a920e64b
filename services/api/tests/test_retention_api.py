"""Retention through the API: pinning (tenant-scoped, visible at once), a pruned job gone from every
route, and the sweeper the API process runs (soon after start, quiet through an outage, off at 0)."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import sqlalchemy as sa

from planwright.core import apikeys
from planwright.core.artifacts import ArtifactStore
from planwright.core.db.engine import make_engine
from planwright.core.db.migrate import upgrade_head
from planwright.core.db.schema import jobs
from planwright.core.events import utcnow
from planwright.core.retention import Pruner
from planwright.core.settings import Settings
from planwright.core.tests.retention_support import count_rows, seed_job
from planwright.services.api.app import create_app
from planwright.services.api.sweeper import RetentionSweeper
from planwright.services.api.tests.support import wait_for_job
from planwright.services.runtime import Runtime


async def age_job(runtime: Runtime, job_id: str, days: int = 40) -> None:
    """Make a finished job look ``days`` old."""
    async with runtime.engine.begin() as conn:
        await conn.execute(
            sa.update(jobs)
            .where(jobs.c.id == UUID(job_id))
            .values(finished_at=utcnow() - timedelta(days=days))
        )


async def test_a_pin_shows_at_once_on_a_finished_job_and_can_be_undone(client, demo_goal):
    job = await wait_for_job(client, (await client.post("/jobs", json={"goal": demo_goal})).json()["id"])
    assert job["status"] == "succeeded"
    assert job["pinned"] is False
    assert (await client.get(f"/jobs/{job['id']}")).json() == job  # its result is now kept in memory

    pinned = await client.post(f"/jobs/{job['id']}/pin")
    assert pinned.status_code == 200
    assert pinned.json()["pinned"] is True
    again = (await client.get(f"/jobs/{job['id']}")).json()
    assert again["pinned"] is True
    assert again["result"] == job["result"]
    listed = (await client.get("/jobs")).json()["items"]
    assert [j["pinned"] for j in listed if j["id"] == job["id"]] == [True]
    assert (await client.post(f"/jobs/{job['id']}/pin")).json()["pinned"] is True  # twice: harmless

    unpinned = await client.delete(f"/jobs/{job['id']}/pin")
    assert unpinned.status_code == 200
    assert unpinned.json()["pinned"] is False
    assert (await client.get(f"/jobs/{job['id']}")).json()["pinned"] is False


async def test_pinning_a_job_that_does_not_exist_is_404(client):
    missing = "00000000-0000-0000-0000-000000000001"
    for answer in (await client.post(f"/jobs/{missing}/pin"), await client.delete(f"/jobs/{missing}/pin")):
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "not_found"


async def test_another_tenants_job_cannot_be_pinned(runtime_factory):
    runtime = await runtime_factory(planwright_auth="keys")
    keys = {}
    async with runtime.engine.begin() as conn:
        for tenant, name, scopes in (
            ("acme", "ci", "jobs:read,jobs:write"),
            ("acme", "dashboard", "jobs:read"),
            ("beta", "ci", "jobs:read,jobs:write"),
        ):
            keys[f"{tenant}/{name}"], _ = await apikeys.create(
                conn, tenant=tenant, name=name, scopes=apikeys.parse_scopes(scopes)
            )
    app = create_app(runtime)
    await app.state.keyring.refresh()

    def as_(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {keys[who]}"}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        created = await client.post("/jobs", json={"goal": "Write a note"}, headers=as_("acme/ci"))
        job_id = created.json()["id"]
        for method in ("POST", "DELETE"):
            theirs = await client.request(method, f"/jobs/{job_id}/pin", headers=as_("beta/ci"))
            assert theirs.status_code == 404, theirs.text
            reader = await client.request(method, f"/jobs/{job_id}/pin", headers=as_("acme/dashboard"))
            assert reader.status_code == 403, reader.text
        mine = await client.post(f"/jobs/{job_id}/pin", headers=as_("acme/ci"))
        assert mine.status_code == 200
        assert mine.json()["pinned"] is True
        assert (await client.get(f"/jobs/{job_id}", headers=as_("acme/ci"))).json()["pinned"] is True


async def test_a_pruned_job_is_gone_from_every_route_and_a_pinned_one_stays(client, runtime, demo_goal):
    ids = []
    for _ in range(2):
        created = (await client.post("/jobs", json={"goal": demo_goal})).json()
        ids.append((await wait_for_job(client, created["id"]))["id"])
    gone, pinned = ids
    await client.get(f"/jobs/{gone}")  # its result is kept in memory, by version
    await client.post(f"/jobs/{pinned}/pin")
    for job_id in ids:
        await age_job(runtime, job_id)

    swept = await runtime.sweeper.sweep()

    assert swept is not None
    assert [str(j) for j in swept.job_ids] == [gone]
    for path in (f"/jobs/{gone}", f"/jobs/{gone}/tasks", f"/jobs/{gone}/artifacts", f"/jobs/{gone}/events"):
        assert (await client.get(path)).status_code == 404, path
    assert gone not in [j["id"] for j in (await client.get("/jobs")).json()["items"]]
    kept = (await client.get(f"/jobs/{pinned}")).json()
    assert kept["status"] == "succeeded"
    assert kept["pinned"] is True
    assert kept["result"]["artifacts"]


async def wait_until(what: str, check: Any, ceiling_s: float = 60.0) -> None:
    """Poll ``check`` (a test helper) with a generous ceiling, saying what it waited for if it runs out."""
    try:
        async with asyncio.timeout(ceiling_s):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"waited {ceiling_s:.0f}s for {what}") from None


async def test_the_api_process_sweeps_soon_after_start_and_stops_cleanly(tmp_path: Path):
    settings = Settings(_env_file=None, planwright_data_dir=tmp_path / "data", retention_days=7)
    await asyncio.to_thread(upgrade_head, settings.db_url)
    runtime = Runtime(settings, ("orchestrator",))
    old = await seed_job(runtime.engine, runtime.artifacts, age=timedelta(days=8), contents=(b"old",))
    recent = await seed_job(runtime.engine, runtime.artifacts, age=timedelta(days=6))
    runtime.sweeper.first_after_s = 0.01
    await runtime.start()
    try:

        async def swept() -> bool:
            rows = await count_rows(runtime.engine, old.id)
            return rows["jobs"] == 0 and not runtime.artifacts.path_for(old.hashes[0]).exists()

        await wait_until("the sweeper to delete the old job and its file", swept)
        assert (await count_rows(runtime.engine, recent.id)) == recent.rows
    finally:
        await runtime.stop()
    assert not runtime._tasks


async def test_retention_days_0_runs_no_sweeper(runtime_factory):
    runtime = await runtime_factory(retention_days=0)
    assert "retention" not in {task.get_name() for task in runtime._tasks}
    assert "reconciler" in {task.get_name() for task in runtime._tasks}


async def test_the_sweeper_waits_out_a_database_outage_with_one_warning(tmp_path, caplog):
    engine = make_engine("postgresql://postgres@127.0.0.1:1/nothing_listens_here", pool_size=1)
    pruner = Pruner(engine, ArtifactStore(tmp_path))
    tries = 0
    prune = pruner.prune

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal tries
        tries += 1
        return await prune(*args, **kwargs)

    pruner.prune = counted  # type: ignore[method-assign]
    sweeper = RetentionSweeper(pruner, 30, first_after_s=0, every_s=0.01)
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="planwright.services.api.sweeper")
    loop = asyncio.create_task(sweeper.run(stop))
    try:

        async def tried_thrice() -> bool:
            return tries >= 3

        await wait_until("three sweeps against the missing database", tried_thrice)
    finally:
        stop.set()
        await asyncio.wait_for(loop, timeout=60)  # ends, without raising
        await engine.dispose()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert warnings[0].getMessage().startswith("retention: database unavailable")


async def test_a_job_still_running_is_never_swept(client, runtime):
    """(An unfinished job has no finish time: however old, the sweeper leaves it.)"""
    seeded = await seed_job(runtime.engine, runtime.artifacts, status="running", age=timedelta(days=400))
    swept = await runtime.sweeper.sweep()
    assert swept is not None
    assert swept.jobs == 0
    assert (await client.get(f"/jobs/{seeded.id}")).json()["status"] == "running"
