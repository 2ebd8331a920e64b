"""Tool plugins in real processes: every role loads them at start, or refuses to start naming why."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.support import planwright_up
from tests.e2e.test_cli_refusals import run

pytestmark = pytest.mark.e2e


# (`planwright api` builds the same Runtime as `up`, after checking its keys in the database.)
@pytest.mark.parametrize("role", ["up", "worker", "planner", "policy", "critic"])
def test_a_plugin_that_cannot_be_imported_stops_every_role_naming_the_module(tmp_path, role):
    args = ["up", "--port", "1", "--data-dir", str(tmp_path / "data")] if role == "up" else [role]
    distributed = (
        {}
        if role == "up"
        else {
            "DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none",  # never reached: the tools come first
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "POLICY_GATE_ENABLED": "true",
        }
    )
    result = run(*args, PLANWRIGHT_TOOLS="tests.plugins.broken_tools", **distributed)
    assert result.returncode == 2, result.stderr
    assert (
        "PLANWRIGHT_TOOLS: cannot import module 'tests.plugins.broken_tools': ModuleNotFoundError"
        in result.stderr
    )


def test_a_clashing_tool_name_stops_the_start(tmp_path):
    result = run(
        "up",
        "--port",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        PLANWRIGHT_TOOLS="tests.plugins.clashing_tools",
    )
    assert result.returncode == 2
    assert (
        "tool 'text_generate' from plugin:tests.plugins.clashing_tools clashes with the tool of that name "
        "from builtin" in result.stderr
    )


def test_planwright_up_lists_and_runs_plugin_tools(tmp_path):
    with planwright_up(tmp_path, PLANWRIGHT_TOOLS="tests.plugins.sample_tools") as base:
        listed = httpx.get(f"{base}/tools").json()
        tools = listed["tools"] if isinstance(listed, dict) else listed
        sources = {t["name"]: t["source"] for t in tools}
        assert sources["sample.pause"] == "plugin:tests.plugins.sample_tools"
        assert sources["example.greet"] == "plugin:pw_example_tools.tools"  # the installed entry point
        plan = {
            "tasks": [
                {"key": "hi", "title": "Greet", "tool": "example.greet", "args": {"name": "Ada"}},
                {
                    "key": "count",
                    "title": "Count",
                    "tool": "example.word_count",
                    "args": {"text": {"$from": "hi.output.text"}},
                    "depends_on": ["hi"],
                },
            ]
        }
        job = httpx.post(f"{base}/jobs", json={"plan": plan, "context_json": {"language": "fr"}}).json()
        with httpx.stream("GET", f"{base}/jobs/{job['id']}/events", timeout=60) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: job.") and line != "event: job.created":
                    break
        tasks = {t["key"]: t for t in httpx.get(f"{base}/jobs/{job['id']}/tasks").json()}
    assert tasks["hi"]["output"] == {"text": "Bonjour, Ada!"}
    assert tasks["count"]["output"] == {"words": 2, "lines": 1, "top": ["ada", "bonjour"]}
