from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from planwright.core.errors import PlanInvalid
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.validation import find_cycles, validate_plan


class FakeCatalog:
    """Tools by name -> (required args, optional args)."""

    def __init__(self, tools: dict[str, tuple[set[str], set[str]]] | None = None) -> None:
        self.tools = tools or {"echo": ({"text"}, set()), "fetch": ({"url"}, {"max_bytes"})}

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def output_schema(self, name: str) -> dict[str, Any]:
        return {}

    def names(self) -> list[str]:
        return list(self.tools)

    def validate_args(self, name: str, args: dict[str, Any]) -> list[str]:
        required, optional = self.tools[name]
        missing = [f"args.{field}: field required" for field in sorted(required - args.keys())]
        extra = [f"args.{field}: unexpected field" for field in sorted(args.keys() - required - optional)]
        return missing + extra


def task(key, *deps, tool="echo", **args):
    return TaskSpec(key=key, title=key, tool=tool, args=args or {"text": key}, depends_on=list(deps))


def reasons_for(*tasks, max_tasks=20):
    with pytest.raises(PlanInvalid) as caught:
        validate_plan(PlanSpec(tasks=list(tasks)), FakeCatalog(), max_tasks=max_tasks)
    return caught.value.reasons


def test_a_valid_plan_passes():
    plan = PlanSpec(tasks=[task("a"), task("b", "a"), task("c", "a", "b")])
    validate_plan(plan, FakeCatalog(), max_tasks=3)


def test_no_tasks():
    assert reasons_for() == ["plan has no tasks"]


def test_too_many_tasks_names_the_limit_and_its_setting():
    tasks = [task(f"t{i}") for i in range(27)]
    assert reasons_for(*tasks) == ["plan has 27 tasks; the limit is 20 (PLAN_MAX_TASKS)"]


def test_duplicate_keys_are_reported_once_each():
    assert reasons_for(task("a"), task("a"), task("a"), task("b")) == [
        "task key 'a' is used by more than one task"
    ]


def test_unknown_and_self_dependencies():
    assert reasons_for(task("a", "a"), task("b", "nope")) == [
        "task 'a' depends on itself",
        "task 'b' depends on unknown task 'nope'",
    ]


def test_repeated_dependency():
    assert reasons_for(task("a"), task("b", "a", "a")) == ["task 'b' lists dependency 'a' more than once"]


def test_a_cycle_is_named():
    assert reasons_for(task("a", "b"), task("b", "a")) == [
        "tasks depend on each other in a cycle: a -> b -> a"
    ]


def test_a_longer_cycle_is_named_from_its_first_task():
    reasons = reasons_for(task("start"), task("x", "start", "z"), task("y", "x"), task("z", "y"))
    assert reasons == ["tasks depend on each other in a cycle: x -> z -> y -> x"]


def test_separate_cycles_are_each_reported():
    reasons = reasons_for(task("a", "b"), task("b", "a"), task("c", "d"), task("d", "c"))
    assert reasons == [
        "tasks depend on each other in a cycle: a -> b -> a",
        "tasks depend on each other in a cycle: c -> d -> c",
    ]


def test_unknown_tool_lists_the_known_ones():
    assert reasons_for(task("x", tool="teleport")) == [
        "task 'x' uses unknown tool 'teleport'; known tools: echo, fetch"
    ]


def test_invalid_args_are_reported_per_field():
    assert reasons_for(task("x", tool="fetch", max_bytes=10, colour="red")) == [
        "task 'x': args.url: field required",
        "task 'x': args.colour: unexpected field",
    ]


def test_every_reason_is_reported_at_once():
    reasons = reasons_for(
        task("a", "b"), task("b", "a"), task("a"), task("c", "ghost", tool="nope"), max_tasks=2
    )
    assert reasons == [
        "plan has 4 tasks; the limit is 2 (PLAN_MAX_TASKS)",
        "task key 'a' is used by more than one task",
        "task 'c' depends on unknown task 'ghost'",
        "task 'c' uses unknown tool 'nope'; known tools: echo, fetch",
        "tasks depend on each other in a cycle: a -> b -> a",
    ]


