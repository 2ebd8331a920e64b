"""Tools from other packages: the ``planwright.tools`` entry points and the PLANWRIGHT_TOOLS modules.

An entry point names a module (every ``@tool`` spec defined at its top level is loaded) or one
object: a ``ToolSpec`` or a list of them. A module that cannot be imported, or a tool whose name is
taken, stops the process at start with a message naming it (``ConfigError``): every process that
needs the catalog (API, planner, policy, worker, critic) loads the same tools, or none starts.
"""

from __future__ import annotations

import importlib
import logging
import traceback
from collections.abc import Iterable, Iterator
from importlib.metadata import EntryPoint, entry_points
from types import ModuleType
from typing import Any

from planwright.core.errors import ConfigError
from planwright.core.settings import Settings
from planwright.core.tool_registry import ToolRegistry, ToolSpec
from planwright.core.tools_builtin import default_registry

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "planwright.tools"


def tool_catalog(settings: Settings) -> ToolRegistry:
    """The tools of this process: the built-ins, then the entry points and PLANWRIGHT_TOOLS."""
    registry = default_registry(http_fetch_max_bytes=settings.http_fetch_max_bytes)
    load_plugins(registry, settings.tool_modules)
    return registry


def load_plugins(
    registry: ToolRegistry, modules: Iterable[str] = (), *, use_entry_points: bool = True
) -> list[str]:
    """Register the tools of every entry point and of ``modules``; return their names."""
    found: list[tuple[str, ToolSpec]] = []
    if use_entry_points:
        for point in entry_points(group=ENTRY_POINT_GROUP):
            found += [(f"entry point '{point.name}' ({point.value})", s) for s in _from_entry_point(point)]
    for name in modules:
        found += [(f"PLANWRIGHT_TOOLS module '{name}'", s) for s in specs_in(_import(name), name)]
    added: list[str] = []
    for origin, spec in found:
        try:
            registry.register(spec)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc.message}") from exc
        if spec.name not in added:
            added.append(spec.name)
    if added:
        log.info("tools from plugins: %s", ", ".join(added))
    return added


def specs_in(found: Any, origin: str) -> list[ToolSpec]:
    """The specs a module defines at its top level, or the spec / list of specs itself."""
    if isinstance(found, ModuleType):
        return list(_unique(v for v in vars(found).values() if isinstance(v, ToolSpec)))
    if isinstance(found, ToolSpec):
        return [found]
    if isinstance(found, list | tuple) and all(isinstance(v, ToolSpec) for v in found):
        return list(found)
    raise ConfigError(f"{origin} is a {type(found).__name__}, not a module, a tool or a list of tools")


def _from_entry_point(point: EntryPoint) -> list[ToolSpec]:
    where = f"entry point '{point.name}' ({point.value}) of group {ENTRY_POINT_GROUP}"
    try:
        found = point.load()
    except Exception as exc:
        raise ConfigError(f"cannot load {where}: {_why(exc)}") from exc
    return specs_in(found, where)


def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConfigError(f"PLANWRIGHT_TOOLS: cannot import module '{name}': {_why(exc)}") from exc


def _why(exc: BaseException) -> str:
    """The error and the line of the plugin it came from (where a user looks first)."""
    frames = traceback.extract_tb(exc.__traceback__)
    last = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{last}"


def _unique(specs: Iterable[ToolSpec]) -> Iterator[ToolSpec]:
    seen: set[int] = set()
    for spec in specs:
        if id(spec) not in seen:
            seen.add(id(spec))
            yield spec
