"""Distributed mode: the planner and worker processes stream from an OpenAI-compatible server (the fake
model) through Redis to the Orchestrator, which stores a few coalesced deltas, not a row per token."""

from __future__ import annotations

import json
import time

from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.tests.test_llm_planner import task
from planwright.follow import sse_events

PLAN = {"tasks": [task("draft", args={"prompt": "Write release notes"})]}
WORDS = [f"word{n} " for n in range(300)]


def test_streamed_plan_and_text_are_coalesced_into_a_bounded_number_of_events(make_stack):
    replies = [
        Reply(json.dumps(PLAN), delay_s=0.01),
        Reply.stream(WORDS, delay_s=0.007, input_tokens=500, output_tokens=600),  # about 2 s
    ]
    with FakeModelServer(replies) as fake:
        stack = make_stack(
            planner_mode="llm",
            llm_provider="openai_compatible",
            llm_base_url=fake.openai_url,
            llm_model="llama3.1",
            llm_max_retries=0,
        )
        stack.start_all(workers=1)
        started = time.monotonic()
        job_id = stack.submit("Write release notes")
        job = stack.wait_all([job_id])[job_id]
        took = time.monotonic() - started
        events = stack.http.get(f"{stack.api}/jobs/{job_id}/events").text
        (draft,) = stack.tasks(job_id)
    assert job["status"] == "succeeded", job["error"]
    replay = [(e, d["data"]) for i, e, d in sse_events(iter(events.split("\n"))) if i is not None]
    deltas = [d["delta"] for e, d in replay if e == "task.progress" and "delta" in d]
    assert "".join(deltas) == draft["output"]["text"] == "".join(WORDS)
    assert 2 <= len(deltas) <= took * 10 + 3  # not one row per token (300)
    plan_text = "".join(d["delta"] for e, d in replay if e == "plan.progress")
    assert json.loads(plan_text) == PLAN
    stored = stack.sql(
        "select count(*) from events where job_id = :job and type = 'task.progress' and data ? 'delta'",
        job=job_id,
    )
    assert stored[0][0] == len(deltas)
