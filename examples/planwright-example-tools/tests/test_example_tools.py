"""The example plugin's own tests: its tools through a registry, as a worker runs them."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from pw_example_tools.tools import greet, word_count

from planwright.core.artifacts import ArtifactStore
from planwright.core.errors import ToolError
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.tool_registry import ToolCall, ToolRegistry


def make_call(
    tmp_path: Path, args: dict[str, object], context: dict[str, object], said: list[str]
) -> ToolCall:
    async def progress(message: str) -> None:
        said.append(message)

    return ToolCall(
        job_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=1,
        goal="example",
        args=dict(args),
        inputs={},
        artifacts=ArtifactStore(tmp_path),
        llm=LLMClient(MockProvider()),
        progress=progress,
        context=context,
    )


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.register(word_count)
    registry.register(greet)
    return registry


async def test_word_count_counts_and_reports_from_its_thread(tmp_path, registry):
    said: list[str] = []
    call = make_call(tmp_path, {"text": "a b a\nc a b", "top": 2}, {}, said)
    assert await registry.run(call, "example.word_count") == {"words": 6, "lines": 2, "top": ["a", "b"]}
    assert said == ["counted 6 words"]


async def test_greet_uses_the_jobs_context(tmp_path, registry):
    said: list[str] = []
    call = make_call(tmp_path, {"name": "Ada"}, {"language": "de"}, said)
    assert await registry.run(call, "example.greet") == {"text": "Hallo, Ada!"}
    assert said == ["greeting in de"]


async def test_greet_refuses_an_unknown_language(tmp_path, registry):
    call = make_call(tmp_path, {"name": "Ada"}, {"language": "xx"}, [])
    with pytest.raises(ToolError, match="no greeting for language 'xx'"):
        await registry.run(call, "example.greet")


def test_the_args_schema_comes_from_the_hints(registry):
    schema = registry.get("example.word_count").args_schema
    assert schema["required"] == ["text"]
    assert schema["properties"]["top"] == {
        "default": 5,
        "maximum": 50,
        "minimum": 0,
        "title": "Top",
        "type": "integer",
    }
    assert registry.validate_args("example.word_count", {"text": "x", "top": 99}) == [
        "args.top: input should be less than or equal to 50"
    ]
