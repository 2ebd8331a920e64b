"""``@tool``: schemas from type hints, the call object, sync tools off the loop, errors at declaration."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from planwright.core.errors import ConfigError, RetryableToolError, ToolError
from planwright.core.tests.test_tool_registry import make_call
from planwright.core.tool_registry import ToolCall, ToolRegistry
from planwright.tools import ToolSpec, tool


async def run(spec: ToolSpec, tmp_path, args, **call) -> dict[str, Any]:
    registry = ToolRegistry()
    registry.register(spec)
    return await registry.run(make_call(tmp_path, args, **call), spec.name)


class Colour(Enum):
    red = "red"
    blue = "blue"


# (annotation, a valid value as JSON, the JSON schema type the hint must produce)
HINTS: list[tuple[Any, Any, str]] = [
    (str, "text", "string"),
    (int, 3, "integer"),
    (float, 1.5, "number"),
    (bool, True, "boolean"),
    (list[str], ["a", "b"], "array"),
    (dict[str, int], {"a": 1}, "object"),
    (Literal["x", "y"], "y", "string"),
    (Colour, "blue", "string"),
    (date, "2026-12-06", "string"),
    (Annotated[int, Field(ge=0, le=9)], 7, "integer"),
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.sampled_from(range(len(HINTS))), min_size=0, max_size=5),
    st.lists(st.booleans(), min_size=5, max_size=5),
)
def test_every_hint_becomes_a_strict_schema_that_accepts_a_valid_call(picked, with_default):
    params = [(f"p{i}", *HINTS[h]) for i, h in enumerate(picked)]

    async def fn(**kwargs: Any) -> str:
        return "ok"

    # Build the signature the decorator reads: one named parameter per pick, some with defaults.
    import inspect

    fn.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=hint,
                default=value if with_default[i] else inspect.Parameter.empty,
            )
            for i, (name, hint, value, _) in enumerate(params)
        ]
    )
    fn.__annotations__ = {name: hint for name, hint, _, _ in params} | {"return": str}
    fn.__doc__ = "A generated tool."
    spec = tool(name="generated")(fn)
    schema = spec.args_schema
    assert schema.get("additionalProperties") is False
    required = [name for i, (name, *_) in enumerate(params) if not with_default[i]]
    assert schema.get("required", []) == required
    for name, _hint, _value, kind in params:
        prop = schema["properties"][name]
        found = prop.get("type") or schema["$defs"][prop["$ref"].split("/")[-1]]["type"]
        assert found == kind, (name, prop)
    registry = ToolRegistry()
    registry.register(spec)
    valid = {name: value for name, _, value, _ in params}
    assert registry.validate_args("generated", valid) == []
    assert registry.validate_args("generated", {**valid, "extra": 1}) == [
        "args.extra: extra inputs are not permitted"
    ]


def test_name_description_and_options_come_from_the_function():
    @tool(timeout_s=5, side_effects=True)
    async def shout(text: str) -> str:
        """Upper-case a text.

        More words that are not part of the description.
        """
        return text.upper()

    assert (shout.name, shout.description, shout.timeout_s, shout.side_effects) == (
        "shout",
        "Upper-case a text.",
        5,
        True,
    )
    assert shout.source == "plugin:" + __name__
    assert shout.output_schema["properties"] == {"text": {"title": "Text", "type": "string"}}
    assert shout.describe()["source"] == "plugin:" + __name__


class Args(BaseModel):
    a: int
    b: int = 2


class Sum(BaseModel):
    total: int


async def test_a_single_model_parameter_is_the_args_schema(tmp_path):
    @tool
    async def add(args: Args) -> Sum:
        """Add two numbers."""
        return Sum(total=args.a + args.b)

    assert add.args_model is Args
    assert await run(add, tmp_path, {"a": 40}) == {"total": 42}


@pytest.mark.parametrize(
    ("returns", "value", "output"),
    [
        (str, "hi", {"text": "hi"}),
        (type(None), None, {}),
        (int, 7, {"result": 7}),
        (list[int], [1], {"result": [1]}),
    ],
)
async def test_plain_return_types_are_wrapped(tmp_path, returns, value, output):
    async def fn() -> Any:
        return value

    fn.__annotations__ = {"return": returns}
    fn.__doc__ = "Returns a value."
    assert await run(tool(name="wrapped")(fn), tmp_path, {}) == output


async def test_a_wrong_return_value_fails_the_task(tmp_path):
    @tool
    async def liar() -> int:
        """Says it returns a number."""
        return "not a number"  # type: ignore[return-value]

    with pytest.raises(Exception, match="result"):
        await run(liar, tmp_path, {})


async def test_the_call_brings_context_attempt_and_progress(tmp_path):
    said: list[str] = []

    @tool
    async def inspect_call(call: ToolCall, note: str) -> dict[str, Any]:
        """Report what the call holds."""
        await call.progress(f"note {note}")
        return {"context": dict(call.context), "attempt": call.attempt}

    assert "call" not in inspect_call.args_schema["properties"]
    out = await run(inspect_call, tmp_path, {"note": "n"}, context={"team": "blue"}, attempt=3, said=said)
    assert out == {"result": {"context": {"team": "blue"}, "attempt": 3}}
    assert said == ["note n"]


async def test_a_sync_tool_runs_in_a_thread_and_the_loop_keeps_running(tmp_path):
    threads: list[int] = []
    said: list[str] = []

    @tool
    def slow(call: ToolCall, seconds: float) -> str:
        """Block for a while, as sync library code does."""
        threads.append(threading.get_ident())
        call.report("half way")  # a sync tool's progress, from its thread
        time.sleep(seconds)
        return "done"

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticking = asyncio.create_task(ticker())
    try:
        out = await run(slow, tmp_path, {"seconds": 0.3}, said=said)
    finally:
        ticking.cancel()
    assert out == {"text": "done"}
    assert threads
    assert threads[0] != threading.get_ident()
    assert said == ["half way"]
    assert ticks >= 5, "the event loop was blocked while the sync tool ran"


async def test_report_is_for_sync_tools(tmp_path):
    @tool
    async def confused(call: ToolCall) -> None:
        """Calls the sync API from async code."""
        call.report("nope")

    with pytest.raises(RuntimeError, match=r"awaits call\.progress"):
        await run(confused, tmp_path, {})


async def test_retryable_exceptions_make_the_attempt_retryable(tmp_path):
    @tool(retryable=(ConnectionError,))
    async def flaky(fail: Literal["connection", "value", "tool"]) -> str:
        """Fails in the way it is told to."""
        if fail == "connection":
            raise ConnectionError("reset by peer")
        if fail == "tool":
            raise ToolError("bad input, do not retry")
        raise ValueError("a bug")

    with pytest.raises(RetryableToolError, match="tool 'flaky' failed: ConnectionError: reset by peer"):
        await run(flaky, tmp_path, {"fail": "connection"})
    with pytest.raises(ToolError, match="bad input") as caught:
        await run(flaky, tmp_path, {"fail": "tool"})
    assert not isinstance(caught.value, RetryableToolError)
    with pytest.raises(ValueError, match="a bug"):  # the worker reports it as a crash, not retried
        await run(flaky, tmp_path, {"fail": "value"})


async def test_the_timeout_applies(tmp_path):
    @tool(timeout_s=0.05)
    async def sleepy() -> None:
        """Sleeps too long."""
        await asyncio.sleep(5)

    with pytest.raises(RetryableToolError, match=r"timed out after 0\.05s"):
        await run(sleepy, tmp_path, {})


def test_declaration_mistakes_are_refused_with_what_to_fix():
    def undocumented(x: int) -> int:
        return x

    with pytest.raises(ConfigError, match="has no description: give it a docstring"):
        tool(undocumented)

    def untyped(x) -> int:
        """Has no hint."""
        return 1

    with pytest.raises(ConfigError, match="parameter 'x' has no type hint"):
        tool(untyped)

    def variadic(*xs: int) -> int:
        """Takes *args."""
        return 1

    with pytest.raises(ConfigError, match="parameter 'xs' must be a plain named parameter"):
        tool(variadic)

    def two_calls(a: ToolCall, b: ToolCall) -> None:
        """Two call objects."""

    with pytest.raises(ConfigError, match="only one parameter may take the ToolCall"):
        tool(two_calls)

    def fine(x: int) -> int:
        """Fine."""
        return x

    with pytest.raises(ConfigError, match="timeout_s must be positive"):
        tool(timeout_s=0)(fine)


def test_tool_names_are_checked_when_registered():
    def fine(x: int) -> int:
        """Fine."""
        return x

    registry = ToolRegistry()
    for bad in ("Shout", "has space", "mcp.sneaky.tool", "1st"):
        with pytest.raises(ConfigError):
            registry.register(tool(name=bad)(fine))
    registry.register(tool(name="myco.search")(fine))
    assert "myco.search" in registry
