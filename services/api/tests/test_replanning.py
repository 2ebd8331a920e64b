"""Replanning through the API with PLANNER_MODE=llm and the real openai SDK against the fake model:
a task fails for good, the planner makes the next plan version, the job goes on (or fails at the cap)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from planwright.core import names
from planwright.core.bus.base import Delivery
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.messages import PlanCreated
from planwright.core.plan import PlanSpec
from planwright.core.planning.llm import WirePlan
from planwright.core.tests.test_llm_planner import task
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job, wait_for_task

GOAL = "Write an outline, then the notes"
V1 = {"tasks": [task("outline"), task("notes", depends_on=["outline"])]}
# v2 keeps the outline exactly and routes around the failed task with a new one.
V2 = {
    "tasks": [
        task("outline"),
        task("short_notes", args={"prompt": "Write short notes"}, depends_on=["outline"]),
    ]
}
BAD_REQUEST = Reply.error(400, "this prompt is not allowed")  # not retryable: the task fails for good


@pytest.fixture
def llm_client(runtime_factory):
    async def make(fake: FakeModelServer, **settings) -> httpx.AsyncClient:
        runtime = await runtime_factory(
            planner_mode="llm",
            llm_provider="openai",
            openai_api_key="sk-test",
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
            **settings,
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
        )

    return make


async def _run(client: httpx.AsyncClient) -> dict[str, Any]:
    job_id = (await client.post("/jobs", json={"goal": GOAL})).json()["id"]
    return await wait_for_job(client, job_id, timeout_s=120)


def _replans(outcome: str) -> float:
    return REGISTRY.get_sample_value("planwright_replans_total", {"outcome": outcome}) or 0.0


async def test_a_failed_task_is_planned_around_and_the_job_succeeds(llm_client):
    counted = {outcome: _replans(outcome) for outcome in ("requested", "accepted", "refused")}
    replies = [Reply.json(V1), Reply("# Outline"), BAD_REQUEST, Reply.json(V2), Reply("Short notes")]
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake) as client:
            job = await _run(client)
            plans = (await client.get(f"/jobs/{job['id']}/plans")).json()
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
            calls = (await client.get(f"/jobs/{job['id']}/llm-calls")).json()
            events = [
                json.loads(line[len("data: ") :])
                for line in (await client.get(f"/jobs/{job['id']}/events")).text.splitlines()
                if line.startswith("data: ")
            ]
        replan_prompt = fake.requests[3].body["messages"][-1]["content"]
    assert job["status"] == "succeeded", job["error"]
    assert [t["key"] for t in job["plan"]["tasks"]] == ["outline", "short_notes"]
    assert job["plan"]["version"] == 2
    assert job["tasks"]["total"] == 2  # the live plan's: the replaced task is history

    assert [(p["version"], p["planner"]) for p in plans] == [(1, "llm"), (2, "llm")]
    assert plans[0]["reason"] is None
    assert plans[0]["diff"] is None
    assert plans[1]["reason"].startswith("task 'notes' failed: ")
    assert "HTTP 400" in plans[1]["reason"]
    assert plans[1]["diff"] == {"added": ["short_notes"], "removed": ["notes"], "changed": []}

    # The outline ran once and was kept (same row); the failed task is superseded, not deleted.
    by_key = {(t["key"], t["plan_version"]): t for t in tasks}
    assert by_key["outline", 1]["status"] == "succeeded"
    assert by_key["outline", 1]["attempt"] == 1
    assert by_key["notes", 1]["status"] == "superseded"
    assert by_key["short_notes", 2]["status"] == "succeeded"
    assert [c["purpose"] for c in calls] == ["plan", "generate", "replan", "generate"]  # a 400 has no usage
    assert len(fake.requests) == 5

    # The planner was told the goal, the plan, the outline's output and the failure.
    assert GOAL in replan_prompt
    assert "# Outline" in replan_prompt
    assert "task 'notes' (text_generate) failed" in replan_prompt

    replanned = [e for e in events if e["type"] == "plan.replanned"]
    assert len(replanned) == 1
    assert replanned[0]["data"]["version"] == 2
    assert replanned[0]["data"]["diff"] == {"added": ["short_notes"], "removed": ["notes"], "changed": []}
    types = [e["type"] for e in events]
    replanning = types.index("job.planning", types.index("task.failed"))
    assert replanning < types.index("plan.replanned")
    assert "task.superseded" in types
    # The replan streamed like the first plan: its pieces, in the log between the two, make up v2.
    pieces = events[replanning : types.index("plan.replanned")]
    streamed = "".join(e["data"]["delta"] for e in pieces if e["type"] == "plan.progress")
    assert json.loads(streamed) == V2
    assert types.count("job.planning") == 2  # the first plan and the replan: the stream adds none
    assert {o: _replans(o) - n for o, n in counted.items()} == {"requested": 1, "accepted": 1, "refused": 0}


async def test_when_the_rounds_are_used_up_the_job_fails_with_the_last_reason(llm_client):
    v2_fails = {"tasks": [task("outline"), task("retry_notes", depends_on=["outline"])]}
    replies = [Reply.json(V1), Reply("# Outline"), BAD_REQUEST, Reply.json(v2_fails), BAD_REQUEST]
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake, replan_max_rounds=1) as client:
            job = await _run(client)
            plans = (await client.get(f"/jobs/{job['id']}/plans")).json()
        assert len(fake.requests) == 5  # no second replan
    assert job["status"] == "failed"
    assert job["error"].startswith("task 'retry_notes' failed: ")
    assert job["error"].endswith("(replanned 1 time)")
    assert [p["version"] for p in plans] == [1, 2]


async def test_a_replan_that_changes_a_succeeded_task_is_refused_and_uses_a_round(llm_client):
    changed = {"tasks": [task("outline", args={"prompt": "Write another outline"}), task("notes2")]}
    # The planner itself re-asks the model up to PLANNER_MAX_ATTEMPTS (1 here) before answering.
    replies = [Reply.json(V1), Reply("# Outline"), BAD_REQUEST, Reply.json(changed)]
    refused = _replans("refused")
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake, planner_max_attempts=1) as client:
            job = await _run(client)
            plans = (await client.get(f"/jobs/{job['id']}/plans")).json()
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
        assert len(fake.requests) == 4
    assert job["status"] == "failed"
    assert job["error"].startswith("task 'notes' failed: ")
    assert "(replanned 1 time; the last new plan was refused: " in job["error"]
    assert "task 'outline' succeeded and must be kept exactly; the new plan changes its args" in job["error"]
    assert [p["version"] for p in plans] == [1]
    assert [(t["key"], t["status"]) for t in tasks] == [("outline", "succeeded"), ("notes", "failed")]
    assert _replans("refused") - refused == 1


async def test_with_replan_max_rounds_0_a_failed_task_fails_the_job_as_before(llm_client):
    with FakeModelServer([Reply.json(V1), Reply("# Outline"), BAD_REQUEST]) as fake:
        async with await llm_client(fake, replan_max_rounds=0) as client:
            job = await _run(client)
            events = (await client.get(f"/jobs/{job['id']}/events")).text
        assert len(fake.requests) == 3
    assert job["status"] == "failed"
    assert job["error"].startswith("task 'notes' failed: ")
    assert "replanned" not in job["error"]
    assert "plan.replanned" not in events


async def test_a_replan_in_progress_at_a_restart_is_asked_for_again(runtime_factory):
    llm = {"planner_mode": "llm", "llm_provider": "openai", "openai_api_key": "sk-test", "llm_max_retries": 0}
    wire = WirePlan.model_validate(V1)
    v1 = PlanSpec.model_validate(
        {
            "tasks": [
                {**t.model_dump(exclude={"args_json"}), "args": json.loads(t.args_json)} for t in wire.tasks
            ]
        }
    )
    replies = [Reply("# Outline"), BAD_REQUEST, Reply.json(V2), Reply("Short notes")]
    with FakeModelServer(replies) as fake:
        # First life has no planner: the job's plan is handed to the Orchestrator here, its task fails,
        # and the replan request is on the in-process bus when the process stops.
        first = await runtime_factory(
            roles=("orchestrator", "worker"), openai_base_url=fake.openai_url, **llm
        )
        job_id = await first.orchestrator.create_job(GOAL, {}, 1)
        created = PlanCreated(job_id=job_id, plan=v1, planner="llm")
        await first.orchestrator.handle([Delivery(names.ORCHESTRATOR, "1", created, 1)])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(first)), base_url="http://localhost"
        ) as client:
            await wait_for_task(client, str(job_id), "notes", "failed", timeout_s=120)
            await wait_for_job(client, str(job_id), statuses=("planning",), timeout_s=120)
        await first.stop()

        second = await runtime_factory(openai_base_url=fake.openai_url, **llm)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(second)), base_url="http://localhost"
        ) as client:
            job = await wait_for_job(client, str(job_id), timeout_s=120)
            plans = (await client.get(f"/jobs/{job_id}/plans")).json()
    assert job["status"] == "succeeded", job["error"]
    assert [p["version"] for p in plans] == [1, 2]
    assert len(fake.requests) == 4


async def test_a_job_waiting_for_its_replan_still_has_the_policys_max_runtime(runtime_factory, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nenvironments:\n  dev:\n    allowed_tools: ['*']\n    job: {max_runtime_s: 1}\n"
    )
    llm = {"planner_mode": "llm", "llm_provider": "openai", "openai_api_key": "sk-test", "llm_max_retries": 0}
    with FakeModelServer([BAD_REQUEST]) as fake:
        # No planner in this process: the replan request is never answered.
        runtime = await runtime_factory(
            roles=("orchestrator", "worker", "policy"),
            openai_base_url=fake.openai_url,
            policy_gate_enabled=True,
            policy_mode="dev",
            policy_config_path=policy,
            **llm,
        )
        job_id = await runtime.orchestrator.create_job(GOAL, {}, 1)
        plan = PlanSpec.model_validate(
            {"tasks": [{"key": "notes", "title": "notes", "tool": "text_generate"}]}
        )
        created = PlanCreated(job_id=job_id, plan=plan, planner="llm")
        await runtime.orchestrator.handle([Delivery(names.ORCHESTRATOR, "1", created, 1)])
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
        ) as client:
            await wait_for_job(client, str(job_id), statuses=("planning",), timeout_s=120)
            # RECONCILE_CHECK_S (2 s) after the 1 s runtime: the sweep fails it.
            job = await wait_for_job(client, str(job_id), timeout_s=120)
    assert job["status"] == "failed"
    assert job["error"] == "the job ran longer than the policy's 1s (environments.dev.job.max_runtime_s)"
