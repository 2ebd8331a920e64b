from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwright.core.errors import PlanInvalid
from planwright.core.planning.rules import RuleBasedPlanner, split_steps

DEMO_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)


class FakeCatalog:
    """The four default tools, with the registry's required arguments."""

    required = {
        "text_generate": {"prompt"},
        "file_write_artifact": {"name"},
        "text_summarize": {"max_sentences"},
        "http_fetch": {"url"},
    }

    def __contains__(self, name: object) -> bool:
        return name in self.required

    def output_schema(self, name: str) -> dict[str, Any]:
        return {}

    def names(self) -> list[str]:
        return list(self.required)

    def validate_args(self, name: str, args: dict[str, Any]) -> list[str]:
        return [f"args.{field}: field required" for field in sorted(self.required[name] - args.keys())]


def plan(goal, max_tasks=20):
    return RuleBasedPlanner(FakeCatalog(), max_tasks=max_tasks).plan(goal).tasks


def shape(tasks):
    return [(t.key, t.tool, t.depends_on) for t in tasks]


def test_the_demo_goal():
    checklist, write, summarize = plan(DEMO_GOAL)

    assert checklist.key == "create_checklist"
    assert checklist.title == "Create checklist"
    assert checklist.tool == "text_generate"
    assert checklist.critic_required is True
    assert checklist.depends_on == []
    assert "implementation checklist for adding a new tool" in checklist.args["prompt"]

    assert write.key == "write_artifact"
    assert write.title == "Write artifact"
    assert write.tool == "file_write_artifact"
    assert write.args == {"name": "tools.md"}
    assert write.critic_required is True
    assert write.depends_on == ["create_checklist"]

    assert summarize.key == "summarize_artifact"
    assert summarize.title == "Summarize artifact"
    assert summarize.tool == "text_summarize"
    assert summarize.critic_required is False
    assert summarize.depends_on == ["write_artifact"]
    assert summarize.description == "Summarize it"


def test_fetch_then_summarize():
    fetch, summarize = plan("Fetch https://example.com/ then summarize it.")
    assert (fetch.key, fetch.title, fetch.tool, fetch.args) == (
        "fetch_example_com",
        "Fetch example.com",
        "http_fetch",
        {"url": "https://example.com/"},
    )
    assert fetch.critic_required is False
    assert (summarize.title, summarize.tool, summarize.depends_on) == (
        "Summarize page",
        "text_summarize",
        ["fetch_example_com"],
    )


def test_a_url_containing_then_and_semicolons_is_not_split():
    fetch, summarize = plan("Download https://example.com/then/a;b?x=1, and then give me a tl;dr of it.")
    assert fetch.args == {"url": "https://example.com/then/a;b?x=1"}
    assert (summarize.tool, summarize.depends_on) == ("text_summarize", [fetch.key])


def test_a_numbered_list_with_an_introduction():
    goal = (
        "Please do the following:\n1. Draft an email to the team\n2) Write a report on sales\n"
        "3. Combine them into a proposal"
    )
    email, report, proposal = plan(goal)
    assert [t.title for t in (email, report, proposal)] == [
        "Create email",
        "Create report",
        "Create proposal",
    ]
    assert email.depends_on == report.depends_on == []
    assert proposal.depends_on == ["create_email", "create_report"]


def test_a_bulleted_list_of_parallel_steps_and_a_comparison():
    tasks = plan("- Write a haiku about cats\n* write a haiku about dogs\n• compare both")
    assert shape(tasks) == [
        ("generate_text", "text_generate", []),
        ("generate_text_2", "text_generate", []),
        ("generate_text_3", "text_generate", ["generate_text", "generate_text_2"]),
    ]
    assert [t.description for t in tasks] == [
        "Write a haiku about cats",
        "Write a haiku about dogs",
        "Compare both",
    ]


def test_semicolons_with_independent_steps_run_in_parallel():
    tasks = plan("Write a haiku about cats; write a haiku about dogs")
    assert shape(tasks) == [("generate_text", "text_generate", []), ("generate_text_2", "text_generate", [])]
    assert all(t.critic_required for t in tasks)


def test_a_combine_step_takes_only_results_nothing_else_used():
    tasks = plan("Fetch https://a.example/; fetch https://b.example/; summarize it; then compare all of them")
    assert shape(tasks) == [
        ("fetch_a_example", "http_fetch", []),
        ("fetch_b_example", "http_fetch", []),
        ("summarize_page", "text_summarize", ["fetch_b_example"]),
        ("generate_text", "text_generate", ["fetch_a_example", "summarize_page"]),
    ]


