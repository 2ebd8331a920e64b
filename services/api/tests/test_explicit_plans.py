"""POST /jobs with a plan: checked like a planner's plan, run without the planner, data between tasks."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import yaml

from planwright.core.llm import LLMClient, MockProvider
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import SHIPPED_POLICY, wait_for_job

SAMPLE = "tests.plugins.sample_tools"


def t(key: str, tool: str, args: dict[str, Any], *deps: str, title: str | None = None) -> dict[str, Any]:
    return {"key": key, "title": title or key.title(), "tool": tool, "args": args, "depends_on": list(deps)}


PIPELINE = {
    "tasks": [
        t("write", "text_generate", {"prompt": "Write three lines about queues"}),
        t("sum", "text_summarize", {"text": {"$from": "write.output.text"}, "max_sentences": 1}, "write"),
        t(
            "save",
            "file_write_artifact",
            {"name": "summary.md", "content": {"$from": "sum.output.text"}},
            "sum",
        ),
    ]
}


async def api(runtime_factory, **overrides: Any) -> httpx.AsyncClient:
    runtime = await runtime_factory(**{"planwright_tools": SAMPLE, **overrides})
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
    )


async def tasks_of(client: httpx.AsyncClient, job_id: str) -> dict[str, dict[str, Any]]:
    return {t["key"]: t for t in (await client.get(f"/jobs/{job_id}/tasks")).json()}


async def test_a_plan_runs_without_the_planner_and_passes_data_between_tasks(runtime_factory):
    async with await api(runtime_factory, roles=("orchestrator", "worker")) as client:  # no planner at all
        resp = await client.post("/jobs", json={"plan": PIPELINE})
        assert resp.status_code == 201, resp.text
        created = resp.json()
        assert created["goal"] == "Run a plan of 3 tasks: Write, Sum, Save"
        job = await wait_for_job(client, created["id"])
        assert job["status"] == "succeeded", job["error"]
        assert job["plan"]["planner"] == "explicit"
        assert [p["key"] for p in job["plan"]["tasks"]] == ["write", "sum", "save"]
        done = await tasks_of(client, created["id"])
    # The stored args keep the references (what the user wrote); the tools got the values.
    assert done["sum"]["args"]["text"] == {"$from": "write.output.text"}
    assert done["sum"]["output"]["source"] == "args"
    expected = await LLMClient(MockProvider()).summarize(done["write"]["output"]["text"], max_sentences=1)
    assert done["sum"]["output"]["text"] == expected
    assert done["save"]["output"]["size"] == len(done["sum"]["output"]["text"].encode())


async def test_a_goal_given_with_the_plan_is_kept(client):
    resp = await client.post("/jobs", json={"goal": "Summarize queues", "plan": PIPELINE, "priority": 7})
    assert (resp.status_code, resp.json()["goal"], resp.json()["priority"]) == (201, "Summarize queues", 7)


async def test_tools_get_the_jobs_context_and_attempt(runtime_factory):
    plan = {"tasks": [t("ctx", "sample.context", {})]}
    async with await api(runtime_factory) as client:
        resp = await client.post("/jobs", json={"plan": plan, "context_json": {"team": "blue", "n": [1]}})
        job = await wait_for_job(client, resp.json()["id"])
        assert job["status"] == "succeeded", job["error"]
        output = (await tasks_of(client, job["id"]))["ctx"]["output"]
    assert output == {"result": {"context": {"team": "blue", "n": [1]}, "attempt": 1}}


async def test_a_reference_missing_at_run_time_fails_the_task_saying_what_is_there(runtime_factory):
    # sample.lookup's output is open-ended, so this reference can only be checked once it ran.
    plan = {
        "tasks": [
            t("look", "sample.lookup", {"key": "k"}),
            t("use", "text_summarize", {"text": {"$from": "look.output.result.found.size"}}, "look"),
            t("after", "text_generate", {"prompt": "Never runs"}, "use"),
        ]
    }
    async with await api(runtime_factory) as client:
        resp = await client.post("/jobs", json={"plan": plan})
        assert resp.status_code == 201, resp.text
        job = await wait_for_job(client, resp.json()["id"])
        done = await tasks_of(client, job["id"])
    error = (
        "its arguments cannot be resolved: "
        "args.text: look.output.result.found has no 'size' (its fields: colour)"
    )
    assert done["use"]["status"] == "failed"
    assert done["use"]["error"] == error
    assert done["after"]["status"] == "skipped"
    assert job["status"] == "failed"
    assert error in job["error"]


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        ({"tasks": []}, "plan has no tasks"),
        (
            {"tasks": [t("a", "shell", {"cmd": "ls"})]},
            "task 'a' uses unknown tool 'shell'; known tools: ",
        ),
        (
            {"tasks": [t("a", "http_fetch", {"url": "ftp://x"})]},
            "task 'a': args.url: only http and https URLs",
        ),
        (
            {
                "tasks": [
                    t("a", "text_generate", {"prompt": "x"}, "b"),
                    t("b", "text_generate", {"prompt": "y"}, "a"),
                ]
            },
            "tasks depend on each other in a cycle: a -> b -> a",
        ),
        (
            {
                "tasks": [
                    t("a", "text_generate", {"prompt": "x"}),
                    t("b", "text_summarize", {"text": {"$from": "a.output.text"}}),
                ]
            },
            "task 'b': args.text: $from 'a.output.text' refers to task 'a', which is not in its depends_on",
        ),
        (
            {
                "tasks": [
                    t("a", "text_generate", {"prompt": "x"}),
                    t("b", "text_summarize", {"text": {"$from": "a.output.txt"}}, "a"),
                ]
            },
            "task 'b': args.text: $from 'a.output.txt': output has no field 'txt' (its fields: text)",
        ),
        (
            {"tasks": [t(f"t{i}", "text_generate", {"prompt": "x"}) for i in range(21)]},
            "plan has 21 tasks; the limit is 20 (PLAN_MAX_TASKS)",
        ),
    ],
)
async def test_a_plan_that_must_not_run_is_a_422_naming_task_and_field(client, plan, message):
    resp = await client.post("/jobs", json={"plan": plan})
    assert resp.status_code == 422, resp.text
    error = resp.json()["error"]
    assert error["code"] == "plan_invalid"
    assert any(reason.startswith(message) for reason in error["details"]["reasons"]), error
    assert (await client.get("/jobs")).json()["items"] == []  # nothing was stored


async def test_the_shape_of_a_plan_is_checked_by_field(client):
    resp = await client.post(
        "/jobs", json={"plan": {"tasks": [{"key": "Bad Key", "title": "x", "tool": "t"}]}}
    )
    assert resp.status_code == 422
    (detail,) = resp.json()["error"]["details"]
    assert detail["field"] == "plan.tasks.0.key"
    resp = await client.post("/jobs", json={"goal": "x", "max_tasks": 50})
    assert "max_tasks applies to a submitted plan" in resp.json()["error"]["message"]


def wide(n: int) -> dict[str, Any]:
    """1 -> n -> 1: a start, n tasks in parallel, and a join that receives all their outputs."""
    middle = [t(f"part_{i:03d}", "sample.pause", {"label": f"part {i}"}, "start") for i in range(n)]
    join = t("join", "sample.collect", {}, *[m["key"] for m in middle])
    return {"tasks": [t("start", "sample.pause", {"label": "start"}), *middle, join]}


async def test_max_tasks_raises_the_limit_only_as_far_as_the_policy_allows(runtime_factory, tmp_path):
    policy = yaml.safe_load(SHIPPED_POLICY.read_text())
    del policy["environments"]["dev"]["job"]
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    async with await api(runtime_factory, policy_config_path=tmp_path / "policy.yaml") as client:
        resp = await client.post("/jobs", json={"plan": wide(30), "max_tasks": 32})
    assert resp.status_code == 422
    assert resp.json()["error"]["message"] == (
        "max_tasks 32 is over PLAN_MAX_TASKS (20); a job may raise it only up to the policy's "
        "environments.dev.job.max_tasks, which is not set"
    )

    policy["environments"]["dev"]["job"] = {"max_tasks": 40}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    async with await api(runtime_factory, policy_config_path=tmp_path / "policy.yaml") as client:
        over = await client.post("/jobs", json={"plan": wide(30), "max_tasks": 50})
        assert over.json()["error"]["message"] == (
            "max_tasks 50 is over the policy's limit of 40 (environments.dev.job.max_tasks)"
        )
        resp = await client.post("/jobs", json={"plan": wide(30), "max_tasks": 32})
        assert resp.status_code == 201, resp.text
        job = await wait_for_job(client, resp.json()["id"], timeout_s=30)
        assert job["status"] == "succeeded", job["error"]
        join = (await tasks_of(client, job["id"]))["join"]
    # The join got every part's output, in the order of its depends_on.
    assert join["output"] == {"result": [f"part {i}" for i in range(30)]}


async def test_the_policy_checks_a_plan_before_it_is_accepted(runtime_factory):
    plan = {"tasks": [t("fetch", "http_fetch", {"url": "https://example.com"})]}
    async with await api(runtime_factory, policy_gate_enabled=True, policy_mode="prod") as client:
        resp = await client.post("/jobs", json={"plan": plan})
    assert resp.status_code == 422
    assert resp.json()["error"]["details"]["reasons"] == [
        "blocked by policy: task 'fetch': tool 'http_fetch' is denied in prod: "
        "outbound HTTP requests are not allowed in prod"
    ]


async def test_a_plan_job_lost_on_the_bus_resumes_from_the_database(runtime_factory):
    # First life: no Orchestrator loop, so the plan's messages die with the in-process bus.
    first = await runtime_factory(roles=("planner",), planwright_tools=SAMPLE)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(first)), base_url="http://localhost"
    ) as client:
        resp = await client.post("/jobs", json={"plan": PIPELINE})
        assert resp.status_code == 201
    await first.stop()
    async with await api(runtime_factory) as client:
        job = await wait_for_job(client, resp.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["plan"]["planner"] == "explicit"


async def test_an_idempotent_plan_submission_returns_the_first_job(client):
    headers = {"Idempotency-Key": "plan-1"}
    first = await client.post("/jobs", json={"plan": PIPELINE}, headers=headers)
    again = await client.post("/jobs", json={"plan": PIPELINE}, headers=headers)
    other = await client.post("/jobs", json={"plan": {"tasks": PIPELINE["tasks"][:1]}}, headers=headers)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert again.json()["id"] == first.json()["id"]
