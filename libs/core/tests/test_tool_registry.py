import asyncio
import dataclasses
import uuid

import pytest
from pydantic import BaseModel, ConfigDict

from planwright.core.artifacts import ArtifactStore
from planwright.core.errors import ConfigError, RetryableToolError, ToolError, UnknownTool
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.tool_registry import ToolCall, ToolRegistry, ToolSpec
from planwright.core.tools_builtin import default_registry

BUILT_INS = ["ask_human", "file_write_artifact", "http_fetch", "text_generate", "text_summarize"]


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    word: str
    delay_s: float = 0.0


class EchoOutput(BaseModel):
    word: str
    task_id: uuid.UUID


async def echo(call, args):
    await asyncio.sleep(args.delay_s)
    return EchoOutput(word=args.word, task_id=call.task_id)


def echo_spec(name="echo", timeout_s=1.0, handler=echo):
    return ToolSpec(
        name=name,
        description="Echo a word.",
        args_model=EchoArgs,
        output_model=EchoOutput,
        handler=handler,
        side_effects=False,
        timeout_s=timeout_s,
    )


def make_call(tmp_path, args, *, context=None, attempt=1, said=None):
    """A call as a worker makes it; the progress it reports goes to ``said`` (a list) when given."""

    async def progress(message):
        if said is not None:
            said.append(message)

    return ToolCall(
        job_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        attempt=attempt,
        goal="test goal",
        args=args,
        inputs={},
        artifacts=ArtifactStore(tmp_path),
        llm=LLMClient(MockProvider()),
        progress=progress,
        context=context or {},
    )


def test_default_registry_holds_the_five_built_ins_sorted():
    registry = default_registry()
    assert registry.names() == BUILT_INS
    assert [spec.name for spec in registry.specs()] == BUILT_INS
    assert "http_fetch" in registry
    assert "shell" not in registry
    assert 42 not in registry


def test_default_registry_is_fresh_each_time():
    first = default_registry()
    first.register(echo_spec())
    assert "echo" not in default_registry()


def test_built_in_side_effects_and_timeouts():
    specs = {spec.name: spec for spec in default_registry().specs()}
    assert {name: (s.side_effects, s.timeout_s) for name, s in specs.items()} == {
        "ask_human": (False, 3600),
        "file_write_artifact": (True, 30),
        "http_fetch": (False, 20),
        "text_generate": (False, 180),
        "text_summarize": (False, 120),
    }


def test_unknown_tool_error_lists_the_known_tools():
    with pytest.raises(UnknownTool) as caught:
        default_registry().get("shell")
    assert caught.value.message == (
        "unknown tool 'shell'; known tools: ask_human, file_write_artifact, http_fetch, text_generate, "
        "text_summarize"
    )


def test_unknown_tool_in_an_empty_registry():
    with pytest.raises(UnknownTool, match="known tools: none"):
        ToolRegistry().get("x")


def test_duplicate_registration_is_refused():
    registry = ToolRegistry()
    registry.register(echo_spec())
    with pytest.raises(ConfigError, match="tool 'echo' from builtin clashes with the tool of that name"):
        registry.register(echo_spec())


def test_validate_args_accepts_valid_args():
    assert default_registry().validate_args("http_fetch", {"url": "https://example.com"}) == []


@pytest.mark.parametrize(
    ("tool", "args", "messages"),
    [
        ("http_fetch", {}, ["args.url: field required"]),
        ("text_generate", {"prompt": "x", "colour": "red"}, ["args.colour: extra inputs are not permitted"]),
        ("text_generate", {"prompt": ""}, ["args.prompt: string should have at least 1 character"]),
        (
            "text_summarize",
            {"max_sentences": 0},
            ["args.max_sentences: input should be greater than or equal to 1"],
        ),
        (
            "http_fetch",
            {"url": "ftp://example.com/file"},
            ["args.url: only http and https URLs can be fetched, got scheme ftp"],
        ),
    ],
)
def test_validate_args_explains_each_problem(tool, args, messages):
    assert default_registry().validate_args(tool, args) == messages


def test_validate_args_reports_every_problem_at_once():
    messages = default_registry().validate_args("text_generate", {"format": "pdf", "x": 1})
    assert len(messages) == 3
    assert messages[0] == "args.prompt: field required"
    assert messages[1].startswith("args.format: input should be 'markdown' or 'text'")
    assert messages[2] == "args.x: extra inputs are not permitted"


