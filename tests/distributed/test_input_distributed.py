"""A person's input in distributed mode (real Postgres, Redis, one process per service): questions and
an approval with changed args survive an API restart that also lost Redis's data, the reconciler
never sends a question to a worker, and one question left unanswered times out."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
import redis

from tests.distributed.stack import Stack
from tests.processes import READY_S

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(360)]

POLICY = (
    "environments:\n  prod:\n"
    "    allowed_tools: [text_generate, file_write_artifact, text_summarize, ask_human]\n"
    "    require_approval: [file_write_artifact]\n    input_timeout_s: 30\n"
)


def ask_plan(question: str) -> dict[str, Any]:
    return {
        "tasks": [
            {
                "key": "ask",
                "title": "Ask",
                "tool": "ask_human",
                "args": {"question": question, "choices": ["Python", "Go"]},
            },
            {
                "key": "hello",
                "title": "Hello",
                "tool": "text_generate",
                "args": {"prompt": {"$from": "ask.output.text"}},
                "depends_on": ["ask"],
            },
        ]
    }


SAVE = {
    "tasks": [
        {
            "key": "save",
            "title": "Save",
            "tool": "file_write_artifact",
            "args": {"name": "a.md", "content": "a"},
        }
    ]
}


def wait_for(stack: Stack, job_ids: list[str], key: str, status: str) -> dict[str, dict[str, Any]]:
    """Each job's task ``key`` once it is in ``status`` (jobs still being planned have no tasks yet)."""
    deadline = time.monotonic() + READY_S
    found: dict[str, dict[str, Any]] = {}
    while len(found) < len(job_ids):
        assert time.monotonic() < deadline, f"waited {READY_S:g}s for {key} to be {status}: {found}"
        for job_id in job_ids:
            task = {t["key"]: t for t in stack.tasks(job_id)}.get(key, {})
            if task.get("status") == status:
                found[job_id] = task
        time.sleep(0.1)
    return found


def test_questions_and_an_edited_approval_survive_an_api_restart_that_lost_redis(make_stack, tmp_path):
    policy = tmp_path / "input.yaml"
    policy.write_text(POLICY)
    stack = make_stack(policy_gate_enabled="true", policy_mode="prod", policy_config_path=policy)
    stack.start_all(workers=1)
    answered = stack.submit("Ask then write", plan=ask_plan("Which language?"))
    ignored = stack.submit("Ask and wait", plan=ask_plan("Anyone there?"))
    approved = stack.submit("Save a file", plan=SAVE)
    asks = wait_for(stack, [answered, ignored], "ask", "awaiting_input")
    (save,) = wait_for(stack, [approved], "save", "awaiting_approval").values()

    # The API dies and Redis loses the stack's data: the new API finds a fresh bus and re-issues
    # every unfinished job's work from the database, which must leave the questions to a person.
    stack.signal("api", signal.SIGKILL)
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as client:
        keys = list(client.scan_iter(match=f"{stack.prefix}*"))
        assert keys
        client.delete(*keys)
    stack.start_api()
    assert wait_for(stack, [answered, ignored], "ask", "awaiting_input")

    wrong = stack.http.post(f"{stack.api}/tasks/{asks[answered]['id']}/input", json={"answer": "Rust"})
    assert wrong.status_code == 422, wrong.text
    ok = stack.http.post(f"{stack.api}/tasks/{asks[answered]['id']}/input", json={"answer": "Go"})
    assert ok.status_code == 200, ok.text
    edited = {"name": "b.md", "content": "b"}
    approve = stack.http.post(f"{stack.api}/tasks/{save['id']}/approve", json={"args": edited})
    assert approve.status_code == 200, approve.text

    jobs = stack.wait_all([answered, approved, ignored])
    assert jobs[answered]["status"] == "succeeded", jobs[answered]["error"]
    assert jobs[approved]["status"] == "succeeded", jobs[approved]["error"]
    assert jobs[ignored]["error"] == "task 'ask' failed: input timed out after 30s"
    hello = {t["key"]: t for t in stack.tasks(answered)}
    assert hello["ask"]["output"] == {"answer": "Go", "text": "Go"}
    assert hello["hello"]["status"] == "succeeded"
    started = stack.sql(
        "SELECT count(*) FROM events WHERE task_id IN (:a, :b) AND type IN ('task.queued', 'task.running')",
        a=asks[answered]["id"],
        b=asks[ignored]["id"],
    )
    assert started == [(0,)], "a question was sent to a worker"
    (artifact,) = stack.http.get(f"{stack.api}/jobs/{approved}/artifacts").json()
    assert artifact["name"] == "b.md"
    decision = stack.tasks(approved)[0]["policy_decisions"][-1]
    assert decision["args_edit"] == {"original": {"name": "a.md", "content": "a"}, "edited": edited}