def test_the_error_message_joins_the_reasons():
    with pytest.raises(PlanInvalid, match="depends on itself; task 'b'"):
        validate_plan(PlanSpec(tasks=[task("a", "a"), task("b", tool="x")]), FakeCatalog(), max_tasks=5)


@pytest.mark.parametrize("key", ["", "A", "1a", "a-b", "a" * 65])
def test_task_keys_must_be_snake_case(key):
    with pytest.raises(ValidationError):
        TaskSpec(key=key, title="t", tool="echo")


def test_specs_reject_unknown_fields():
    with pytest.raises(ValidationError):
        TaskSpec.model_validate({"key": "a", "title": "t", "tool": "echo", "priority": 1})
    with pytest.raises(ValidationError):
        PlanSpec.model_validate({"tasks": [], "name": "x"})


def test_topological_order_keeps_plan_order_among_ready_tasks():
    plan = PlanSpec(tasks=[task("d", "c"), task("a"), task("c", "b"), task("b"), task("e", "a")])
    assert plan.topological_order() == ["a", "b", "c", "d", "e"]


def test_the_default_registry_accepts_the_demo_plan_and_rejects_bad_args():
    from planwright.core.planning.rules import RuleBasedPlanner
    from planwright.core.tools_builtin import default_registry

    registry = default_registry()
    demo = RuleBasedPlanner(registry).plan(
        "Generate an implementation checklist for adding a new tool, then write a tools.md draft file "
        "as an artifact, then summarize it."
    )
    validate_plan(demo, registry, max_tasks=3)
    bad = PlanSpec(tasks=[TaskSpec(key="x", title="X", tool="http_fetch", args={"max_bytes": 10})])
    with pytest.raises(PlanInvalid) as caught:
        validate_plan(bad, registry, max_tasks=20)
    assert caught.value.reasons == ["task 'x': args.url: field required"]


@st.composite
def acyclic_plans(draw):
    """Random DAGs: edges only from earlier to later tasks, listed in a random order."""
    n = draw(st.integers(min_value=1, max_value=15))
    keys = [f"t{i}" for i in range(n)]
    deps = [draw(st.lists(st.sampled_from(keys[:i]), unique=True)) if i else [] for i in range(n)]
    order = draw(st.permutations(range(n)))
    return PlanSpec(tasks=[task(keys[i], *deps[i]) for i in order])


@given(acyclic_plans())
def test_random_acyclic_plans_pass_and_order_respects_dependencies(plan):
    validate_plan(plan, FakeCatalog(), max_tasks=len(plan.tasks))
    order = plan.topological_order()
    assert sorted(order) == sorted(t.key for t in plan.tasks)
    position = {key: i for i, key in enumerate(order)}
    for t in plan.tasks:
        assert all(position[dep] < position[t.key] for dep in t.depends_on)


@given(acyclic_plans(), st.data())
def test_a_back_edge_makes_a_reported_cycle(plan, data):
    edges = [(t.key, dep) for t in plan.tasks for dep in t.depends_on]
    if not edges:
        plan = PlanSpec(tasks=[*plan.tasks, task("zz", plan.tasks[0].key)])
        edges = [("zz", plan.tasks[0].key)]
    child, parent = data.draw(st.sampled_from(edges))
    tasks = [
        t.model_copy(update={"depends_on": [*t.depends_on, child]}) if t.key == parent else t
        for t in plan.tasks
    ]
    cyclic = PlanSpec(tasks=tasks)

    with pytest.raises(PlanInvalid) as caught:
        validate_plan(cyclic, FakeCatalog(), max_tasks=len(tasks))
    assert all(r.startswith("tasks depend on each other in a cycle: ") for r in caught.value.reasons)
    graph = {t.key: set(t.depends_on) for t in tasks}
    cycles = find_cycles(cyclic)
    assert len(cycles) == len(caught.value.reasons) == 1
    cycle = cycles[0]
    assert cycle[0] == cycle[-1]
    assert {child, parent} <= set(cycle)
    assert all(b in graph[a] for a, b in pairwise(cycle))
