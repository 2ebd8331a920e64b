"""Data between tasks: an argument ``{"$from": "<task>.output.<field>..."}`` takes a dependency's output.

A reference stands for a whole value anywhere in a task's args (a field, a list item, deep inside an
object). Its path starts with the key of one of the task's dependencies, then ``output``, then
field names or list indexes (``fetch.output.items.0.title``); ``<task>.output`` alone is the
whole output object. Plans are checked before anything runs (``check_refs``); the Orchestrator
resolves the references when it releases the task (``resolve``), so the policy gate and the worker
see the real values. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

REF_KEY = "$from"
_PATH = re.compile(r"^([a-z][a-z0-9_]{0,63})\.output((?:\.[A-Za-z0-9_-]+)*)$")


class RefMissing(Exception):
    """A reference's value is not in the dependency's output (the task fails with this message)."""


@dataclass(frozen=True)
class Ref:
    where: str  # the argument it stands for: "args.text", "args.urls.0"
    task: str
    path: tuple[str, ...]  # within the output

    @property
    def text(self) -> str:
        return ".".join([self.task, "output", *self.path])


def is_ref(value: object) -> bool:
    return isinstance(value, dict) and REF_KEY in value


def find_refs(args: Mapping[str, Any]) -> tuple[list[Ref], list[str]]:
    """Every reference in ``args``, and the problems with the ones that are not well formed."""
    refs: list[Ref] = []
    problems: list[str] = []
    for where, node in _walk(args, "args"):
        found = _parse(node, where)
        if isinstance(found, Ref):
            refs.append(found)
        else:
            problems.append(found)
    return refs, problems


def _parse(node: dict[str, Any], where: str) -> Ref | str:
    """The reference ``node`` (a dict holding ``$from``) at ``where``, or why it is not one."""
    spec = node[REF_KEY]
    if len(node) != 1 or not isinstance(spec, str):
        return f'{where}: a reference is {{"{REF_KEY}": "<task>.output.<field>"}} alone'
    found = _PATH.match(spec)
    if found is None:
        return (
            f"{where}: '{spec}' is not a reference; write <task key>.output or "
            "<task key>.output.<field>[.<field or index>...]"
        )
    task, rest = found.groups()
    return Ref(where, task, tuple(rest.split(".")[1:]))


def has_refs(node: Any) -> bool:
    """Whether ``node`` holds a reference (cheap: it runs for every task the Orchestrator releases)."""
    if isinstance(node, dict):
        if REF_KEY in node:
            return True
        values: Iterable[Any] = node.values()
    elif isinstance(node, list):
        values = node
    else:
        return False
    return any(isinstance(value, dict | list) and has_refs(value) for value in values)


def resolve(args: dict[str, Any], outputs: Mapping[str, Mapping[str, Any] | None]) -> dict[str, Any]:
    """``args`` with each reference replaced by its value from ``outputs`` (task key -> output).

    Raises ``RefMissing`` naming the argument and what the output holds instead.
    """
    if not has_refs(args):
        return args
    resolved: dict[str, Any] = _replace(args, outputs, "args")
    return resolved


def _replace(node: Any, outputs: Mapping[str, Mapping[str, Any] | None], where: str) -> Any:
    if is_ref(node):
        found = _parse(node, where)
        if not isinstance(found, Ref):
            raise RefMissing(found)
        return _value(found, outputs, where)
    if isinstance(node, dict):
        return {k: _replace(v, outputs, f"{where}.{k}") for k, v in node.items()}
    if isinstance(node, list):
        return [_replace(v, outputs, f"{where}.{i}") for i, v in enumerate(node)]
    return node


def _value(ref: Ref, outputs: Mapping[str, Mapping[str, Any] | None], where: str) -> Any:
    if ref.task not in outputs:
        raise RefMissing(f"{where}: task '{ref.task}' is not a dependency of this task")
    value: Any = outputs[ref.task]
    if value is None:
        raise RefMissing(f"{where}: task '{ref.task}' has no output")
    walked = [ref.task, "output"]
    for step in ref.path:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            raise RefMissing(f"{where}: {'.'.join(walked)} has no {step!r} ({_holds(value)})")
        walked.append(step)
    return value


def _holds(value: Any) -> str:
    if isinstance(value, dict):
        return "its fields: " + (", ".join(sorted(value)[:20]) or "none")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return f"it is a {type(value).__name__}"


def _walk(node: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if is_ref(node):
        yield where, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _walk(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk(v, f"{where}.{i}")


def schema_has_path(schema: Mapping[str, Any], path: tuple[str, ...]) -> str | None:
    """Why ``path`` cannot be in an output described by ``schema`` (a tool's output JSON schema), or
    None when it can (or the schema does not say: open objects, ``anyOf``, no schema)."""
    defs = schema.get("$defs", {})
    node: Mapping[str, Any] = schema
    walked: list[str] = []
    for step in path:
        node = _deref(node, defs)
        if node.get("type") == "array" and step.isdigit():
            node = node.get("items", {})
        elif node.get("type") == "object" and isinstance(node.get("properties"), dict):
            props = node["properties"]
            if step not in props:
                if node.get("additionalProperties") not in (None, False):
                    return None
                fields = ", ".join(sorted(props)) or "none"
                return f"{'.'.join(['output', *walked])} has no field {step!r} (its fields: {fields})"
            node = props[step]
        else:
            return None
        walked.append(step)
    return None


def _deref(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        found: Mapping[str, Any] = defs.get(ref.removeprefix("#/$defs/"), {})
        return found
    return node
