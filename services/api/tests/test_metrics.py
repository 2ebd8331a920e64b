"""``GET /metrics``: the counters move by exactly what a known set of jobs did (one succeeded at once,
one succeeded after a rework, one blocked by the policy, one failed at planning), parsed with
prometheus_client's parser."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def delta(before, after, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_counters_move_by_what_the_jobs_did(runtime_factory, demo_goal):
    runtime = await runtime_factory(
        policy_gate_enabled=True,
        policy_mode="prod",
        critic_enabled=True,
        critic_demo_fault_rate=1.0,  # the demo's first checklist comes out incomplete: one rework
        metrics_refresh_s=0.05,
    )
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        before = samples((await client.get("/metrics")).text)
        goals = [
            "Write a short note about queues",  # one task, approved at once
            demo_goal,
            "Fetch https://example.com/ then summarize it.",
            "; ".join(f"write note {i}" for i in range(25)),  # over PLAN_MAX_TASKS: fails at planning
        ]
        jobs = [
            await wait_for_job(client, (await client.post("/jobs", json={"goal": g})).json()["id"])
            for g in goals
        ]
        resp = await client.get("/metrics")
        after = samples(resp.text)
    assert resp.headers["content-type"].startswith("text/plain")
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded", "failed", "failed"]
    d = lambda name, **labels: delta(before, after, name, **labels)  # noqa: E731
    assert d("planwright_jobs_finished_total", status="succeeded") == 2
    assert d("planwright_jobs_finished_total", status="failed") == 2
    assert d("planwright_job_duration_seconds_count", status="failed") == 2
    assert d("planwright_critic_verdicts_total", verdict="rework") == 1
    assert d("planwright_critic_verdicts_total", verdict="approve") == 3  # the note, and the demo's two
    assert d("planwright_policy_decisions_total", decision="block", tool="http_fetch") == 1
    assert d("planwright_policy_decisions_total", decision="allow", tool="text_generate") == 2
    assert d("planwright_tasks_finished_total", tool="text_generate", status="succeeded") == 2
    assert d("planwright_tasks_finished_total", tool="http_fetch", status="blocked") == 1
    assert d("planwright_tasks_finished_total", tool="text_summarize", status="skipped") == 1
    assert d("planwright_task_duration_seconds_count", tool="file_write_artifact", status="succeeded") == 1
    assert d("planwright_task_queue_wait_seconds_count", lane="normal") == 5  # 4 tasks + the rework
    assert d("planwright_http_requests_total", route="/jobs", method="POST", status="201") == 4
    assert d("planwright_http_requests_total", route="/jobs/{job_id}", method="GET", status="200") >= 4
    # The mock model's calls are counted too (tokens estimated), with bounded labels.
    assert d("planwright_llm_calls_total", provider="mock", model="mock", purpose="generate") == 3
    assert d("planwright_llm_calls_total", provider="mock", model="mock", purpose="summarize") == 1
    assert d("planwright_llm_tokens_total", provider="mock", model="mock", direction="output") > 0
    # Gauges of the in-process bus, refreshed in the background; no job id appears as a label.
    assert ("planwright_stream_length_messages", (("stream", "pw:jobs"),)) in after
    assert after[("planwright_outbox_backlog_messages", ())] >= 0
    assert not any(jobs[0]["id"] in value for _, labels in after for _, value in labels)
