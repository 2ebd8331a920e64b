"""Distributed mode: a submitted plan fans out 1 -> 200 -> 1 over two workers, and a plugin's tools
run in every process that needs them (API, worker) from PLANWRIGHT_TOOLS."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

WIDTH = 200


def fan_out_plan(width: int) -> dict[str, Any]:
    def task(key: str, tool: str, args: dict[str, Any], deps: list[str]) -> dict[str, Any]:
        return {"key": key, "title": key, "tool": tool, "args": args, "depends_on": deps}

    # Each part holds its worker a little, as real work does, so the parts spread over both workers.
    parts = [
        task(f"part_{i:03d}", "sample.pause", {"seconds": 0.02, "label": f"part {i}"}, ["start"])
        for i in range(width)
    ]
    join = task("join", "sample.collect", {}, [p["key"] for p in parts])
    return {"tasks": [task("start", "sample.pause", {"label": "start"}, []), *parts, join]}


def test_a_plan_of_1_200_1_runs_in_parallel_over_two_workers(make_stack):
    # The shipped policy lets a dev job raise its task limit to 500 (environments.dev.job.max_tasks).
    stack = make_stack(planwright_tools="tests.plugins.sample_tools")
    stack.start_all(workers=2, concurrency=8)

    body = {"plan": fan_out_plan(WIDTH), "max_tasks": WIDTH + 2}
    resp = httpx.post(f"{stack.api}/jobs", json=body, timeout=30)
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    job = stack.wait_all([job_id], timeout_s=180)[job_id]
    assert job["status"] == "succeeded", job["error"]
    assert job["tasks"]["total"] == WIDTH + 2

    tasks = {t["key"]: t for t in stack.tasks(job_id)}
    assert tasks["join"]["output"] == {"result": [f"part {i}" for i in range(WIDTH)]}
    rows = stack.sql(
        "select data->>'worker' from events where job_id = :job and type = 'task.running'", job=job_id
    )
    per_worker = Counter(worker for (worker,) in rows)
    assert len(per_worker) == 2, per_worker  # both worker processes ran parts of it
    assert sum(per_worker.values()) == WIDTH + 2
