"""Whole jobs with PLANNER_MODE=llm on the real openai SDK against the fake model: usage, budgets, judge."""

from __future__ import annotations

import json
import logging

import httpx
import pytest

from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.tests.test_llm_planner import task
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job

KEY = "sk-live-abcdef0123456789-must-stay-secret"
PLAN = {"tasks": [task("draft", args={"prompt": "Write release notes"})]}


@pytest.fixture
def llm_client(runtime_factory, tmp_path):
    async def make(fake: FakeModelServer, policy: str | None = None, **settings) -> httpx.AsyncClient:
        if policy is not None:
            path = tmp_path / "policy.yaml"
            path.write_text(policy)
            settings |= {"policy_gate_enabled": True, "policy_mode": "prod", "policy_config_path": path}
        runtime = await runtime_factory(
            planner_mode="llm",
            llm_provider="openai",
            openai_api_key=KEY,
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
            **settings,
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
        )

    return make


async def _run(client, goal="Write release notes"):
    job_id = (await client.post("/jobs", json={"goal": goal})).json()["id"]
    return await wait_for_job(client, job_id)


async def test_tokens_and_cost_are_totalled_per_task_and_per_job_and_the_key_never_shows(llm_client, caplog):
    caplog.set_level(logging.DEBUG)
    replies = [
        Reply.json(PLAN, input_tokens=2000, output_tokens=100),
        Reply("# Notes", input_tokens=500, output_tokens=400),
    ]
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake) as client:
            job = await _run(client)
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
            calls = (await client.get(f"/jobs/{job['id']}/llm-calls")).json()
            events = (await client.get(f"/jobs/{job['id']}/events")).text
            listed = (await client.get("/jobs")).text
    assert job["status"] == "succeeded", job["error"]
    assert tasks[0]["output"]["text"] == "# Notes"
    assert [(c["purpose"], c["model"], c["input_tokens"], c["output_tokens"]) for c in calls] == [
        ("plan", "gpt-4o-mini", 2000, 100),
        ("generate", "gpt-4o-mini", 500, 400),
    ]
    # gpt-4o-mini: $0.15 per million input tokens, $0.60 per million output tokens.
    assert job["usage"] == {
        "calls": 2,
        "input_tokens": 2500,
        "output_tokens": 500,
        "cost_usd": pytest.approx((2500 * 0.15 + 500 * 0.60) / 1e6),
        "unpriced_calls": 0,
        "mock_calls": 0,  # a real provider (behind the fake server)
    }
    assert job["result"]["tasks"][0]["mock"] is False
    assert tasks[0]["usage"]["calls"] == 1
    assert tasks[0]["usage"]["input_tokens"] == 500
    assert '"planner":"llm"' in events.replace(" ", "")
    for text in (caplog.text, events, listed, json.dumps(calls), json.dumps(tasks)):
        assert KEY not in text
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"  # it was used, only on the wire


BUDGET = """
environments:
  prod:
    allowed_tools: ["*"]
    job:
      max_tokens: 3000
"""


async def test_a_job_over_the_policys_token_budget_is_stopped_with_that_reason(llm_client):
    plan = {"tasks": [task("first"), task("second", depends_on=["first"])]}
    replies = [
        Reply.json(plan, input_tokens=1500, output_tokens=100),
        Reply("long", input_tokens=1200, output_tokens=500),
    ]
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake, policy=BUDGET) as client:
            job = await _run(client)
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
        planned = fake.requests[1].body
    assert job["status"] == "failed"
    assert job["error"] == (
        "the job used 3300 model tokens; the policy allows 3000 (environments.prod.job.max_tokens)"
    )
    assert [t["status"] for t in tasks] == ["succeeded", "cancelled"]
    assert len(fake.requests) == 2  # the second task never called the model
    # The worker was told what was left of the budget and capped the answer to it.
    assert planned["max_completion_tokens"] == 3000 - 1600


async def test_a_plan_the_model_cannot_get_right_fails_the_job_and_its_calls_are_counted(llm_client):
    with FakeModelServer([Reply("I would rather not.")] * 3) as fake:
        async with await llm_client(fake) as client:
            job = await _run(client)
    assert job["status"] == "failed"
    assert job["error"].startswith("planning failed: the model's plan was rejected after 3 attempt(s): ")
    assert job["usage"]["calls"] == 3


async def test_with_the_rule_fallback_the_job_still_runs(llm_client):
    with FakeModelServer([Reply("no")] * 3 + [Reply("text")]) as fake:
        async with await llm_client(fake, planner_fallback="rule") as client:
            job = await _run(client, "Write a short note")
            detail = (await client.get(f"/jobs/{job['id']}")).json()
            events = (await client.get(f"/jobs/{job['id']}/events")).text
    assert job["status"] == "succeeded", job["error"]
    assert detail["plan"]["planner"] == "rules-fallback"
    assert "the model's plan was rejected after 3 attempt(s)" in events


async def test_the_critic_asks_the_model_and_its_rework_reasons_go_back_to_the_writer(llm_client):
    plan = {"tasks": [task("draft", args={"prompt": "Write release notes"}, critic_required=True)]}
    replies = [
        Reply.json(plan),
        Reply("A first draft of the release notes for this week."),
        Reply.json({"verdict": "rework", "reasons": ["mention the breaking change"]}),
        Reply("A second draft that mentions the breaking change to the API."),
        Reply.json({"verdict": "approve", "reasons": []}),
    ]
    with FakeModelServer(replies) as fake:
        async with await llm_client(fake, critic_enabled=True, critic_llm=True) as client:
            job = await _run(client)
            (draft,) = (await client.get(f"/jobs/{job['id']}/tasks")).json()
    assert job["status"] == "succeeded", job["error"]
    assert [(v["verdict"], v["reasons"]) for v in draft["verdicts"]] == [
        ("rework", ["model review: mention the breaking change"]),
        ("approve", []),
    ]
    assert "mention the breaking change" in fake.requests[3].body["messages"][-1]["content"]
    assert [
        r.body["response_format"]["json_schema"]["name"] for r in fake.requests if "response_format" in r.body
    ] == [
        "plan",
        "verdict",
        "verdict",
    ]
    assert draft["usage"]["calls"] == 4  # two drafts, two reviews
