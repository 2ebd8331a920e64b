"""MCP tools in the catalog a runtime serves: GET /tools with each server's status, and the LLM planner."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

from planwright.core.llm import LLMClient
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.core.planning.llm import LLMPlanner
from planwright.core.tests.test_llm_providers import provider_for
from planwright.services.api.app import create_app
from planwright.services.runtime import Runtime
from tests.mcp_servers.support import eventually, free_port, stdio_entry

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def runtime(runtime_factory, tmp_path: Path) -> Runtime:
    config = tmp_path / "mcp.yaml"
    servers = {
        "notes": stdio_entry(),
        "offline": {"transport": "http", "url": f"http://127.0.0.1:{free_port()}/mcp"},
    }
    config.write_text(yaml.safe_dump({"servers": servers}))
    started: Runtime = await runtime_factory(mcp_config_path=config)
    want = [("notes", "connected"), ("offline", "down")]
    await eventually(
        lambda: [(s.name, s.status) for s in started.mcp.statuses()] == want,
        "server 'notes' to connect and 'offline' to fail",
    )
    return started


async def test_get_tools_lists_mcp_tools_with_their_source_and_each_servers_status(runtime):
    app = create_app(runtime)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost"
    ) as client:
        body = (await client.get("/tools")).json()
    tools = {t["name"]: t for t in body["tools"]}
    assert tools["text_generate"]["source"] == "builtin"
    add = tools["mcp.notes.add"]
    assert (add["source"], add["description"], add["side_effects"]) == (
        "mcp:notes",
        "Add two integers.",
        False,
    )
    assert add["args_schema"]["required"] == ["a", "b"]
    assert add["output_schema"]["properties"]["total"]["type"] == "integer"
    notes, offline = body["servers"]
    assert notes["name"] == "notes"
    assert (notes["transport"], notes["status"], notes["error"], notes["tools"]) == (
        "stdio",
        "connected",
        None,
        6,
    )
    assert notes["since"]
    assert offline["name"] == "offline"
    assert (offline["transport"], offline["status"], offline["tools"]) == ("http", "down", 0)
    assert offline["error"] == "ConnectError: All connection attempts failed"


async def test_the_llm_planner_offers_mcp_tools_with_their_schemas_and_validates_their_args(runtime):
    task = {"key": "sum", "title": "Sum", "description": "", "depends_on": [], "critic_required": False}
    wrong = {"tasks": [{**task, "tool": "mcp.notes.add", "args_json": json.dumps({"a": 2})}]}
    right = {"tasks": [{**task, "tool": "mcp.notes.add", "args_json": json.dumps({"a": 2, "b": 3})}]}
    with FakeModelServer([Reply.json(wrong), Reply.json(right)]) as fake:
        planner = LLMPlanner(LLMClient(provider_for("openai", fake)), runtime.registry)
        outcome = await planner.plan_job("Add 2 and 3", {})
    assert outcome.plan is not None
    assert [(t.tool, t.args) for t in outcome.plan.tasks] == [("mcp.notes.add", {"a": 2, "b": 3})]
    first, second = (r.body["messages"] for r in fake.requests)
    system = first[0]["content"]
    assert "- mcp.notes.add: Add two integers." in system
    assert '"required": ["a", "b"]' in system
    assert "mcp.notes.add" in json.dumps(fake.requests[0].body["response_format"])  # the tool enum
    assert "args: 'b' is a required property" in second[-1]["content"]  # the server's schema, enforced
