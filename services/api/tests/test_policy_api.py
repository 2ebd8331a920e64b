"""GET /policy and POST /policy/evaluate: the policy in force, and dry runs against it."""

from __future__ import annotations

import httpx
import pytest

from planwright.services.api.app import create_app


@pytest.fixture
async def prod_client(runtime_factory):
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod")
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        yield client


async def test_get_policy_shows_the_mode_in_force(prod_client):
    body = (await prod_client.get("/policy")).json()
    assert (body["gate_enabled"], body["mode"]) == (True, "prod")
    assert body["environments"] == ["dev", "prod", "staging"]
    assert body["policy"]["denied_tools"] == {"http_fetch": "outbound HTTP requests are not allowed in prod"}
    assert body["policy"]["job"]["max_tasks"] == 10


async def test_get_policy_reads_the_file_while_the_gate_is_off(client):
    body = (await client.get("/policy")).json()
    assert (body["gate_enabled"], body["mode"]) == (False, "dev")
    assert body["policy"]["allowed_tools"] == ["*"]


async def test_evaluate_a_goal_says_what_would_be_blocked_and_why(prod_client):
    resp = await prod_client.post(
        "/policy/evaluate", json={"goal": "Fetch https://example.com/ then summarize it."}
    )
    body = resp.json()
    assert body["allowed"] is False
    assert [(t["tool"], t["decision"]) for t in body["tasks"]] == [
        ("http_fetch", "block"),
        ("text_summarize", "allow"),
    ]
    assert body["tasks"][0]["rule"] == "environments.prod.denied_tools.http_fetch"
    # The same goal in dev, through the mode override: allowed.
    dev = await prod_client.post(
        "/policy/evaluate", json={"goal": "Fetch https://example.com/ then summarize it.", "mode": "dev"}
    )
    assert dev.json()["allowed"] is True
    assert (await prod_client.get("/jobs")).json()["items"] == []  # a dry run stores nothing


async def test_evaluate_a_plan_reports_job_limits(prod_client):
    plan = {
        "tasks": [
            {"key": f"t{i}", "title": f"T{i}", "tool": "text_generate", "args": {"prompt": "x"}}
            for i in range(11)
        ]
    }
    body = (await prod_client.post("/policy/evaluate", json={"plan": plan})).json()
    assert body["allowed"] is False
    assert [p["rule"] for p in body["problems"]] == ["environments.prod.job.max_tasks"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"goal": "x", "plan": {"tasks": []}}, {"goal": ""}, {"plan": {"tasks": [{"key": "BAD KEY"}]}}],
)
async def test_evaluate_rejects_bad_input(prod_client, payload):
    resp = await prod_client.post("/policy/evaluate", json=payload)
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "validation_error"


async def test_evaluate_an_unplannable_goal_is_a_422_with_the_reason(prod_client):
    goal = "; ".join(f"write note {i}" for i in range(25))
    resp = await prod_client.post("/policy/evaluate", json={"goal": goal})
    assert resp.status_code == 422
    assert resp.json()["error"]["code"] == "plan_invalid"
    assert "the limit is 20" in resp.json()["error"]["message"]
