"""Observability of a real distributed stack: one trace per job across every process (exported over
OTLP/HTTP, as to Jaeger), and a real Prometheus scraping every process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.distributed.stack import free_port
from tests.distributed.test_distributed import DEMO
from tests.otlp import OtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(240)]


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    yield server
    server.close()


def test_a_job_is_one_trace_across_every_service(make_stack, receiver):
    stack = make_stack(
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        CRITIC_ENABLED="true",
        CRITIC_DEMO_FAULT_RATE="1.0",  # one rework: the critic sends the checklist back once
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",  # export within 0.1 s instead of 5 s
        JAEGER_URL="http://localhost:16686",
    )
    stack.start_all(workers=1)
    job_id = stack.submit(DEMO)
    job = stack.wait_all([job_id])[job_id]
    assert job["status"] == "succeeded"
    assert job["trace_url"] == f"http://localhost:16686/trace/{job['trace_id']}"
    spans = receiver.wait_for(job["trace_id"], "job.succeeded")
    stack.stop_all()  # each process flushes what it still holds on the way out
    spans = receiver.trace(job["trace_id"])

    by_id = {s.span_id: s for s in spans}
    assert len(by_id) == len(spans), "a span was exported twice"

    def parent(span: ReceivedSpan) -> ReceivedSpan:
        assert span.parent_id in by_id, f"{span.name} ({span.service}) has a parent outside the trace"
        return by_id[span.parent_id]

    def named(name: str) -> list[ReceivedSpan]:
        return sorted(
            (s for s in spans if s.name == name), key=lambda s: s.attributes.get("planwright.attempt", 0)
        )

    (root,) = [s for s in spans if s.parent_id is None]
    assert (root.name, root.service) == ("POST /jobs", "planwright-api")
    assert {s.service for s in spans} == {
        "planwright-api",
        "planwright-planner",
        "planwright-policy",
        "planwright-worker",
        "planwright-critic",
    }
    for span in spans:
        if span is not root:
            parent(span)  # every parent is in the trace

    (plan,) = named("plan")
    assert (plan.service, parent(plan)) == ("planwright-planner", root)
    decisions = [s for s in spans if s.name.startswith("policy.decide ")]
    assert len(decisions) == 3
    assert all(s.service == "planwright-policy" and parent(s) is root for s in decisions)

    dispatches, tools, reviews = (
        named("dispatch create_checklist"),
        named("tool text_generate"),
        named("review create_checklist"),
    )
    assert [s.attributes["planwright.attempt"] for s in dispatches] == [1, 2]
    for dispatch, tool, review in zip(dispatches, tools, reviews, strict=True):
        assert (dispatch.service, parent(dispatch)) == ("planwright-api", root)
        assert (tool.service, parent(tool)) == ("planwright-worker", dispatch)
        assert tool.attributes["planwright.tool"] == "text_generate"
        assert tool.attributes["planwright.attempt"] == dispatch.attributes["planwright.attempt"]
        assert tool.attributes["planwright.outcome"] == "succeeded"
        assert (review.service, parent(review)) == ("planwright-critic", tool)
    assert [r.attributes["planwright.verdict"] for r in reviews] == ["rework", "approve"]
    (end,) = named("job.succeeded")
    assert (end.service, parent(end)) == ("planwright-api", root)

    # The processes' JSON log lines name the job, its tasks and the same trace.
    lines = [json.loads(line) for line in stack.log("worker1").splitlines() if line.startswith("{")]
    ours = [line for line in lines if line.get("job_id") == job_id]
    assert ours, "no worker log line names the job"
    assert any(line.get("trace_id") == job["trace_id"] for line in ours), "none names the job's trace"


PROMETHEUS = shutil.which("prometheus")


@pytest.mark.skipif(
    PROMETHEUS is None and not os.environ.get("CI"),
    reason="Debian's prometheus package is not installed (.ci/run installs it)",
)
def test_a_real_prometheus_scrapes_every_process(make_stack, tmp_path: Path):
    assert PROMETHEUS is not None, "CI installs prometheus; this test must run there"
    stack = make_stack(METRICS_REFRESH_S="0.2")
    stack.start_all(workers=1)
    ok = stack.submit("Write a short note about queues")
    assert stack.wait_all([ok])[ok]["status"] == "succeeded"

    targets = {"api": stack.api.removeprefix("http://")} | {
        name: f"127.0.0.1:{port}" for name, port in stack.metrics_ports.items()
    }
    jobs = "\n".join(
        f"  - job_name: {name}\n    static_configs:\n      - targets: ['{target}']"
        for name, target in targets.items()
    )
    config = tmp_path / "prometheus.yml"
    config.write_text(f"global:\n  scrape_interval: 1s\nscrape_configs:\n{jobs}\n")
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:  # the child keeps its own descriptor
        prom = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query"
        deadline = time.monotonic() + 120
        while True:
            up = _query(query, "up")
            finished = _query(query, 'planwright_jobs_finished_total{status="succeeded"}')
            if len(up) == len(targets) and all(r["value"][1] == "1" for r in up) and finished:
                break
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()
            assert time.monotonic() < deadline, f"Prometheus did not scrape every process: up={up}"
            time.sleep(0.5)
        assert {r["metric"]["job"] for r in up} == set(targets)
        (sample,) = finished
        assert (sample["metric"]["job"], float(sample["value"][1])) == ("api", 1)
    finally:
        prom.terminate()
        prom.wait(timeout=30)


def _query(url: str, expr: str) -> list[dict[str, object]]:
    try:
        reply = httpx.get(url, params={"query": expr}, timeout=5).json()
    except (httpx.TransportError, ValueError):
        return []  # not listening yet
    result: list[dict[str, object]] = reply.get("data", {}).get("result", [])
    return result
