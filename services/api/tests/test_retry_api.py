"""``POST /tasks/{id}/retry``: a person runs a failed or blocked task again and its failed job reopens."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import loopback_policy, wait_for_job, wait_for_task
from planwright.services.api.tests.test_governed_runs import _page_server

SHIPPED = Path(__file__).parents[3] / "config" / "policy.yaml"
APPROVAL = """
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize]
    require_approval: [file_write_artifact]
"""


@pytest.fixture
def governed(runtime_factory, tmp_path):
    """A client on a runtime whose prod policy is the file the test can edit."""

    async def make(policy_text: str) -> tuple[httpx.AsyncClient, Path]:
        path = tmp_path / "policy.yaml"
        path.write_text(policy_text)
        runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod", policy_config_path=path)
        app = create_app(runtime)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost"), path

    return make


async def _tasks(client, job_id):
    return (await client.get(f"/jobs/{job_id}/tasks")).json()


async def test_a_blocked_task_retried_after_the_policy_changed_runs_and_the_job_succeeds(governed):
    client, path = await governed(SHIPPED.read_text())
    server, url = await _page_server()
    async with server, client:
        job_id = (await client.post("/jobs", json={"goal": f"Fetch {url} then summarize it."})).json()["id"]
        assert (await wait_for_job(client, job_id))["status"] == "failed"
        fetch = (await _tasks(client, job_id))[0]
        assert fetch["status"] == "blocked"

        # Retried under the same policy: the gate asks again and blocks it again, saying why.
        resp = await client.post(f"/tasks/{fetch['id']}/retry")
        assert resp.status_code == 200
        assert resp.json()["attempt"] == 2
        again = await wait_for_task(client, job_id, fetch["key"], "blocked")
        assert again["policy_decisions"][-1]["rule"] == "environments.prod.denied_tools.http_fetch"
        assert (await wait_for_job(client, job_id))["status"] == "failed"

        edited = path.parent / "edited.yaml"
        edited.write_text(
            SHIPPED.read_text().replace(
                "allowed_tools: [text_generate, file_write_artifact, text_summarize, ask_human]\n"
                "    denied_tools:\n"
                "      http_fetch: outbound HTTP requests are not allowed in prod\n",
                "allowed_tools: [text_generate, file_write_artifact, text_summarize, ask_human,"
                " http_fetch]\n",
            )
        )
        # ... and the page server on loopback opted in for the network guard.
        loopback_policy(path, server.sockets[0].getsockname()[1], source=edited)
        os.utime(path, ns=(1, 10**18))
        assert (await client.post(f"/tasks/{fetch['id']}/retry")).status_code == 200
        job = await wait_for_job(client, job_id)
        tasks = await _tasks(client, job_id)
        events = (await client.get(f"/jobs/{job_id}/events")).text
    assert (job["status"], job["error"]) == ("succeeded", None)
    assert [(t["status"], t["attempt"]) for t in tasks] == [("succeeded", 3), ("succeeded", 1)]
    assert [d["decision"] for d in tasks[0]["policy_decisions"]] == ["block", "block", "allow"]
    assert events.count("event: job.running") == 3  # planned, then reopened by each retry
    assert f'"retried":"{fetch["key"]}"' in events.replace(" ", "")


async def test_a_rejected_task_retried_waits_for_approval_again(governed, demo_goal):
    client, _ = await governed(APPROVAL)
    async with client:
        job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
        task = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval")
        await client.post(f"/tasks/{task['id']}/reject", json={"comment": "wrong file name"})
        assert (await wait_for_job(client, job_id))["status"] == "failed"
        assert [t["status"] for t in await _tasks(client, job_id)] == ["succeeded", "failed", "skipped"]

        retried = (await client.post(f"/tasks/{task['id']}/retry")).json()
        assert (retried["error"], retried["attempt"]) == (None, 2)
        await wait_for_task(client, job_id, "write_artifact", "awaiting_approval")
        assert (await client.get(f"/jobs/{job_id}")).json()["status"] == "running"
        await client.post(f"/tasks/{task['id']}/approve")
        job = await wait_for_job(client, job_id)
        tasks = await _tasks(client, job_id)
    assert job["status"] == "succeeded"
    assert [t["status"] for t in tasks] == ["succeeded"] * 3
    assert [d["decision"] for d in tasks[1]["policy_decisions"]] == [
        "needs_approval",
        "rejected",
        "needs_approval",
        "approved",
    ]


async def test_retrying_what_cannot_be_retried_is_a_clear_error(governed, demo_goal):
    client, _ = await governed(APPROVAL)
    async with client:
        job_id = (await client.post("/jobs", json={"goal": demo_goal})).json()["id"]
        waiting = await wait_for_task(client, job_id, "write_artifact", "awaiting_approval")
        done = (await _tasks(client, job_id))[0]
        conflict = await client.post(f"/tasks/{done['id']}/retry")
        assert conflict.status_code == 409
        assert conflict.json()["error"]["message"] == (
            f"task {done['id']} is succeeded; only a failed or blocked task can be retried"
        )
        assert (await client.post(f"/tasks/{waiting['id']}/retry")).status_code == 409
        missing = await client.post("/tasks/00000000-0000-0000-0000-000000000000/retry")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        assert (await client.post("/tasks/not-a-task/retry")).status_code == 422
        # Nothing changed on the way: the task still waits for its answer.
        assert (await _tasks(client, job_id))[1]["status"] == "awaiting_approval"