def test_validate_args_rejects_unsafe_artifact_names_at_plan_time():
    [message] = default_registry().validate_args("file_write_artifact", {"name": "../etc/passwd"})
    assert message.startswith("args.name: artifact name '../etc/passwd' points to a parent directory")


def test_validate_args_of_unknown_tool_raises():
    with pytest.raises(UnknownTool):
        default_registry().validate_args("shell", {})


def test_describe_includes_both_json_schemas():
    spec = default_registry().get("http_fetch")
    described = spec.describe()
    assert set(described) == {
        "name",
        "description",
        "args_schema",
        "output_schema",
        "side_effects",
        "timeout_s",
        "source",
    }
    assert described["source"] == "builtin"
    assert described["name"] == "http_fetch"
    assert described["args_schema"]["required"] == ["url"]
    assert described["args_schema"]["additionalProperties"] is False
    assert set(described["output_schema"]["properties"]) == {
        "url",
        "status_code",
        "content_type",
        "text",
        "bytes",
        "truncated",
    }
    assert described["args_schema"] == spec.args_schema


async def test_run_returns_the_output_as_json(tmp_path):
    registry = ToolRegistry()
    registry.register(echo_spec())
    call = make_call(tmp_path, {"word": "hi"})
    assert await registry.run(call, "echo") == {"word": "hi", "task_id": str(call.task_id)}


async def test_run_with_invalid_args_raises_tool_error_with_the_messages(tmp_path):
    registry = ToolRegistry()
    registry.register(echo_spec())
    with pytest.raises(ToolError) as caught:
        await registry.run(make_call(tmp_path, {"wrod": "hi"}), "echo")
    assert not isinstance(caught.value, RetryableToolError)
    assert str(caught.value) == (
        "invalid args for tool 'echo': args.word: field required; args.wrod: extra inputs are not permitted"
    )


async def test_run_of_unknown_tool_fails_the_task(tmp_path):
    with pytest.raises(ToolError, match="unknown tool 'shell'; known tools: ask_human, file_write_artifact"):
        await default_registry().run(make_call(tmp_path, {}), "shell")


async def test_run_past_the_timeout_is_retryable(tmp_path):
    registry = ToolRegistry()
    registry.register(echo_spec(timeout_s=0.05))
    with pytest.raises(RetryableToolError, match=r"^tool 'echo' timed out after 0\.05s$"):
        await registry.run(make_call(tmp_path, {"word": "hi", "delay_s": 5}), "echo")


async def test_run_rejects_a_handler_returning_the_wrong_model(tmp_path):
    async def wrong(call, args):
        return EchoArgs(word="oops")

    registry = ToolRegistry()
    registry.register(echo_spec(handler=wrong))
    with pytest.raises(ToolError, match="returned EchoArgs, not EchoOutput"):
        await registry.run(make_call(tmp_path, {"word": "hi"}), "echo")


async def test_handler_errors_pass_through_unchanged(tmp_path):
    async def flaky(call, args):
        raise RetryableToolError("upstream busy")

    registry = ToolRegistry()
    registry.register(echo_spec(handler=flaky))
    with pytest.raises(RetryableToolError, match=r"^upstream busy$"):
        await registry.run(make_call(tmp_path, {"word": "hi"}), "echo")


def test_the_idempotency_key_is_the_same_for_one_attempt_and_new_for_the_next(tmp_path):
    first = make_call(tmp_path, {})
    again = dataclasses.replace(first, goal="delivered again")  # the same attempt, run a second time
    retry = dataclasses.replace(first, attempt=2)
    assert first.idempotency_key == again.idempotency_key == f"{first.job_id}:{first.task_id}:1"
    assert retry.idempotency_key == f"{first.job_id}:{first.task_id}:2"


def test_a_tools_schemas_are_made_once_and_match_its_models():
    """A submitted plan asks for an output schema per reference it holds: pydantic would build it
    anew every time (~0.2 ms), so each tool keeps the one it made."""
    spec = default_registry().get("http_fetch")
    assert spec.output_model is not None
    assert spec.args_model is not None
    assert spec.output_schema == spec.output_model.model_json_schema()
    assert spec.args_schema == spec.args_model.model_json_schema()
    assert spec.output_schema is spec.output_schema  # made once, not per call
    assert spec.args_schema is spec.args_schema
    assert spec.describe()["output_schema"] is spec.output_schema
