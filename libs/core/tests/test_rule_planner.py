from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwright.core.artifacts import MEDIA_TYPES
from planwright.core.errors import PlanInvalid
from planwright.core.planning.rules import NO_RULE_TITLE, RuleBasedPlanner, split_steps

DEMO_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)


class FakeCatalog:
    """The five default tools, with the registry's required arguments."""

    required = {
        "text_generate": {"prompt"},
        "file_write_artifact": {"name"},
        "text_summarize": {"max_sentences"},
        "http_fetch": {"url"},
        "ask_human": {"question"},
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
    assert_planned_in_order_or_refused(goal)


def assert_planned_in_order_or_refused(goal):
    """The goal's plan lists every task after the tasks it depends on, or the planner refuses it."""
    try:
        tasks = plan(goal, max_tasks=50)
    except PlanInvalid:
        return
    seen: set[str] = set()
    for task in tasks:
        assert set(task.depends_on) <= seen
        seen.add(task.key)


# Issue 14: the order and the data the user wrote.

FASTAPI_GOAL = (
    "List the main features of FastAPI, then write a short intro paragraph about it, then create a "
    "checklist for a first project, then save the intro as intro.md, then summarize the intro, then "
    "write a tweet announcing the project"
)


def test_then_keeps_the_order_and_the_intro_is_what_is_saved_and_summarized():
    tasks = plan(FASTAPI_GOAL)
    assert shape(tasks) == [
        ("create_feature_list", "text_generate", []),
        ("create_intro", "text_generate", ["create_feature_list"]),
        ("create_checklist", "text_generate", ["create_intro"]),
        ("write_artifact", "file_write_artifact", ["create_intro", "create_checklist"]),
        ("summarize_intro", "text_summarize", ["create_intro", "write_artifact"]),
        ("create_tweet", "text_generate", ["summarize_intro"]),
    ]
    intro = {"$from": "create_intro.output.text"}
    assert tasks[3].args == {"name": "intro.md", "content": intro}
    assert tasks[4].args == {"max_sentences": 3, "text": intro}
    assert [t.title for t in tasks] == [
        "Create feature list",
        "Create intro",
        "Create checklist",
        "Write artifact",
        "Summarize intro",
        "Create tweet",
    ]


def test_summarize_the_following_text_is_one_summary_and_no_file():
    text = "Redis keeps data in memory. You can save it to a file; then write it back. It is fast."
    (task,) = plan(f"Summarize the following text in two sentences: {text}")
    assert (task.key, task.tool, task.depends_on) == ("summarize_text", "text_summarize", [])
    assert task.args == {"max_sentences": 2, "text": text}


def test_a_given_text_in_a_list_item_ends_with_the_item():
    summary, write = plan(
        "1. Summarize this text: Redis is fast.\n   It is in memory.\n2. Save it as notes.md"
    )
    assert summary.args["text"] == "Redis is fast.\n   It is in memory."
    assert (write.tool, write.depends_on, write.args) == (
        "file_write_artifact",
        [summary.key],
        {"name": "notes.md"},
    )


def test_save_it_as_a_python_file():
    tasks = plan("Write a function that reverses a string in Python and save it as reverse.py")
    assert shape(tasks) == [
        ("generate_text", "text_generate", []),
        ("write_artifact", "file_write_artifact", ["generate_text"]),
    ]
    assert tasks[1].args == {"name": "reverse.py"}


def test_writing_text_without_a_file_makes_no_artifact():
    (task,) = plan("Write a short intro paragraph about FastAPI")
    assert (task.key, task.tool) == ("create_intro", "text_generate")


@pytest.mark.parametrize("extension", sorted(MEDIA_TYPES))
def test_a_file_name_with_any_known_extension_is_written(extension):
    _, write = plan(f"Write a small example and save it as example{extension}")
    assert write.args == {"name": f"example{extension}"}


def test_a_product_name_is_not_a_file():
    (task,) = plan("Write a tutorial about Node.js and Vue.js")
    assert (task.key, task.tool) == ("create_tutorial", "text_generate")


def test_a_step_after_then_waits_for_the_step_before():
    first, second = plan("Write a haiku about cats, then write a haiku about dogs")
    assert second.depends_on == [first.key]


def test_sentences_that_start_with_a_verb_are_steps_in_order():
    tasks = plan("Write a haiku about Redis. Summarize it. Save it as haiku.md.")
    assert shape(tasks) == [
        ("generate_text", "text_generate", []),
        ("summarize_text", "text_summarize", ["generate_text"]),
        ("write_artifact", "file_write_artifact", ["summarize_text"]),
    ]


def test_a_sentence_that_does_not_start_with_a_verb_stays_in_its_step():
    (task,) = plan("What is the capital of France? Answer in one sentence.")
    assert task.description == "What is the capital of France? Answer in one sentence"


def test_a_step_fetching_its_own_url_after_then_starts_fresh():
    tasks = plan("Write a poem, then fetch https://example.com/ and summarize it")
    assert shape(tasks) == [
        ("create_poem", "text_generate", []),
        ("fetch_example_com", "http_fetch", []),
        ("summarize_page", "text_summarize", ["fetch_example_com"]),
    ]


def test_list_items_wait_only_for_what_they_read():
    tasks = plan(
        "- Write an intro to Redis\n- Write a checklist for Redis\n- Summarize the intro\n"
        "- Save the checklist as checklist.md"
    )
    assert shape(tasks) == [
        ("create_intro", "text_generate", []),
        ("create_checklist", "text_generate", []),
        ("summarize_intro", "text_summarize", ["create_intro"]),
        ("write_artifact", "file_write_artifact", ["create_checklist"]),
    ]


def test_a_step_that_writes_and_saves_saves_its_own_text():
    tasks = plan(
        "Write an intro about Redis, then write a poem and save it as poem.md, "
        "then save the intro as intro.md"
    )
    assert shape(tasks) == [
        ("create_intro", "text_generate", []),
        ("create_poem", "text_generate", ["create_intro"]),
        ("write_artifact", "file_write_artifact", ["create_poem"]),
        ("write_artifact_2", "file_write_artifact", ["create_intro", "write_artifact"]),
    ]
    assert tasks[3].args == {"name": "intro.md", "content": {"$from": "create_intro.output.text"}}


def test_a_file_named_again_is_read():
    tasks = plan("Write an intro and save it as intro.md, then write a poem, then summarize intro.md")
    assert shape(tasks)[-1] == ("summarize_artifact", "text_summarize", ["write_artifact", "create_poem"])


def test_reading_several_results_gives_up_only_the_order():
    *_, write = plan(
        "Write an intro; write a checklist; write a tweet; then save the intro and the checklist to both.md"
    )
    # file_write_artifact writes every dependency's text: waiting for the tweet would write it too.
    assert write.depends_on == ["create_intro", "create_checklist"]


@pytest.mark.parametrize("goal", ["What is the capital of France?", "Just one thing", "Hello there"])
def test_a_goal_no_rule_understands_says_so(goal):
    (task,) = plan(goal)
    assert (task.key, task.title, task.tool) == ("generate_text", NO_RULE_TITLE, "text_generate")
    assert task.args == {"prompt": goal.rstrip(".")}


@pytest.mark.parametrize("goal", ["Write a haiku about Redis", "Explain how Raft elects a leader"])
def test_an_ordinary_ask_is_one_generate_task(goal):
    (task,) = plan(goal)
    assert (task.key, task.title, task.tool) == ("generate_text", "Generate text", "text_generate")


def test_no_rule_matched_is_only_for_one_step_goals():
    tasks = plan("Hello; good bye")
    assert [t.title for t in tasks] == ["Generate text", "Generate text"]
