"""The pure parts of replanning: what a new plan version must keep, and how two versions differ."""

from __future__ import annotations

from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.replan import diff_plans, kept_problems, outputs_block


def t(key: str, tool: str = "text_generate", deps: tuple[str, ...] = (), **args: object) -> TaskSpec:
    return TaskSpec(key=key, title=key, tool=tool, args=dict(args), depends_on=list(deps))


def plan(*tasks: TaskSpec) -> PlanSpec:
    return PlanSpec(tasks=list(tasks))


def test_the_diff_names_added_removed_and_changed_tasks_with_their_changed_fields():
    before = plan(t("a"), t("b", deps=("a",), prompt="x"), t("c"))
    after = plan(t("a"), t("b", deps=("a",), prompt="y"), t("d", deps=("a",)))
    diff = diff_plans(before, after)
    assert diff.added == ["d"]
    assert diff.removed == ["c"]
    assert [(c.key, c.fields) for c in diff.changed] == [("b", {"args": ({"prompt": "x"}, {"prompt": "y"})})]
    assert diff.summary() == {"added": ["d"], "removed": ["c"], "changed": ["b"]}


def test_identical_versions_have_an_empty_diff():
    same = plan(t("a"), t("b", deps=("a",)))
    assert diff_plans(same, same).summary() == {"added": [], "removed": [], "changed": []}


def test_succeeded_tasks_must_be_kept_exactly_others_may_go():
    current = plan(t("a", prompt="x"), t("b", deps=("a",)), t("c"))
    assert kept_problems(current, {"a"}, plan(t("a", prompt="x"), t("z", deps=("a",)))) == []
    assert kept_problems(current, {"a", "c"}, plan(t("a", prompt="y"))) == [
        "task 'a' succeeded and must be kept exactly; the new plan changes its args",
        "task 'c' succeeded and must be kept; the new plan drops it",
    ]


def test_outputs_shown_to_the_model_are_bounded_each_and_in_all():
    big = {"text": "x" * 5000}
    shown = outputs_block({f"t{i}": big for i in range(10)})
    assert len(shown) < 13_000
    assert "more characters" in shown
    assert "(not shown" in shown
    assert outputs_block({}) == "(none)"
