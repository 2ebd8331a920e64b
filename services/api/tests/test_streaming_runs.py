"""Token streaming end to end in embedded mode: LLM_PROVIDER=openai_compatible on the real openai SDK
against the fake model server. The plan and a task's text stream; the event log gets a few coalesced
deltas (not a row per token) that SSE subscribers see live and on replay."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import httpx

from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.tests.test_llm_planner import task
from planwright.follow import sse_events
from planwright.services.api.app import create_app
from planwright.services.api.routes.events import _open, _stream
from planwright.services.api.tests.support import wait_for_job

PLAN = {"tasks": [task("draft", args={"prompt": "Write release notes"})]}
WORDS = [f"word{n} " for n in range(300)]


def parse(text: str) -> list[tuple[str, dict[str, Any]]]:
    return [(e, d["data"]) for i, e, d in sse_events(iter(text.split("\n"))) if i is not None]


async def test_streamed_text_becomes_a_bounded_number_of_progress_events_that_add_up(runtime_factory):
    replies = [
        Reply(json.dumps(PLAN), delay_s=0.01, input_tokens=900, output_tokens=80),  # 8 characters a piece
        Reply.stream(WORDS, delay_s=0.007, input_tokens=500, output_tokens=600),  # about 2 s
    ]
    with FakeModelServer(replies) as fake:
        runtime = await runtime_factory(
            planner_mode="llm",
            llm_provider="openai_compatible",
            llm_base_url=fake.openai_url,
            llm_model="llama3.1",
            llm_max_retries=0,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        created = await runtime.orchestrator.create_job("Write release notes", {}, 1)
        job_id = str(created)
        live: list[tuple[str, dict[str, Any]]] = []
        async with asyncio.timeout(120):  # a generous ceiling for a loaded machine; the job takes ~3 s
            async for chunk in _stream(runtime, *await _opened(runtime, created)):
                live.extend(parse(chunk.decode()))
        took = loop.time() - started
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            job = await wait_for_job(client, job_id)
            (draft,) = (await client.get(f"/jobs/{job_id}/tasks")).json()
            replay = parse((await client.get(f"/jobs/{job_id}/events")).text)
    assert job["status"] == "succeeded", job["error"]
    assert live == replay  # live subscribers and a replay see the same events
    assert all(r.body["stream"] is True for r in fake.requests)

    deltas = [d["delta"] for e, d in replay if e == "task.progress" and "delta" in d]
    assert "".join(deltas) == draft["output"]["text"] == "".join(WORDS)
    assert 2 <= len(deltas) <= took * 10 + 3  # ~10 a second at the most, not one per token (300)
    types = [e for e, _ in replay]
    last_delta = max(i for i, (e, d) in enumerate(replay) if "delta" in d)
    assert last_delta < types.index("task.succeeded")  # the rest was flushed before the result
    assert (job["usage"]["input_tokens"], job["usage"]["output_tokens"]) == (1400, 680)  # exact usage

    plan_pieces = [d for e, d in replay if e == "plan.progress"]
    assert json.loads("".join(d["delta"] for d in plan_pieces)) == PLAN
    assert {d["attempt"] for d in plan_pieces} == {1}
    assert 1 <= len(plan_pieces) <= took * 10 + 3
    assert types.index("job.planning") < types.index("plan.progress") < types.index("plan.created")


async def _opened(runtime: Any, job_id: UUID) -> tuple[Any, ...]:
    sub, status, page = await _open(runtime, job_id, 0, None)
    return sub, job_id, 0, status, page


async def test_with_the_mock_nothing_streams(runtime_factory):
    runtime = await runtime_factory()
    job_id = str(await runtime.orchestrator.create_job("Write a haiku about Redis", {}, 1))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        job = await wait_for_job(client, job_id)
        events = parse((await client.get(f"/jobs/{job_id}/events")).text)
    assert job["status"] == "succeeded"
    assert not [e for e, d in events if "delta" in d or e == "plan.progress"]
