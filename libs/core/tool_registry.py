"""Tools: what a task can do. Each is a ``ToolSpec`` (schemas, side effects, timeout, handler).

A spec is made by the ``@tool`` decorator (``planwright.tools``; the built-in tools are declared the
same way, in ``tools_builtin.py``) or, for tools described by a JSON schema (MCP servers), directly.
The registry holds the specs of one process: the built-ins, the plugins ``plugins.py`` loads, and the
tools of each MCP server, swapped as a whole when a server comes and goes. See docs/tools.md.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from planwright.core.artifacts import ArtifactStore
from planwright.core.errors import ConfigError, RetryableToolError, ToolError, UnknownTool
from planwright.core.llm.base import TextSink
from planwright.core.llm.client import LLMClient
from planwright.core.netguard import STRICT, NetPolicy

ProgressFn = Callable[[str], Awaitable[None]]
# The second parameter is Any because each handler takes its own args: a validated instance of
# ``spec.args_model``, or (for a JSON-schema tool) the dict validated against ``spec.args_json_schema``.
Handler = Callable[["ToolCall", Any], Awaitable[BaseModel | dict[str, Any]]]

# Plugin and built-in tool names: snake_case words, optionally dotted into a namespace ("myco.search").
# "mcp." is kept for the tools of MCP servers (``mcp.<server>.<tool>``).
TOOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}(\.[a-z][a-z0-9_]{0,63}){0,3}$"
_TOOL_NAME = re.compile(TOOL_NAME_PATTERN)
MCP_PREFIX = "mcp."
# How long a sync tool's progress report may wait for the loop to send it.
_REPORT_WAIT_S = 30.0


@dataclass(frozen=True)
class ToolCall:
    """Everything a tool may use. ``inputs`` maps each dependency's task key to its output."""

    job_id: UUID
    task_id: UUID
    attempt: int
    goal: str
    args: dict[str, Any]
    inputs: dict[str, dict[str, Any]]
    artifacts: ArtifactStore
    llm: LLMClient  # metered: its calls travel with the task's result
    progress: ProgressFn  # awaited from async tools; sync tools call ``report``
    # Where a tool streams its model's text (``call.llm.complete(..., on_text=call.on_text)``): the
    # worker coalesces it into task.progress deltas the UI shows growing. None: nothing is streamed.
    on_text: TextSink | None = None
    context: Mapping[str, Any] = field(default_factory=dict)  # the job's context_json
    feedback: str | None = None
    demo_fault_rate: float = 0.0  # CRITIC_DEMO_FAULT_RATE when the critic is on; see llm/demo_faults.py
    timeout_s: float | None = None  # the policy's tighter limit, if any
    max_response_bytes: int | None = None  # the policy's cap for http_fetch, if any
    net_policy: NetPolicy = STRICT  # where http_fetch may connect (netguard; the policy's opt-ins)
    # The loop a sync tool's thread reports progress to (set by the registry when it starts one).
    loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False, compare=False)

    @property
    def idempotency_key(self) -> str:
        """The same for every run of this attempt, different for the next one: a tool with side effects
        passes it on (an ``Idempotency-Key`` header, a unique column) so that running one attempt twice
        (its worker died after acting, before reporting) acts once. ``job:task:attempt``."""
        return f"{self.job_id}:{self.task_id}:{self.attempt}"

    def report(self, message: str) -> None:
        """Report progress from a sync tool (it runs in a thread); returns once the report is sent."""
        if self.loop is None:
            raise RuntimeError("call.report() is for sync tools; an async tool awaits call.progress()")

        async def send() -> None:
            await self.progress(message)

        asyncio.run_coroutine_threadsafe(send(), self.loop).result(_REPORT_WAIT_S)


@dataclass(frozen=True)
class ToolSpec:
    """One tool. Its arguments are described by ``args_model`` (pydantic) or, when that is None, by
    ``args_json_schema``; the same holds for its output (a JSON-schema tool returns a dict)."""

    name: str
    description: str
    args_model: type[BaseModel] | None
    output_model: type[BaseModel] | None
    handler: Handler
    side_effects: bool = False
    timeout_s: float = 60.0
    # Exceptions that end an attempt as retryable (with backoff) rather than as a failure.
    retryable: tuple[type[BaseException], ...] = ()
    args_json_schema: dict[str, Any] | None = None
    output_json_schema: dict[str, Any] | None = None
    source: str = "builtin"  # "builtin", "plugin:<module>" or "mcp:<server>"
    fn: Callable[..., Any] | None = field(default=None, compare=False)  # what @tool decorated

    # Made once per tool (pydantic builds a model's schema anew at every call, ~0.2 ms: a submitted
    # plan asks for an output schema per reference it holds). Shared: callers only read them.
    @functools.cached_property
    def args_schema(self) -> dict[str, Any]:
        if self.args_model is not None:
            return self.args_model.model_json_schema()
        return self.args_json_schema or {"type": "object"}

    @functools.cached_property
    def output_schema(self) -> dict[str, Any]:
        if self.output_model is not None:
            return self.output_model.model_json_schema()
        return self.output_json_schema or {"type": "object"}

    def describe(self) -> dict[str, Any]:
        """The public description of the tool (an item of ``GET /tools``)."""
        return {
            "name": self.name,
            "description": self.description,
            "args_schema": self.args_schema,
            "output_schema": self.output_schema,
            "side_effects": self.side_effects,
            "timeout_s": self.timeout_s,
            "source": self.source,
        }

    def parse_args(self, args: dict[str, Any]) -> Any:
        """The handler's argument: a model instance, or ``args`` itself once its schema accepts it.

        Raises ``ArgsInvalid`` listing every problem ("args.url: field required").
        """
        if self.args_model is not None:
            try:
                return self.args_model.model_validate(args)
            except ValidationError as exc:
                raise ArgsInvalid(_messages(exc)) from exc
        problems = _schema_problems(self.args_json_schema, args)
        if problems:
            raise ArgsInvalid(problems)
        return args


