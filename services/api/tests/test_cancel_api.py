"""Cancelling jobs: unfinished ones stop, finished ones answer 409."""

from __future__ import annotations

import httpx

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


async def test_cancel_an_unfinished_job_cancels_its_open_tasks(runtime_factory, demo_goal):
    # No worker: tasks wait in the queue, so the job is still running when we cancel it.
    runtime = await runtime_factory(roles=("orchestrator", "planner"))
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
        await wait_for_job(client, job_id, statuses=("running",))

        resp = await client.post(f"/jobs/{job_id}/cancel")
        assert resp.status_code == 200
        assert resp.json()["status"] == "cancelled"
        assert resp.json()["error"] == "cancelled by user"
        tasks = (await client.get(f"/jobs/{job_id}/tasks")).json()
        assert [t["status"] for t in tasks] == ["cancelled"] * 3

        again = await client.post(f"/jobs/{job_id}/cancel")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "invalid_transition"
        assert "already cancelled" in again.json()["error"]["message"]


async def test_cancel_a_finished_job_is_a_409(client, demo_goal, finished):
    job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
    await finished(job_id)
    resp = await client.post(f"/jobs/{job_id}/cancel")
    assert resp.status_code == 409
    assert "already succeeded" in resp.json()["error"]["message"]
    assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "succeeded"


async def test_cancel_unknown_job_is_a_404(client):
    resp = await client.post("/jobs/00000000-0000-0000-0000-000000000001/cancel")
    assert resp.status_code == 404
