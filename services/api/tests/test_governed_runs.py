"""The whole embedded platform with the critic and the policy gate switched on."""

from __future__ import annotations

import httpx

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


async def _client(runtime):
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://t")


async def _run(client, goal):
    job_id = (await client.post("/jobs", json={"goal": goal})).json()["id"]
    job = await wait_for_job(client, job_id)
    return job, (await client.get(f"/jobs/{job_id}/tasks")).json()


async def test_policy_gate_in_prod_blocks_http_fetch_with_the_reason(runtime_factory):
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod")
    async with await _client(runtime) as client:
        job, tasks = await _run(client, "Fetch https://example.com/ then summarize it.")
        events = (await client.get(f"/jobs/{job['id']}/events")).text
    reason = "tool 'http_fetch' is denied in prod: outbound HTTP requests are not allowed in prod"
    assert [(t["tool"], t["status"]) for t in tasks] == [
        ("http_fetch", "blocked"),
        ("text_summarize", "skipped"),
    ]
    assert tasks[0]["error"] == reason
    (decision,) = tasks[0]["policy_decisions"]
    assert (decision["decision"], decision["rule"]) == ("block", "environments.prod.denied_tools.http_fetch")
    assert job["status"] == "failed"
    assert job["error"] == f"plan blocked by policy: task '{tasks[0]['key']}': {reason}"
    # Flagged at plan time: nothing was released, let alone run.
    assert "event: task.ready" not in events
    assert "event: task.running" not in events
    assert "event: policy.decision" in events
    assert reason in events


async def test_policy_gate_allows_the_demo_in_prod_and_the_critic_approves_it(runtime_factory, demo_goal):
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", critic_enabled=True)
    async with await _client(runtime) as client:
        job, tasks = await _run(client, demo_goal)
        events = (await client.get(f"/jobs/{job['id']}/events")).text
    assert job["status"] == "succeeded", job["error"]
    assert [t["status"] for t in tasks] == ["succeeded"] * 3
    assert events.count("event: critic.verdict") == 2  # the two critic_required tasks
    assert events.count("event: policy.decision") == 3
    rules = [[(d["decision"], d["rule"]) for d in t["policy_decisions"]] for t in tasks]
    assert rules == [[("allow", "environments.prod.allowed_tools")]] * 3, rules
    assert events.count("event: task.reviewing") == 2
