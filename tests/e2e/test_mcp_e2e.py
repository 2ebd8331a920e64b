"""`planwright up` with two MCP servers (tests/mcp_servers/notes.py over stdio) and the policy gate
on: a plan of one server's tools runs once approved (``mcp.notes.*``), the other's are denied
(``mcp.scratch.*``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.e2e.support import planwright_up
from tests.mcp_servers.support import stdio_entry, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

POLICY = {
    "version": 1,
    "environments": {
        "dev": {
            "allowed_tools": ["*"],
            "denied_tools": {"mcp.scratch.*": "scratch is for people"},
            "require_approval": ["mcp.notes.*"],
        }
    },
}


def task(key: str, tool: str, args: dict[str, Any], depends_on: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"key": key, "title": key, "tool": tool, "args": args, "depends_on": list(depends_on)}


def test_a_plan_of_mcp_tools_runs_with_approval_and_denial_by_pattern(tmp_path: Path) -> None:
    servers = {"notes": stdio_entry(), "scratch": stdio_entry()}
    (tmp_path / "mcp.yaml").write_text(yaml.safe_dump({"servers": servers}))
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    env = {
        "MCP_CONFIG_PATH": str(tmp_path / "mcp.yaml"),
        "POLICY_GATE_ENABLED": "true",
        "POLICY_CONFIG_PATH": str(tmp_path / "policy.yaml"),
        "PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui"),
    }
    with planwright_up(tmp_path, **env) as base, httpx.Client(base_url=base, timeout=30) as api:

        def servers_connected() -> bool:
            return all(s["status"] == "connected" for s in api.get("/tools").json()["servers"])

        wait_for("MCP servers 'notes' and 'scratch' to connect", servers_connected)
        plan = [
            task("sum", "mcp.notes.add", {"a": 2, "b": 3}),
            task("say", "mcp.notes.echo", {"text": "MCP says hello"}),
            task("save", "file_write_artifact", {"name": "said.md"}, ("say",)),
        ]
        created = api.post("/jobs", json={"plan": {"tasks": plan}})
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]

        def awaiting() -> list[dict[str, Any]] | None:
            tasks = api.get(f"/jobs/{job_id}/tasks").json()
            waiting = [t for t in tasks if t["status"] == "awaiting_approval"]
            return waiting if len(waiting) == 2 else None

        for waiting in wait_for("tasks 'sum' and 'say' to await approval", awaiting):
            approved = api.post(f"/tasks/{waiting['id']}/approve", json={"comment": "fine"})
            assert approved.status_code == 200, approved.text
        job = wait_for(
            "the job to end", lambda: (j := api.get(f"/jobs/{job_id}").json())["finished_at"] and j
        )
        tasks = {t["key"]: t for t in api.get(f"/jobs/{job_id}/tasks").json()}
        (artifact,) = api.get(f"/jobs/{job_id}/artifacts").json()
        saved = api.get(artifact["content_url"]).text
        denied = api.post(
            "/jobs", json={"plan": {"tasks": [task("other", "mcp.scratch.add", {"a": 1, "b": 2})]}}
        )
        evaluated = api.post(
            "/policy/evaluate", json={"plan": {"tasks": [*plan, task("x", "mcp.scratch.pid", {})]}}
        )

    assert job["status"] == "succeeded", (job, tasks)
    assert tasks["sum"]["output"] == {"total": 5}
    assert tasks["say"]["output"] == {
        "text": "MCP says hello",
        "content": [{"type": "text", "text": "MCP says hello"}],
    }
    assert saved.strip() == "MCP says hello"  # a built-in tool read the MCP tool's text
    approval = ("needs_approval", "environments.dev.require_approval.mcp.notes.*")
    for key in ("sum", "say"):
        decisions = [(d["decision"], d["rule"]) for d in tasks[key]["policy_decisions"]]
        assert decisions == [approval, ("approved", "human")]
    assert [d["rule"] for d in tasks["save"]["policy_decisions"]] == ["environments.dev.allowed_tools.*"]

    assert denied.status_code == 422
    assert denied.json()["error"]["details"]["reasons"] == [
        "blocked by policy: task 'other': tool 'mcp.scratch.add' is denied in dev: scratch is for people"
    ]
    rules = {t["tool"]: (t["decision"], t["rule"]) for t in evaluated.json()["tasks"]}
    assert rules == {
        "mcp.notes.add": approval,
        "mcp.notes.echo": approval,
        "file_write_artifact": ("allow", "environments.dev.allowed_tools.*"),
        "mcp.scratch.pid": ("block", "environments.dev.denied_tools.mcp.scratch.*"),
    }


def test_an_invalid_mcp_file_stops_the_platform_naming_the_file_and_the_field(tmp_path: Path) -> None:
    config = tmp_path / "mcp.yaml"
    config.write_text(
        "servers:\n  gh:\n    transport: http\n    url: https://x.test/mcp\n"
        "    headers: {A: '${PW_UNSET_TOKEN}'}\n"
    )
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "PW_UNSET_TOKEN")}
    result = subprocess.run(
        [sys.executable, "-m", "planwright", "up", "--port", "1", "--data-dir", str(tmp_path / "data")],
        env={**clean, "MCP_CONFIG_PATH": str(config)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert (
        f"planwright: MCP servers file {config} is invalid: servers.gh.headers.A: "
        "the environment variable PW_UNSET_TOKEN is not set"
    ) in result.stderr
