"""Distributed mode with an MCP server: the API lists its tools without holding a session, and the
worker process, which holds one, is the one that calls the server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.distributed.stack import Stack
from tests.mcp_servers.support import READY_S, alive, notes_children, parent_of, stdio_entry, wait_for

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(180)]


def test_the_worker_process_calls_the_mcp_server_and_the_api_only_lists_it(
    make_stack, tmp_path: Path
) -> None:
    config = tmp_path / "mcp.yaml"
    config.write_text(yaml.safe_dump({"servers": {"notes": stdio_entry()}}))
    stack: Stack = make_stack(mcp_config_path=str(config))
    worker = stack.start("worker1")
    stack.start_api()
    api = stack.procs["api"]

    def connected() -> bool:
        servers = httpx.get(f"{stack.api}/tools", timeout=10).json()["servers"]
        return [(s["name"], s["status"]) for s in servers] == [("notes", "connected")]

    wait_for("the API to list server 'notes'", connected)
    # The worker's own session (tasks for a server it has not reached yet would fail: unknown tool).
    wait_for("the worker to connect", lambda: "mcp: server 'notes' connected" in stack.log("worker1"))
    tools = {t["name"]: t for t in httpx.get(f"{stack.api}/tools", timeout=10).json()["tools"]}
    assert tools["mcp.notes.add"]["source"] == "mcp:notes"
    plan = {
        "tasks": [
            {"key": "sum", "title": "Sum", "tool": "mcp.notes.add", "args": {"a": 20, "b": 22}},
            {"key": "who", "title": "Who answers", "tool": "mcp.notes.pid", "args": {}},
        ]
    }
    resp = httpx.post(f"{stack.api}/jobs", json={"plan": plan}, timeout=10)
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["id"]
    job = stack.wait_all([job_id], timeout_s=READY_S)[job_id]
    tasks = {t["key"]: t for t in stack.tasks(job_id)}
    assert job["status"] == "succeeded", (job, tasks, stack.log("worker1"))
    assert tasks["sum"]["output"] == {"total": 42}
    server_pid = tasks["who"]["output"]["result"]
    assert parent_of(server_pid) == worker.pid  # the worker's own session answered
    wait_for("the API's listing session to end", lambda: notes_children(api.pid) == [])

    stack.stop_all()
    wait_for("the worker's MCP server to stop with it", lambda: not alive(server_pid))