def test_a_single_step():
    (task,) = plan("Outline a plan for migrating the billing service to Postgres")
    assert (task.key, task.tool, task.depends_on) == ("create_plan", "text_generate", [])
    assert task.args == {"prompt": "Outline a plan for migrating the billing service to Postgres"}


def test_inline_numbered_steps_and_an_unnamed_artifact():
    tasks = plan("1. Make a packing list 2. make an itinerary 3. save them to a file")
    assert shape(tasks) == [
        ("create_list", "text_generate", []),
        ("create_itinerary", "text_generate", []),
        ("write_artifact", "file_write_artifact", ["create_itinerary"]),
    ]
    assert tasks[2].args == {"name": "artifact.md"}


def test_one_step_asking_for_several_things_becomes_a_chain():
    tasks = plan("Summarize https://example.com/news in two sentences and save the summary to notes.md")
    assert shape(tasks) == [
        ("fetch_example_com", "http_fetch", []),
        ("summarize_page", "text_summarize", ["fetch_example_com"]),
        ("write_artifact", "file_write_artifact", ["summarize_page"]),
    ]
    assert tasks[1].args == {"max_sentences": 2}
    assert tasks[2].args == {"name": "notes.md"}


def test_writing_a_file_first_generates_its_content():
    tasks = plan("Write a tools.md draft file")
    assert shape(tasks) == [
        ("create_draft", "text_generate", []),
        ("write_artifact", "file_write_artifact", ["create_draft"]),
    ]


def test_quoted_content_is_written_as_is():
    write, summarize = plan('Write "hello; world, then bye" to hello.txt, then summarize it')
    assert write.args == {"name": "hello.txt", "content": "hello; world, then bye"}
    assert write.depends_on == []
    assert summarize.title == "Summarize artifact"


def test_a_summary_with_nothing_before_it_is_written_from_scratch():
    (task,) = plan("Write a summary of the French revolution")
    assert (task.title, task.tool) == ("Create summary", "text_generate")


def test_too_many_steps_are_rejected_with_the_limit():
    with pytest.raises(PlanInvalid) as caught:
        plan("; ".join(f"write a poem about the number {i}" for i in range(5)), max_tasks=3)
    assert caught.value.reasons == ["plan has 5 tasks; the limit is 3 (PLAN_MAX_TASKS)"]


def test_an_empty_goal_is_rejected():
    with pytest.raises(PlanInvalid, match="no tasks"):
        plan("  \n ; then ")


def test_a_tool_missing_from_the_catalog_is_rejected():
    catalog = FakeCatalog()
    catalog.required = {k: v for k, v in FakeCatalog.required.items() if k != "http_fetch"}
    with pytest.raises(PlanInvalid, match="uses unknown tool 'http_fetch'"):
        RuleBasedPlanner(catalog).plan("Fetch https://example.com/")


@pytest.mark.parametrize(
    ("goal", "steps"),
    [
        ("Just one thing.", ["Just one thing"]),
        ("a, then b and then c then d", ["A", "B", "C", "D"]),
        ("a; and b;; finally, c", ["A", "B", "C"]),
        ("Authenticate, then strengthen athens", ["Authenticate", "Strengthen athens"]),
        ("1. one\n2. two\n   still two\n\n3) three", ["One", "Two still two", "Three"]),
        ("Steps:\n- a\n* b\n• c", ["A", "B", "C"]),
        ("Do this: 1. a 2. b", ["A", "B"]),
        ("Version 2. then ship it", ["Version 2", "Ship it"]),
        ("Read https://x.io/a;b then https://x.io/then.", ["Read https://x.io/a;b", "https://x.io/then"]),
        ("Fetch (https://x.io/a_(b)) then stop", ["Fetch (https://x.io/a_(b))", "Stop"]),
        ("", []),
    ],
)
def test_split_steps(goal, steps):
    assert split_steps(goal) == steps


TOKENS = [*'ab12.-*;:,\n "', "then", "and ", "write ", "summarize ", "file", "it", "both ", "https://x.io/"]


@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_any_goal_yields_a_valid_plan_or_a_plan_invalid(goal):
    try:
        tasks = plan(goal, max_tasks=50)
    except PlanInvalid:
        return
    seen: set[str] = set()
    for task in tasks:
        assert set(task.depends_on) <= seen
        seen.add(task.key)
