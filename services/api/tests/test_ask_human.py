"""A person's input mid-plan: ask_human waits in awaiting_input for POST /tasks/{id}/input, and an
approval may change a task's args (checked by the tool's schema and the policy, both versions kept)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job, wait_for_task

POLICY = """
version: 1
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize, http_fetch, ask_human]
    require_approval: [file_write_artifact, http_fetch]
    input_timeout_s: {timeout}
    tools:
      http_fetch:
        allowed_domains: [example.com]
"""


def t(key: str, tool: str, args: dict[str, Any], *deps: str) -> dict[str, Any]:
    return {"key": key, "title": key.title(), "tool": tool, "args": args, "depends_on": list(deps)}


LANGUAGE = {"question": "Which language?", "choices": ["Python", "Go"]}
ASK_THEN_WRITE = {
    "tasks": [
        t("ask", "ask_human", LANGUAGE),
        t("hello", "text_generate", {"prompt": "Write a hello world in the language chosen"}, "ask"),
        t(
            "save",
            "file_write_artifact",
            {"name": "lang.txt", "content": {"$from": "ask.output.text"}},
            "ask",
        ),
    ]
}


def client_of(runtime: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
    )


@pytest.fixture
def gated(runtime_factory, tmp_path):
    async def make(input_timeout: float = 3600, **settings: Any) -> httpx.AsyncClient:
        path = tmp_path / "policy.yaml"
        path.write_text(POLICY.format(timeout=input_timeout))
        runtime = await runtime_factory(
            policy_gate_enabled=True, policy_mode="prod", policy_config_path=path, **settings
        )
        return client_of(runtime)

    return make


async def submit(client: httpx.AsyncClient, plan: dict[str, Any]) -> str:
    resp = await client.post("/jobs", json={"plan": plan})
    assert resp.status_code == 201, resp.text
    job_id: str = resp.json()["id"]
    return job_id


async def tasks_of(client: httpx.AsyncClient, job_id: str) -> dict[str, dict[str, Any]]:
    return {task["key"]: task for task in (await client.get(f"/jobs/{job_id}/tasks")).json()}


def event_types(events: str, task_id: str) -> list[str]:
    """The types of a task's state changes, in order, from a finished job's event stream."""
    blocks = [b for b in events.split("\n\n") if f'"task_id":"{task_id}"' in b]
    return [
        line.removeprefix("event: ")
        for b in blocks
        for line in b.split("\n")
        if line.startswith("event: task.")
    ]


async def test_the_answer_is_the_output_and_the_dependents_run(client):
    job_id = await submit(client, ASK_THEN_WRITE)
    ask = await wait_for_task(client, job_id, "ask", "awaiting_input")
    assert {k: v["status"] for k, v in (await tasks_of(client, job_id)).items()} == {
        "ask": "awaiting_input",
        "hello": "pending",
        "save": "pending",
    }
    wrong = await client.post(f"/tasks/{ask['id']}/input", json={"answer": "Rust"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["code"] == "answer_invalid"
    assert wrong.json()["error"]["message"] == "answer: \"Rust\" is not one of the choices: 'Python', 'Go'"
    answered = await client.post(f"/tasks/{ask['id']}/input", json={"answer": "Go"})
    assert answered.status_code == 200, answered.text
    assert answered.json()["output"] == {"answer": "Go", "text": "Go"}
    job = await wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job["error"]
    done = await tasks_of(client, job_id)
    artifacts = (await client.get(f"/jobs/{job_id}/artifacts")).json()
    assert (await client.get(artifacts[0]["content_url"])).text == "Go"  # through $from
    decision = done["ask"]["policy_decisions"][-1]
    assert (decision["decision"], decision["rule"], decision["reason"]) == ("answered", "human", "Go")
    events = (await client.get(f"/jobs/{job_id}/events")).text
    assert '"question":"Which language?"' in events
    assert '"choices":["Python","Go"]' in events
    # No worker ever had it: from ready to awaiting_input to succeeded.
    assert event_types(events, ask["id"]) == ["task.ready", "task.awaiting_input", "task.succeeded"]
    assert "task.queued" in event_types(events, done["hello"]["id"])


async def test_an_answer_is_checked_against_the_schema(client):
    schema = {
        "type": "object",
        "properties": {"sentences": {"type": "integer", "minimum": 1, "maximum": 5}},
        "required": ["sentences"],
        "additionalProperties": False,
    }
    plan = {
        "tasks": [
            t("ask", "ask_human", {"question": "How many sentences?", "schema": schema}),
            t(
                "sum",
                "text_summarize",
                {
                    "text": "Queues hold work. Workers take it. Results come back.",
                    "max_sentences": {"$from": "ask.output.answer.sentences"},
                },
                "ask",
            ),
        ]
    }
    job_id = await submit(client, plan)
    ask = await wait_for_task(client, job_id, "ask", "awaiting_input")
    for answer, problem in (
        ({"sentences": 0}, "answer.sentences: 0 is less than the minimum of 1"),
        ({}, "answer: 'sentences' is a required property"),
        ("two", "answer: 'two' is not of type 'object'"),
    ):
        resp = await client.post(f"/tasks/{ask['id']}/input", json={"answer": answer})
        assert (resp.status_code, resp.json()["error"]["message"]) == (422, problem)
    assert (
        await client.post(f"/tasks/{ask['id']}/input", json={"answer": {"sentences": 2}})
    ).status_code == 200
    job = await wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job["error"]
    assert (await tasks_of(client, job_id))["ask"]["output"] == {
        "answer": {"sentences": 2},
        "text": '{"sentences": 2}',
    }


async def test_a_free_text_question_and_the_clear_errors(client):
    job_id = await submit(client, {"tasks": [t("ask", "ask_human", {"question": "Anything to add?"})]})
    ask = await wait_for_task(client, job_id, "ask", "awaiting_input")
    blank = await client.post(f"/tasks/{ask['id']}/input", json={"answer": ""})
    assert blank.status_code == 422
    assert (await client.post(f"/tasks/{ask['id']}/input", json={})).status_code == 422
    deep: Any = "x"
    for _ in range(20):
        deep = [deep]
    assert "deeper than 16" in (await client.post(f"/tasks/{ask['id']}/input", json={"answer": deep})).text
    missing = await client.post("/tasks/00000000-0000-0000-0000-000000000000/input", json={"answer": "x"})
    assert missing.status_code == 404
    assert (await client.post(f"/tasks/{ask['id']}/input", json={"answer": "No"})).status_code == 200
    again = await client.post(f"/tasks/{ask['id']}/input", json={"answer": "No"})
    assert again.status_code == 409
    assert again.json()["error"]["message"].endswith(
        "is succeeded; only a task awaiting input can be answered"
    )
    assert (await wait_for_job(client, job_id))["status"] == "succeeded"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ({"question": "Pick", "choices": ["only"]}, "args.choices"),
        ({"question": "Pick", "schema": {"type": "nonsense"}}, "not a valid JSON schema"),
        ({"question": "  "}, "the question is blank"),
        (
            {
                "question": "Pick",
                "schema": {
                    "items": {
                        "items": {
                            "items": {"items": {"items": {"items": {"items": {"items": {"items": {}}}}}}}
                        }
                    }
                },
            },
            "deeper than 8",
        ),
        # An answer is never matched against a regular expression (it could take unbounded time)...
        ({"question": "Code?", "schema": {"type": "string", "pattern": "^(a+)+$"}}, "pattern and"),
        (
            {"question": "Tags?", "schema": {"type": "object", "patternProperties": {"^x": {}}}},
            "pattern and",
        ),
        # ... nor a schema fetched from elsewhere.
        ({"question": "Pick", "schema": {"$ref": "http://127.0.0.1:9/s.json"}}, "points outside the schema"),
    ],
)
async def test_a_question_that_cannot_be_asked_is_refused_with_the_plan(client, args, problem):
    resp = await client.post("/jobs", json={"plan": {"tasks": [t("ask", "ask_human", args)]}})
    assert resp.status_code == 422
    assert problem in resp.text


async def test_a_property_named_pattern_is_a_property_and_a_dangling_reference_is_a_422(client):
    schema = {
        "type": "object",
        "properties": {"pattern": {"type": "string"}, "size": {"$ref": "#/$defs/missing"}},
    }
    job_id = await submit(
        client, {"tasks": [t("ask", "ask_human", {"question": "Which?", "schema": schema})]}
    )
    ask = await wait_for_task(client, job_id, "ask", "awaiting_input")
    resp = await client.post(f"/tasks/{ask['id']}/input", json={"answer": {"pattern": "x", "size": 1}})
    assert resp.status_code == 422
    assert "the question's schema cannot check it" in resp.text


async def test_a_question_survives_a_restart_and_is_not_sent_to_a_worker(runtime_factory):
    first = await runtime_factory()
    async with client_of(first) as c:
        job_id = await submit(c, ASK_THEN_WRITE)
        ask = await wait_for_task(c, job_id, "ask", "awaiting_input")
    await first.stop()
    second = await runtime_factory()  # a fresh bus: the reconciler re-issues unfinished work
    async with client_of(second) as c:
        assert (await tasks_of(c, job_id))["ask"]["status"] == "awaiting_input"
        assert (await c.post(f"/tasks/{ask['id']}/input", json={"answer": "Python"})).status_code == 200
        job = await wait_for_job(c, job_id)
        events = (await c.get(f"/jobs/{job_id}/events")).text
    assert job["status"] == "succeeded", job["error"]
    assert event_types(events, ask["id"]) == ["task.ready", "task.awaiting_input", "task.succeeded"]


async def test_an_unanswered_question_times_out(gated):
    async with await gated(input_timeout=0.3, reconcile_check_s=0.1) as client:
        job_id = await submit(client, ASK_THEN_WRITE)
        job = await wait_for_job(client, job_id)
        done = await tasks_of(client, job_id)
    assert job["status"] == "failed"
    assert done["ask"]["error"] == "input timed out after 0.3s"
    assert (done["hello"]["status"], done["save"]["status"]) == ("skipped", "skipped")
    expired = done["ask"]["policy_decisions"][-1]
    assert (expired["decision"], expired["rule"]) == ("expired", "environments.prod.input_timeout_s")


async def test_an_approval_with_edited_args_runs_them_and_keeps_both(gated):
    plan = {"tasks": [t("save", "file_write_artifact", {"name": "draft.md", "content": "first"})]}
    async with await gated() as client:
        job_id = await submit(client, plan)
        task = await wait_for_task(client, job_id, "save", "awaiting_approval")
        edited = {"name": "final.md", "content": "second"}
        bad = await client.post(f"/tasks/{task['id']}/approve", json={"args": {"name": "../x.md"}})
        assert bad.status_code == 422
        assert bad.json()["error"]["message"].startswith("args.name: ")
        resp = await client.post(f"/tasks/{task['id']}/approve", json={"comment": "better", "args": edited})
        assert resp.status_code == 200, resp.text
        assert resp.json()["args"] == edited
        job = await wait_for_job(client, job_id)
        assert job["status"] == "succeeded", job["error"]
        artifacts = (await client.get(f"/jobs/{job_id}/artifacts")).json()
        assert [a["name"] for a in artifacts] == ["final.md"]
        assert (await client.get(artifacts[0]["content_url"])).text == "second"
        done = await tasks_of(client, job_id)
        events = (await client.get(f"/jobs/{job_id}/events")).text
    approved = done["save"]["policy_decisions"][-1]
    assert (approved["decision"], approved["reason"]) == ("approved", "better")
    assert approved["args_edit"] == {"original": {"name": "draft.md", "content": "first"}, "edited": edited}
    assert done["save"]["args"] == edited
    assert '"args_edit":{"original"' in events


async def test_an_approval_whose_edited_args_break_the_policy_is_refused(gated):
    plan = {"tasks": [t("fetch", "http_fetch", {"url": "https://example.com/"})]}
    async with await gated() as client:
        job_id = await submit(client, plan)
        task = await wait_for_task(client, job_id, "fetch", "awaiting_approval")
        resp = await client.post(f"/tasks/{task['id']}/approve", json={"args": {"url": "https://evil.test/"}})
        assert resp.status_code == 422
        error = resp.json()["error"]
        assert error["code"] == "policy_refused"
        assert error["details"]["rule"] == "environments.prod.tools.http_fetch.allowed_domains"
        assert "environments.prod.tools.http_fetch.allowed_domains" in error["message"]
        assert "still awaits approval" in error["message"]
        scheme = await client.post(
            f"/tasks/{task['id']}/approve", json={"args": {"url": "ftp://example.com/"}}
        )
        assert scheme.status_code == 422
        assert "only http and https" in scheme.json()["error"]["message"]
        still = (await tasks_of(client, job_id))["fetch"]
        assert still["status"] == "awaiting_approval"
        assert still["args"] == {"url": "https://example.com/"}
        assert [d["decision"] for d in still["policy_decisions"]] == ["needs_approval"]
        assert (await client.post(f"/tasks/{task['id']}/reject")).status_code == 200


async def test_with_the_gate_on_the_question_is_allowed_then_asked(gated):
    async with await gated() as client:
        job_id = await submit(client, ASK_THEN_WRITE)
        ask = await wait_for_task(client, job_id, "ask", "awaiting_input")  # allowed: no approval
        assert [d["decision"] for d in ask["policy_decisions"]] == ["allow"]
        await client.post(f"/tasks/{ask['id']}/input", json={"answer": "Python"})
        save = await wait_for_task(client, job_id, "save", "awaiting_approval")
        await client.post(f"/tasks/{save['id']}/approve")
        assert (await wait_for_job(client, job_id))["status"] == "succeeded"
