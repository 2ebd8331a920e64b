"""``@tool``: a typed Python function becomes a ``ToolSpec``, its schemas generated from its hints.

Arguments: either one parameter annotated with a pydantic model (the model is the args schema), or
plain parameters with type hints (a strict model is made from them; pydantic ``Field`` and
``Annotated`` work as usual). A parameter annotated ``ToolCall`` receives the call (job context,
attempt, progress, artifacts, the model client); it is not an argument.

Output: a pydantic model is the output schema; ``str`` becomes ``{"text": ...}`` (what the built-in
text tools read from their inputs); ``None`` becomes ``{}``; any other type ``T`` becomes
``{"result": T}``. Sync functions run in a worker thread, so they never block the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import typing
from collections.abc import Callable
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, create_model

from planwright.core.errors import ConfigError
from planwright.core.tool_registry import Handler, ToolCall, ToolSpec

_BUILTIN = "planwright.core."  # the modules of the built-in tools


class TextResult(BaseModel):
    text: str


class NoResult(BaseModel):
    pass


@overload
def tool(fn: Callable[..., Any], /) -> ToolSpec: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 60.0,
    side_effects: bool = False,
    retryable: tuple[type[BaseException], ...] = (),
) -> Callable[[Callable[..., Any]], ToolSpec]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout_s: float = 60.0,
    side_effects: bool = False,
    retryable: tuple[type[BaseException], ...] = (),
) -> ToolSpec | Callable[[Callable[..., Any]], ToolSpec]:
    """Make a tool of ``fn``: ``@tool`` or ``@tool(name=..., timeout_s=..., retryable=(...))``.

    ``name`` defaults to the function's name, ``description`` to its docstring's first paragraph.
    ``retryable`` lists exceptions that end an attempt as retryable (the task is tried again with
    backoff); ``RetryableToolError`` always is, ``ToolError`` never, anything else fails the task.
    ``side_effects`` tells planners and the policy that running it twice is not harmless. The
    original function stays at ``spec.fn`` for tests.
    """

    def build(fn: Callable[..., Any]) -> ToolSpec:
        return _spec(fn, name, description, timeout_s, side_effects, retryable)

    return build(fn) if fn is not None else build


def _spec(
    fn: Callable[..., Any],
    name: str | None,
    description: str | None,
    timeout_s: float,
    side_effects: bool,
    retryable: tuple[type[BaseException], ...],
) -> ToolSpec:
    tool_name = name or fn.__name__
    where = f"tool '{tool_name}' ({fn.__module__}.{fn.__qualname__})"
    text = description or _first_paragraph(inspect.getdoc(fn))
    if not text:
        raise ConfigError(f"{where} has no description: give it a docstring or description=...")
    if timeout_s <= 0:
        raise ConfigError(f"{where}: timeout_s must be positive")
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except NameError as exc:
        raise ConfigError(f"{where}: a type hint cannot be resolved: {exc}") from exc
    params = list(inspect.signature(fn).parameters.values())
    call_param = _call_param(params, hints, where)
    arg_params = [p for p in params if p.name != call_param]
    args_model, whole = _args_model(tool_name, arg_params, hints, where)
    output_model, wrap = _output_model(tool_name, hints.get("return", Any))
    handler = _handler(fn, call_param, args_model, whole, output_model, wrap)
    return ToolSpec(
        name=tool_name,
        description=text,
        args_model=args_model,
        output_model=output_model,
        handler=handler,
        side_effects=side_effects,
        timeout_s=timeout_s,
        retryable=tuple(retryable),
        source="builtin" if fn.__module__.startswith(_BUILTIN) else f"plugin:{fn.__module__}",
        fn=fn,
    )


def _first_paragraph(doc: str | None) -> str:
    return " ".join((doc or "").strip().split("\n\n")[0].split())


def _call_param(params: list[inspect.Parameter], hints: dict[str, Any], where: str) -> str | None:
    found = [p.name for p in params if hints.get(p.name) is ToolCall]
    if len(found) > 1:
        raise ConfigError(f"{where}: only one parameter may take the ToolCall, not {', '.join(found)}")
    return found[0] if found else None


def _args_model(
    tool_name: str, params: list[inspect.Parameter], hints: dict[str, Any], where: str
) -> tuple[type[BaseModel], bool]:
    """The args model, and whether the function takes it whole (one model-typed parameter)."""
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD, p.POSITIONAL_ONLY):
            raise ConfigError(f"{where}: parameter '{p.name}' must be a plain named parameter")
        if p.name not in hints:
            raise ConfigError(f"{where}: parameter '{p.name}' has no type hint")
    if len(params) == 1 and _is_model(hints[params[0].name]):
        model: type[BaseModel] = hints[params[0].name]
        return model, True
    fields: dict[str, Any] = {
        p.name: (hints[p.name], ... if p.default is p.empty else p.default) for p in params
    }
    # A typo in a plan's args fails validation instead of being ignored.
    config = ConfigDict(extra="forbid", title=f"{tool_name} args")
    return create_model(f"{_camel(tool_name)}Args", __config__=config, **fields), False


def _output_model(tool_name: str, returns: Any) -> tuple[type[BaseModel], Callable[[Any], BaseModel]]:
    if _is_model(returns):
        return returns, lambda value: value
    if returns is str:
        return TextResult, lambda value: TextResult(text=value)
    if returns is None or returns is type(None):
        return NoResult, lambda _value: NoResult()
    config = ConfigDict(title=f"{tool_name} output")
    model = create_model(f"{_camel(tool_name)}Output", __config__=config, result=(returns, ...))
    return model, lambda value: model.model_validate({"result": value})


def _handler(
    fn: Callable[..., Any],
    call_param: str | None,
    args_model: type[BaseModel],
    whole: bool,
    output_model: type[BaseModel],
    wrap: Callable[[Any], BaseModel],
) -> Handler:
    is_async = inspect.iscoroutinefunction(fn)
    names = list(args_model.model_fields)
    whole_name = next((n for n in inspect.signature(fn).parameters if n != call_param), "")

    async def handler(call: ToolCall, args: Any) -> BaseModel:
        kwargs = {whole_name: args} if whole else {n: getattr(args, n) for n in names}
        if is_async:
            if call_param is not None:
                kwargs[call_param] = call
            value = await fn(**kwargs)
        else:
            if call_param is not None:
                kwargs[call_param] = dataclasses.replace(call, loop=asyncio.get_running_loop())
            value = await asyncio.to_thread(fn, **kwargs)
        if isinstance(value, output_model):
            return value
        return wrap(value)

    return handler


def _is_model(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, BaseModel)


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace(".", "_").split("_"))
