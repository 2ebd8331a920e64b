"""Tools for tests, loaded with PLANWRIGHT_TOOLS=tests.plugins.sample_tools (as a user's module is)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from pydantic import Field

from planwright.tools import ToolCall, tool


@tool(name="sample.pause")
async def pause(seconds: Annotated[float, Field(ge=0, le=5)] = 0.0, label: str = "") -> str:
    """Wait a while, then answer with the label (keeps a worker busy, like real work)."""
    await asyncio.sleep(seconds)
    return label


@tool(name="sample.lookup")
def lookup(key: str) -> dict[str, Any]:
    """An open-ended answer: which fields it has is known only when it runs."""
    return {"key": key, "found": {"colour": "green"}}


@tool(name="sample.context")
async def context(call: ToolCall) -> dict[str, Any]:
    """What the tool was given besides its args: the job's context_json and the attempt."""
    return {"context": dict(call.context), "attempt": call.attempt}


@tool(name="sample.collect")
async def collect(call: ToolCall) -> list[str]:
    """The text of every dependency, in the order the task lists them (a fan-in)."""
    return [str(output.get("text")) for output in call.inputs.values()]
