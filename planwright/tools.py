"""Write your own tools: ``@tool`` turns a typed Python function into a Planwright tool.

    from planwright.tools import ToolCall, tool

    @tool(timeout_s=30)
    async def shout(call: ToolCall, text: str) -> str:
        "Upper-case a text."
        await call.progress("shouting")
        return text.upper()

Make it known to every process with the ``planwright.tools`` entry point group of your package, or
with ``PLANWRIGHT_TOOLS=your.module``. See docs/tools.md.
"""

from planwright.core.errors import RetryableToolError, ToolError
from planwright.core.tool_decorator import tool
from planwright.core.tool_registry import ToolCall, ToolSpec

__all__ = ["RetryableToolError", "ToolCall", "ToolError", "ToolSpec", "tool"]
