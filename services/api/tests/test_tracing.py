"""One trace per job (embedded mode, spans to an in-memory exporter): ``POST /jobs`` is the root, and
planning, policy decisions, dispatches, tool calls, reviews and the job's end hang off it as
docs/observability.md draws. Log lines carry the job, task and trace they belong to."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from planwright.core import logs, tracing
from planwright.services.api.app import create_app
from planwright.services.api.tests.support import wait_for_job


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    tracing.configure("planwright-test", exporter=spans)
    yield spans
    tracing.shutdown()


def trace_of(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    tracing.shutdown()  # exports what the batch processor still holds
    return [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]


def attr(span: ReadableSpan, name: str) -> Any:
    return (span.attributes or {}).get(name)


def named(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted((s for s in spans if s.name == name), key=lambda s: attr(s, "planwright.attempt") or 0)


def parent(spans: list[ReadableSpan], span: ReadableSpan) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    (found,) = [s for s in spans if s.context.span_id == span.parent.span_id]
    return found


async def run_job(runtime: Any, goal: str) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        created = (await client.post("/jobs", json={"goal": goal})).json()
        return await wait_for_job(client, created["id"])


async def test_a_reworked_job_is_one_trace_rooted_at_post_jobs(runtime_factory, demo_goal, exporter):
    runtime = await runtime_factory(
        policy_gate_enabled=True,
        policy_mode="prod",
        critic_enabled=True,
        critic_demo_fault_rate=1.0,  # the first checklist is incomplete: the critic sends it back once
        jaeger_url="http://jaeger.example:16686/",
    )
    job = await run_job(runtime, demo_goal)
    assert job["status"] == "succeeded"
    assert len(job["trace_id"] or "") == 32
    assert job["trace_url"] == f"http://jaeger.example:16686/trace/{job['trace_id']}"
    spans = trace_of(exporter, job["trace_id"])

    (root,) = [s for s in spans if s.parent is None]
    assert (root.name, root.kind) == ("POST /jobs", SpanKind.SERVER)
    assert attr(root, "http.response.status_code") == 201
    ids = {s.context.span_id for s in spans}
    assert all(s.parent is None or s.parent.span_id in ids for s in spans), "a span's parent is missing"

    (plan,) = named(spans, "plan")
    assert parent(spans, plan) is root
    assert attr(plan, "planwright.tasks") == 3
    decisions = [s for s in spans if s.name.startswith("policy.decide ")]
    assert {s.name for s in decisions} == {
        "policy.decide text_generate",
        "policy.decide file_write_artifact",
        "policy.decide text_summarize",
    }
    assert all(parent(spans, s) is root and attr(s, "planwright.decision") == "allowed" for s in decisions)

    # create_checklist: dispatched, run and reviewed twice (rework, then approve).
    dispatches = named(spans, "dispatch create_checklist")
    tools = named(spans, "tool text_generate")
    reviews = named(spans, "review create_checklist")
    assert [attr(s, "planwright.attempt") for s in dispatches] == [1, 2]
    assert attr(dispatches[1], "planwright.rework") is True
    for dispatch, tool, review in zip(dispatches, tools, reviews, strict=True):
        assert parent(spans, dispatch) is root
        assert parent(spans, tool) is dispatch
        assert attr(tool, "planwright.outcome") == "succeeded"
        assert attr(tool, "planwright.attempt") == attr(dispatch, "planwright.attempt")
        assert parent(spans, review) is tool
    assert [attr(s, "planwright.verdict") for s in reviews] == ["rework", "approve"]

    for key, tool_name in (
        ("write_artifact", "file_write_artifact"),
        ("summarize_artifact", "text_summarize"),
    ):
        (dispatch,) = named(spans, f"dispatch {key}")
        (run,) = named(spans, f"tool {tool_name}")
        assert parent(spans, run) is dispatch
        assert parent(spans, dispatch) is root

    (end,) = named(spans, "job.succeeded")
    assert parent(spans, end) is root
    # Nothing of this job leaked into another trace.
    elsewhere = [
        s
        for s in exporter.get_finished_spans()
        if attr(s, "planwright.job_id") == job["id"] and s not in spans
    ]
    assert elsewhere == []


async def test_a_blocked_plan_and_a_failed_tool_are_errors_in_the_trace(runtime_factory, exporter):
    runtime = await runtime_factory(policy_gate_enabled=True, policy_mode="prod")
    blocked = await run_job(runtime, "Fetch https://example.com/ then summarize it.")
    assert blocked["status"] == "failed"
    spans = trace_of(exporter, blocked["trace_id"])
    (check,) = named(spans, "policy.check_plan")
    assert attr(check, "planwright.decision") == "block"
    assert attr(check, "planwright.blocked_tasks") == "fetch_example_com"
    assert check.status.status_code is StatusCode.ERROR
    assert "'http_fetch' is denied in prod" in (check.status.description or "")
    (end,) = named(spans, "job.failed")
    assert end.status.status_code is StatusCode.ERROR
    assert named(spans, "tool http_fetch") == []  # nothing ran


async def test_tool_failures_mark_their_span(runtime_factory, exporter, tmp_path):
    runtime = await runtime_factory(task_max_retries=0)
    job = await run_job(runtime, "Fetch http://127.0.0.1:9/ then summarize it.")  # nothing listens
    assert job["status"] == "failed"
    spans = trace_of(exporter, job["trace_id"])
    (fetch,) = named(spans, "tool http_fetch")
    assert attr(fetch, "planwright.outcome") in ("failed", "retryable")
    assert fetch.status.status_code is StatusCode.ERROR


async def test_untraced_jobs_have_no_trace_id(client, demo_goal):
    job = (await client.post("/jobs", json={"goal": demo_goal})).json()
    assert (job["trace_id"], job["trace_url"]) == (None, None)


async def test_a_callers_traceparent_makes_the_job_part_of_its_trace(runtime_factory, demo_goal, exporter):
    runtime = await runtime_factory()
    caller = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        job = (await client.post("/jobs", json={"goal": demo_goal}, headers={"traceparent": caller})).json()
    assert job["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    spans = trace_of(exporter, job["trace_id"])
    (post,) = named(spans, "POST /jobs")
    assert post.parent is not None
    assert format(post.parent.span_id, "016x") == "b7ad6b7169203331"


async def test_log_lines_name_their_job_task_and_trace(runtime_factory, demo_goal, exporter):
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(logs.ContextFilter())
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        job = await run_job(await runtime_factory(), demo_goal)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    mine = [line for line in lines if line.get("job_id") == job["id"]]
    assert any(line["logger"].endswith("planner.service") for line in mine)
    ran = [line for line in mine if line["logger"].endswith("worker.service")]
    assert len(ran) == 3
    assert all(line["task_id"] and "succeeded" in line["message"] for line in ran)
    assert all(line["trace_id"] == job["trace_id"] for line in mine)


def test_text_logs_tag_the_line_and_keep_tracebacks_below():
    record = logging.LogRecord("planwright.x", logging.ERROR, __file__, 1, "boom %s", ("now",), None)
    with logs.bound(job_id="j1", task_id="t1"):
        logs.ContextFilter().filter(record)
    assert logs.TextFormatter().format(record).endswith("boom now [job=j1 task=t1]")
    plain = logging.LogRecord("planwright.x", logging.INFO, __file__, 1, "hello", (), None)
    logs.ContextFilter().filter(plain)
    assert logs.TextFormatter().format(plain).endswith("planwright.x: hello")
    assert "job_id" not in json.loads(logs.JsonFormatter().format(plain))


async def test_fastapi_makes_no_spans_of_its_own_when_a_global_tracer_provider_is_set(
    runtime_factory, monkeypatch
):
    # Any library may set OpenTelemetry's global provider; FastAPI's own instrumentation would then
    # make a second HTTP span per request beside RequestTelemetry's. It is turned off.
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    runtime = await runtime_factory(roles=("orchestrator",))
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        assert (await client.get("/jobs")).status_code == 200
    provider.shutdown()
    assert spans.get_finished_spans() == ()