class ArgsInvalid(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ToolRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}
        self._names: list[str] = []
        # Asked about a name this registry does not have: a source that may yet provide it (an MCP
        # server still connecting) answers with the error to raise instead of "unknown tool".
        self.missing: Callable[[str], ToolError | None] | None = None

    def register(self, spec: ToolSpec) -> None:
        """Add ``spec``; a name that is taken, or not a valid tool name, is a ``ConfigError``."""
        if spec.name in self._specs:
            other = self._specs[spec.name]
            if other is spec:
                return  # the same spec reached twice (an entry point and PLANWRIGHT_TOOLS)
            raise ConfigError(
                f"tool '{spec.name}' from {spec.source} clashes with the tool of that name from "
                f"{other.source}; rename one of them"
            )
        if not spec.source.startswith("mcp:") and not _TOOL_NAME.match(spec.name):
            raise ConfigError(
                f"tool name '{spec.name}' from {spec.source} is not valid: use snake_case words, "
                f"optionally dotted ('myco.search'), matching {TOOL_NAME_PATTERN}"
            )
        if spec.name.startswith(MCP_PREFIX) != spec.source.startswith("mcp:"):
            raise ConfigError(f"tool '{spec.name}' from {spec.source}: 'mcp.' names are for MCP servers")
        self._specs[spec.name] = spec
        self._names = sorted(self._specs)

    def replace_source(self, source: str, specs: Iterable[ToolSpec]) -> None:
        """Make ``specs`` the tools of ``source`` (an MCP server that connected, or went away)."""
        new = list(specs)
        kept = {n: s for n, s in self._specs.items() if s.source != source}
        clash = [s.name for s in new if s.name in kept or s.source != source]
        if clash:
            raise ConfigError(f"tools {', '.join(sorted(clash))} of {source} clash with other tools")
        self._specs = {**kept, **{s.name: s for s in new}}
        self._names = sorted(self._specs)

    def get(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownTool(f"unknown tool '{name}'; known tools: {known}", tool=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def names(self) -> list[str]:
        return list(self._names)

    def specs(self) -> list[ToolSpec]:
        return [self._specs[name] for name in self._names]

    def output_schema(self, name: str) -> dict[str, Any]:
        return self.get(name).output_schema

    def validate_args(self, name: str, args: dict[str, Any]) -> list[str]:
        """Problems with ``args`` for tool ``name`` ("args.url: field required"); [] when valid.

        Raises ``UnknownTool`` for an unknown tool.
        """
        try:
            self.get(name).parse_args(args)
        except ArgsInvalid as exc:
            return exc.problems
        return []

    async def run(self, call: ToolCall, tool: str) -> dict[str, Any]:
        """Validate ``call.args``, run the handler within the tool's timeout, return its output as JSON.

        Raises ``ToolError`` for unknown tools, invalid args and permanent failures, and
        ``RetryableToolError`` for timeouts and transient failures (the spec's ``retryable`` ones).
        """
        try:
            spec = self.get(tool)
        except UnknownTool as exc:
            found = self.missing(tool) if self.missing is not None else None
            raise (found or ToolError(exc.message)) from exc
        try:
            args = spec.parse_args(call.args)
        except ArgsInvalid as exc:
            raise ToolError(f"invalid args for tool '{tool}': {exc}") from exc
        timeout_s = min(spec.timeout_s, call.timeout_s or spec.timeout_s)
        try:
            async with asyncio.timeout(timeout_s):
                output = await spec.handler(call, args)
        except TimeoutError as exc:
            raise RetryableToolError(f"tool '{tool}' timed out after {timeout_s:g}s") from exc
        except ToolError:
            raise
        except spec.retryable as exc:
            raise RetryableToolError(f"tool '{tool}' failed: {type(exc).__name__}: {exc}") from exc
        return _dump_output(spec, output)


def _dump_output(spec: ToolSpec, output: BaseModel | dict[str, Any]) -> dict[str, Any]:
    if spec.output_model is not None:
        if not isinstance(output, spec.output_model):
            raise ToolError(
                f"tool '{spec.name}' returned {type(output).__name__}, not {spec.output_model.__name__}"
            )
        return output.model_dump(mode="json")
    if isinstance(output, BaseModel):
        return output.model_dump(mode="json")
    if not isinstance(output, dict):
        raise ToolError(f"tool '{spec.name}' returned {type(output).__name__}, not a JSON object")
    return output


def _messages(exc: ValidationError) -> list[str]:
    found = ((".".join(["args", *map(str, e["loc"])]), e["msg"]) for e in exc.errors())
    return [f"{where}: {msg[:1].lower()}{msg[1:]}" for where, msg in found]


def _schema_problems(schema: dict[str, Any] | None, args: dict[str, Any]) -> list[str]:
    """Where ``args`` breaks a JSON schema (a tool's own, e.g. an MCP server's), as "args.<path>: ..."."""
    if not schema:
        return []
    from jsonschema import Draft202012Validator  # only JSON-schema tools need it

    found = sorted(Draft202012Validator(schema).iter_errors(args), key=lambda e: list(e.absolute_path))
    return [".".join(["args", *map(str, e.absolute_path)]) + f": {e.message}" for e in found]
