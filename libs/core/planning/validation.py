"""Whether a plan may run: every problem found is reported at once, in words a user understands."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from planwright.core.errors import PlanInvalid
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.refs import REF_KEY, find_refs, schema_has_path


class ToolCatalog(Protocol):
    """What planning needs to know about tools; ``ToolRegistry`` satisfies it."""

    def __contains__(self, name: object) -> bool: ...

    def names(self) -> list[str]: ...

    def validate_args(self, name: str, args: dict[str, Any]) -> list[str]: ...

    def output_schema(self, name: str) -> dict[str, Any]: ...


def validate_plan(plan: PlanSpec, tools: ToolCatalog, *, max_tasks: int) -> None:
    """Raise ``PlanInvalid`` listing every reason ``plan`` must not run; return when it may."""
    if not plan.tasks:
        raise PlanInvalid(["plan has no tasks"])
    reasons: list[str] = []
    if len(plan.tasks) > max_tasks:
        reasons.append(f"plan has {len(plan.tasks)} tasks; the limit is {max_tasks} (PLAN_MAX_TASKS)")
    reasons.extend(_duplicate_keys(plan.tasks))
    keys = {task.key for task in plan.tasks}
    tool_of = {task.key: task.tool for task in plan.tasks}
    for task in plan.tasks:
        reasons.extend(_dependency_problems(task, keys))
        reasons.extend(_tool_problems(task, tools, tool_of))
    reasons.extend(f"tasks depend on each other in a cycle: {' -> '.join(c)}" for c in find_cycles(plan))
    if reasons:
        raise PlanInvalid(reasons)


def find_cycles(plan: PlanSpec) -> list[list[str]]:
    """One cycle per knot of mutually dependent tasks, e.g. ``["a", "b", "a"]`` (a depends on b ...).

    Self-dependencies and unknown keys are left to their own, clearer reasons.
    """
    graph: dict[str, list[str]] = {task.key: [] for task in plan.tasks}
    for task in plan.tasks:
        graph[task.key].extend(d for d in task.depends_on if d in graph and d != task.key)
    return [_cycle_through(component[0], set(component), graph) for component in _knots(graph)]


def _duplicate_keys(tasks: Sequence[TaskSpec]) -> Iterator[str]:
    seen: set[str] = set()
    reported: set[str] = set()
    for task in tasks:
        if task.key in seen and task.key not in reported:
            reported.add(task.key)
            yield f"task key '{task.key}' is used by more than one task"
        seen.add(task.key)


def _dependency_problems(task: TaskSpec, keys: set[str]) -> Iterator[str]:
    seen: set[str] = set()
    for dep in task.depends_on:
        if dep in seen:
            yield f"task '{task.key}' lists dependency '{dep}' more than once"
        elif dep == task.key:
            yield f"task '{task.key}' depends on itself"
        elif dep not in keys:
            yield f"task '{task.key}' depends on unknown task '{dep}'"
        seen.add(dep)


def _tool_problems(task: TaskSpec, tools: ToolCatalog, tool_of: Mapping[str, str]) -> Iterator[str]:
    refs, malformed = find_refs(task.args)
    yield from (f"task '{task.key}': {problem}" for problem in malformed)
    for ref in refs:
        if ref.task not in task.depends_on:
            yield (
                f"task '{task.key}': {ref.where}: {REF_KEY} '{ref.text}' refers to task '{ref.task}', "
                "which is not in its depends_on"
            )
        elif tool_of.get(ref.task) in tools:
            why = schema_has_path(tools.output_schema(tool_of[ref.task]), ref.path)
            if why is not None:
                yield f"task '{task.key}': {ref.where}: {REF_KEY} '{ref.text}': {why}"
    if task.tool not in tools:
        known = ", ".join(tools.names()) or "none"
        yield f"task '{task.key}' uses unknown tool '{task.tool}'; known tools: {known}"
        return
    # A referenced value is checked against the argument's schema once it is known (at dispatch).
    stand_ins = tuple(ref.where for ref in refs)
    for error in tools.validate_args(task.tool, task.args):
        where = error.split(":", 1)[0]
        if not any(where == r or where.startswith(r + ".") for r in stand_ins):
            yield f"task '{task.key}': {error}"


def _knots(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Strongly connected components with more than one task (Tarjan, iterative), in plan order."""
    order = {key: i for i, key in enumerate(graph)}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = _pop_component(node, stack, on_stack)
                    if len(component) > 1:
                        found.append(sorted(component, key=order.__getitem__))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(graph[child])))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return sorted(found, key=lambda component: order[component[0]])


def _pop_component(root: str, stack: list[str], on_stack: set[str]) -> list[str]:
    component: list[str] = []
    while True:
        key = stack.pop()
        on_stack.discard(key)
        component.append(key)
        if key == root:
            return component


def _cycle_through(start: str, knot: set[str], graph: Mapping[str, Sequence[str]]) -> list[str]:
    """The shortest dependency path from ``start`` back to itself inside one knot."""
    came_from: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for child in graph[node]:
            if child not in knot:
                continue
            if child == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [*reversed(path), start]
            if child not in came_from:
                came_from[child] = node
                queue.append(child)
    raise AssertionError("a strongly connected component always contains a cycle")  # pragma: no cover
