"""The critic loop on the whole embedded platform: rework then success, reworks exhausted."""

from __future__ import annotations

import httpx

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


async def _run(runtime, goal):
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        job = await wait_for_job(client, (await client.post("/jobs", json={"goal": goal})).json()["id"])
        tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
        events = (await client.get(f"/jobs/{job['id']}/events")).text
    return job, tasks, events


async def test_a_first_attempt_left_incomplete_is_reworked_then_approved(runtime_factory, demo_goal):
    # Rate 1: every job's first checklist comes out without items (the seed's critic demo).
    runtime = await runtime_factory(critic_enabled=True, critic_demo_fault_rate=1.0)
    job, tasks, events = await _run(runtime, demo_goal)
    assert job["status"] == "succeeded", job["error"]
    checklist = tasks[0]
    assert (checklist["attempt"], checklist["reworks"]) == (2, 1)
    assert [(v["attempt"], v["verdict"]) for v in checklist["verdicts"]] == [(1, "rework"), (2, "approve")]
    assert "the checklist has 0 item(s)" in checklist["verdicts"][0]["reasons"][0]
    assert checklist["output"]["text"].count("- [ ]") >= 6
    assert [(v["attempt"], v["verdict"]) for v in tasks[1]["verdicts"]] == [(1, "approve")]
    assert tasks[2]["verdicts"] == []  # not critic_required
    assert events.count("event: critic.verdict") == 3
    assert '"verdict":"rework"' in events


async def test_a_task_that_never_satisfies_the_critic_fails_after_the_cap(runtime_factory):
    runtime = await runtime_factory(critic_enabled=True, critic_max_reworks=2)
    job, tasks, _ = await _run(runtime, 'Save "" to empty.txt')
    (task,) = tasks
    assert (task["status"], task["attempt"], task["reworks"]) == ("failed", 3, 2)
    assert task["error"] == "rejected by critic after 2 reworks: artifact empty.txt is empty"
    assert [v["verdict"] for v in task["verdicts"]] == ["rework"] * 3
    assert job["status"] == "failed"
    assert "rejected by critic after 2 reworks" in job["error"]


async def test_with_the_critic_off_nothing_is_reviewed(runtime_factory, demo_goal):
    runtime = await runtime_factory(critic_demo_fault_rate=1.0)  # no effect while the critic is off
    job, tasks, events = await _run(runtime, demo_goal)
    assert job["status"] == "succeeded"
    assert all(t["verdicts"] == [] and t["attempt"] == 1 for t in tasks)
    assert "critic.verdict" not in events
