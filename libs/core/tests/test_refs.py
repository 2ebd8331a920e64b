"""``$from`` references: found, resolved, and checked in plans before anything runs."""

from __future__ import annotations

from typing import Any

import pytest

from planwright.core.errors import PlanInvalid
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.validation import validate_plan
from planwright.core.refs import RefMissing, find_refs, resolve, schema_has_path
from planwright.core.tools_builtin import default_registry

OUTPUTS: dict[str, Any] = {
    "fetch": {"url": "https://x", "text": "page", "items": [{"title": "first"}, {"title": "second"}]},
    "count": {"result": 3},
}


def test_references_anywhere_in_the_args_are_replaced():
    args = {
        "text": {"$from": "fetch.output.text"},
        "deep": {"list": [1, {"$from": "fetch.output.items.1.title"}]},
        "all": {"$from": "count.output"},
        "plain": "kept",
    }
    assert resolve(args, OUTPUTS) == {
        "text": "page",
        "deep": {"list": [1, "second"]},
        "all": {"result": 3},
        "plain": "kept",
    }


def test_args_without_references_come_back_as_they_are():
    args = {"prompt": "hi", "n": [1, 2]}
    assert resolve(args, OUTPUTS) is args


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("fetch.output.body", "args.x: fetch.output has no 'body' (its fields: items, text, url)"),
        ("fetch.output.items.5", "args.x: fetch.output.items has no '5' (a list of 2)"),
        ("fetch.output.text.size", "args.x: fetch.output.text has no 'size' (it is a str)"),
        ("other.output", "args.x: task 'other' is not a dependency of this task"),
    ],
)
def test_a_value_that_is_not_there_says_what_is(ref, message):
    with pytest.raises(RefMissing) as caught:
        resolve({"x": {"$from": ref}}, OUTPUTS)
    assert str(caught.value) == message


def test_malformed_references_are_reported_where_they_are():
    refs, problems = find_refs(
        {"a": {"$from": "fetch.text"}, "b": [{"$from": 3}], "c": {"$from": "x.output", "more": 1}}
    )
    assert refs == []
    assert problems == [
        "args.a: 'fetch.text' is not a reference; write <task key>.output or "
        "<task key>.output.<field>[.<field or index>...]",
        'args.b.0: a reference is {"$from": "<task>.output.<field>"} alone',
        'args.c: a reference is {"$from": "<task>.output.<field>"} alone',
    ]


def test_output_schemas_say_which_paths_can_exist():
    schema = default_registry().get("http_fetch").output_schema
    assert schema_has_path(schema, ("text",)) is None
    assert schema_has_path(schema, ("txt",)) == (
        "output has no field 'txt' (its fields: bytes, content_type, status_code, text, truncated, url)"
    )
    assert schema_has_path({"type": "object"}, ("anything", "deep")) is None  # an open output
    assert schema_has_path({"type": "object", "additionalProperties": True, "properties": {}}, ("x",)) is None


def plan(*tasks: TaskSpec) -> PlanSpec:
    return PlanSpec(tasks=list(tasks))


FETCH = TaskSpec(key="fetch", title="Fetch", tool="http_fetch", args={"url": "https://example.com"})


def test_a_plan_with_good_references_is_valid_though_the_args_schema_wants_a_string():
    summarize = TaskSpec(
        key="sum",
        title="Sum",
        tool="text_summarize",
        args={"text": {"$from": "fetch.output.text"}},
        depends_on=["fetch"],
    )
    validate_plan(plan(FETCH, summarize), default_registry(), max_tasks=5)


def test_bad_references_are_refused_before_anything_runs_naming_task_and_field():
    not_a_dependency = TaskSpec(
        key="a", title="A", tool="text_summarize", args={"text": {"$from": "fetch.output.text"}}
    )
    no_such_field = TaskSpec(
        key="b",
        title="B",
        tool="text_summarize",
        args={"text": {"$from": "fetch.output.body"}, "max_sentences": "many"},
        depends_on=["fetch"],
    )
    with pytest.raises(PlanInvalid) as caught:
        validate_plan(plan(FETCH, not_a_dependency, no_such_field), default_registry(), max_tasks=5)
    assert caught.value.reasons == [
        "task 'a': args.text: $from 'fetch.output.text' refers to task 'fetch', "
        "which is not in its depends_on",
        "task 'b': args.text: $from 'fetch.output.body': output has no field 'body' "
        "(its fields: bytes, content_type, status_code, text, truncated, url)",
        "task 'b': args.max_sentences: input should be a valid integer, unable to parse string as an integer",
    ]
