"""The whole embedded platform with the critic and the policy gate switched on."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import loopback_policy, wait_for_job

SHIPPED = Path(__file__).parents[3] / "config" / "policy.yaml"


async def _client(runtime):
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
    )


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


async def _page_server():
    async def serve(reader, writer):
        await reader.readuntil(b"\r\n\r\n")
        body = b"<p>Queues hold work. Workers take tasks from them. Results flow back.</p>"
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"


async def test_the_same_goal_runs_in_dev(runtime_factory, tmp_path):
    server, url = await _page_server()
    policy = loopback_policy(tmp_path / "policy.yaml", server.sockets[0].getsockname()[1])
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="dev", policy_config_path=policy)
    async with server, await _client(runtime) as client:
        job, tasks = await _run(client, f"Fetch {url} then summarize it.")
    assert job["status"] == "succeeded", job["error"]
    assert tasks[0]["policy_decisions"][0]["rule"] == "environments.dev.allowed_tools.*"


async def test_a_policy_edit_takes_effect_without_a_restart(runtime_factory, tmp_path):
    server, url = await _page_server()
    port = server.sockets[0].getsockname()[1]
    policy = loopback_policy(tmp_path / "policy.yaml", port)  # the shipped file, with the page's port
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", policy_config_path=policy)
    async with server, await _client(runtime) as client:
        before, _ = await _run(client, f"Fetch {url} then summarize it.")
        assert before["status"] == "failed"
        text = SHIPPED.read_text().replace(
            "allowed_tools: [text_generate, file_write_artifact, text_summarize, ask_human]\n"
            "    denied_tools:\n"
            "      http_fetch: outbound HTTP requests are not allowed in prod\n",
            "allowed_tools: [text_generate, file_write_artifact, text_summarize, ask_human, http_fetch]\n",
        )
        assert text != SHIPPED.read_text()
        (tmp_path / "edited.yaml").write_text(text)
        loopback_policy(policy, port, source=tmp_path / "edited.yaml")
        os.utime(policy, ns=(1, 10**18))
        after, tasks = await _run(client, f"Fetch {url} then summarize it.")
    assert after["status"] == "succeeded", after["error"]
    assert tasks[0]["policy_decisions"][0]["decision"] == "allow"


async def test_a_plan_over_the_policys_job_limit_is_blocked_before_it_runs(runtime_factory):
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod")
    async with await _client(runtime) as client:
        job, tasks = await _run(client, "; ".join(f"write note {i}" for i in range(11)))
    assert job["status"] == "failed"
    assert (
        job["error"] == "plan blocked by policy: the plan has 11 tasks; the policy allows at most 10 in prod"
    )
    assert {t["status"] for t in tasks} == {"skipped"}


LIMITS = """
environments:
  prod:
    allowed_tools: ["*"]
    job:
      max_reworks: {reworks}
      max_runtime_s: {runtime}
"""


async def test_a_job_past_the_policys_max_runtime_fails(runtime_factory, tmp_path, demo_goal):
    policy = tmp_path / "limits.yaml"
    policy.write_text(LIMITS.format(reworks=2, runtime=0.3))
    # No worker: the job stays running until the limit stops it.
    runtime = await runtime_factory(
        roles=("orchestrator", "planner"),
        policy_gate_enabled=True,
        policy_mode="prod",
        policy_config_path=policy,
        reconcile_check_s=0.1,
    )
    async with await _client(runtime) as client:
        job, tasks = await _run(client, demo_goal)
    assert job["status"] == "failed"
    assert job["error"] == "the job ran longer than the policy's 0.3s (environments.prod.job.max_runtime_s)"
    assert {t["status"] for t in tasks} == {"cancelled"}


async def test_the_policys_max_reworks_caps_the_critic(runtime_factory, tmp_path, demo_goal):
    policy = tmp_path / "limits.yaml"
    policy.write_text(LIMITS.format(reworks=0, runtime=600))
    runtime = await runtime_factory(
        policy_gate_enabled=True,
        policy_mode="prod",
        policy_config_path=policy,
        critic_enabled=True,
        critic_max_reworks=2,
        critic_demo_fault_rate=1.0,
    )
    async with await _client(runtime) as client:
        job, tasks = await _run(client, demo_goal)
    assert job["status"] == "failed"
    assert tasks[0]["error"].startswith("rejected by critic after 0 reworks: the checklist has 0 item(s)")
