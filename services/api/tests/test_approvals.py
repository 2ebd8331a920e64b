"""Human approval: a task whose tool is on the policy's require_approval list waits for a person."""

from __future__ import annotations

import httpx
import pytest

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job, wait_for_task

POLICY = """
version: 1
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize]
    require_approval: [file_write_artifact]
    approval_timeout_s: {timeout}
"""


@pytest.fixture
def gated(runtime_factory, tmp_path):
    async def make(approval_timeout: float = 3600, **settings):
        path = tmp_path / "policy.yaml"
        path.write_text(POLICY.format(timeout=approval_timeout))
        runtime = await runtime_factory(
            policy_gate_enabled=True, policy_mode="prod", policy_config_path=path, **settings
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
        )

    return make


async def _waiting(client, goal):
    job_id = (await client.post("/jobs", json={"goal": goal})).json()["id"]
    task = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval")
    return job_id, task


async def test_an_approved_task_runs_and_the_job_succeeds(gated, demo_goal):
    async with await gated() as client:
        job_id, task = await _waiting(client, demo_goal)
        assert [d["decision"] for d in task["policy_decisions"]] == ["needs_approval"]
        assert task["policy_decisions"][0]["rule"] == "environments.prod.require_approval"
        resp = await client.post(f"/tasks/{task['id']}/approve", json={"comment": "looks fine"})
        assert resp.status_code == 200
        assert resp.json()["status"] in ("queued", "running", "succeeded")
        job = await wait_for_job(client, job_id)
        tasks = (await client.get(f"/jobs/{job_id}/tasks")).json()
        events = (await client.get(f"/jobs/{job_id}/events")).text
    assert job["status"] == "succeeded"
    decisions = [(d["decision"], d["rule"], d["reason"]) for d in tasks[1]["policy_decisions"]]
    assert decisions[1] == ("approved", "human", "looks fine")
    assert "event: task.awaiting_approval" in events


async def test_a_rejected_task_fails_with_the_comment_and_the_job_fails(gated, demo_goal):
    async with await gated() as client:
        job_id, task = await _waiting(client, demo_goal)
        await client.post(f"/tasks/{task['id']}/reject", json={"comment": "not in prod"})
        job = await wait_for_job(client, job_id)
        tasks = (await client.get(f"/jobs/{job_id}/tasks")).json()
    assert [t["status"] for t in tasks] == ["succeeded", "failed", "skipped"]
    assert tasks[1]["error"] == "rejected by a reviewer: not in prod"
    assert job["error"] == "task 'write_artifact' failed: rejected by a reviewer: not in prod"


async def test_several_can_wait_at_once_and_each_answer_is_its_own(gated, demo_goal):
    async with await gated() as client:
        first, t1 = await _waiting(client, demo_goal)
        second, t2 = await _waiting(client, demo_goal)
        await client.post(f"/tasks/{t2['id']}/approve")
        assert (await wait_for_job(client, second))["status"] == "succeeded"
        still = [t["status"] for t in (await client.get(f"/jobs/{first}/tasks")).json()]
        assert still[1] == "awaiting_approval"
        await client.post(f"/tasks/{t1['id']}/reject")
        assert (await wait_for_job(client, first))["status"] == "failed"


async def test_an_unanswered_approval_times_out(gated, demo_goal):
    async with await gated(approval_timeout=0.3, reconcile_check_s=0.1) as client:
        job_id, _ = await _waiting(client, demo_goal)
        job = await wait_for_job(client, job_id)
        tasks = (await client.get(f"/jobs/{job_id}/tasks")).json()
    assert job["status"] == "failed"
    assert tasks[1]["error"] == "approval timed out after 0.3s"
    expired = tasks[1]["policy_decisions"][-1]
    assert (expired["decision"], expired["rule"]) == ("expired", "environments.prod.approval_timeout_s")


async def test_an_approval_survives_a_restart(runtime_factory, tmp_path, demo_goal):
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(timeout=3600))
    settings = {"policy_gate_enabled": True, "policy_mode": "prod", "policy_config_path": path}
    first = await runtime_factory(**settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(first)), base_url="http://localhost"
    ) as c:
        job_id, task = await _waiting(c, demo_goal)
    await first.stop()
    second = await runtime_factory(**settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(second)), base_url="http://localhost"
    ) as c:
        assert (await c.post(f"/tasks/{task['id']}/approve")).status_code == 200
        assert (await wait_for_job(c, job_id))["status"] == "succeeded"


async def test_answers_to_the_wrong_task_are_clear_errors(gated, demo_goal):
    async with await gated() as client:
        job_id, task = await _waiting(client, demo_goal)
        done = (await client.get(f"/jobs/{job_id}/tasks")).json()[0]
        conflict = await client.post(f"/tasks/{done['id']}/approve")
        assert conflict.status_code == 409
        assert (
            "is succeeded; only a task awaiting approval can be approved"
            in conflict.json()["error"]["message"]
        )
        missing = await client.post("/tasks/00000000-0000-0000-0000-000000000000/reject")
        assert missing.status_code == 404
        too_long = await client.post(f"/tasks/{task['id']}/approve", json={"comment": "x" * 2001})
        assert too_long.status_code == 422
        await client.post(f"/tasks/{task['id']}/approve")
        again = await client.post(f"/tasks/{task['id']}/approve")
        assert again.status_code == 409


async def test_a_rejection_without_a_comment_says_so_plainly(gated, demo_goal):
    async with await gated() as client:
        _, task = await _waiting(client, demo_goal)
        answered = await client.post(f"/tasks/{task['id']}/reject")
        assert answered.json()["error"] == "rejected by a reviewer"
        assert answered.json()["policy_decisions"][-1]["reason"] == "rejected"


async def test_a_dry_run_says_which_tasks_would_wait_for_approval(gated, demo_goal):
    async with await gated() as client:
        body = (await client.post("/policy/evaluate", json={"goal": demo_goal})).json()
    assert [t["decision"] for t in body["tasks"]] == ["allow", "needs_approval", "allow"]
    assert body["tasks"][1]["rule"] == "environments.prod.require_approval"
    assert body["allowed"] is True
