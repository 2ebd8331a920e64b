import re
from pathlib import Path

from planwright.core.llm import MOCK_NOTICE, MOCK_RECIPES, LLMClient, LLMProvider, MockProvider, get_provider
from planwright.core.llm.mock import NOTICE_LINE
from planwright.core.settings import Settings
from planwright.core.text import extractive_summary, split_sentences

SEED_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file "
    "as an artifact, then summarize it."
)


async def complete(prompt):
    """The mock's answer after its first line, which must be the notice that it is placeholder text."""
    text = await LLMClient(MockProvider()).complete(prompt)
    first, blank, rest = text.split("\n", 2)
    assert (first, blank) == (NOTICE_LINE, "")
    return rest


def checklist_items(text):
    return re.findall(r"^- \[ \] (.+)$", text, re.MULTILINE)


def test_get_provider_returns_the_mock_provider_by_default():
    provider = get_provider(Settings(llm_provider="mock"))
    assert isinstance(provider, MockProvider)
    assert isinstance(provider, LLMProvider)
    assert (provider.name, provider.model) == ("mock", "mock")


async def test_seed_goal_yields_a_planwright_tool_checklist():
    text = await complete(SEED_GOAL)
    assert text.startswith("# ")
    items = checklist_items(text)
    assert 6 <= len(items) <= 10
    joined = "\n".join(items)
    for expected in (
        "libs/core/tool_registry.py",
        "docs/tools.md",
        "config/policy.yaml",
        "(task_id, attempt)",
    ):
        assert expected in joined


async def test_short_ask_takes_its_subject_from_the_job_goal():
    prompt = f"Create checklist\n\nJob goal: {SEED_GOAL}\nOutput format: markdown"
    text = await complete(prompt)
    assert text.splitlines()[0] == "# Implementation checklist: adding a new tool"
    assert len(checklist_items(text)) >= 6


async def test_same_prompt_gives_the_same_answer_across_instances():
    prompt = "Write a checklist for rotating the database credentials"
    assert await complete(prompt) == await complete(prompt)


async def test_other_checklists_are_about_their_own_subject():
    db = await complete("Write a checklist for migrating the database to Postgres")
    ui = await complete("Write a checklist for redesigning the job page")
    assert db != ui
    assert db.splitlines()[0] == "# Checklist: migrating the database to Postgres"
    assert "migrating the database to Postgres" in " ".join(checklist_items(db))
    assert "redesigning the job page" in " ".join(checklist_items(ui))
    assert "tool_registry.py" not in db


async def test_steps_are_numbered_and_read_as_an_activity():
    text = await complete("List the steps to deploy the API on Kubernetes")
    assert text.splitlines()[0] == "# Steps: deploying the API on Kubernetes"
    numbered = re.findall(r"^(\d+)\. ", text, re.MULTILINE)
    assert numbered == [str(n) for n in range(1, len(numbered) + 1)]
    assert len(numbered) >= 6


async def test_outline_is_a_numbered_heading_list():
    text = await complete("Outline the onboarding guide")
    assert text.splitlines()[0] == "# Outline: onboarding guide"
    assert "1. Why it matters" in text


async def test_plain_ask_gets_a_structured_draft_about_its_subject():
    text = await complete("Explain the retry policy for workers")
    assert text.splitlines()[0] == "# Retry policy for workers"
    assert "## Overview" in text
    assert "## Next steps" in text


async def test_tools_md_draft_reuses_the_checklist_it_was_given():
    prompt = (
        "Write a tools.md draft from the checklist\n\nJob goal: g\nOutput format: markdown\n\n"
        "Input from task 'checklist':\n# Checklist\n- [ ] Name the tool carefully\n- [ ] Test it"
    )
    text = await complete(prompt)
    assert text.startswith("# Tools\n")
    assert "1. Add ToolSpec and handler in libs/core/tool_registry.py." in text
    assert checklist_items(text) == ["Name the tool carefully", "Test it"]


async def test_summary_ask_summarizes_the_inputs():
    inputs = "Artifacts are stored by hash. Artifacts are verified by hash. Lunch is at noon."
    prompt = f"Summarize the input\n\nJob goal: g\n\nInput from task 'a':\n{inputs}"
    text = await complete(prompt)
    assert text == f"# Summary\n\n{extractive_summary(inputs)}\n"


async def test_reviewer_feedback_is_acknowledged():
    prompt = "Explain the retry policy\n\nReviewer feedback to address:\nMention   the backoff."
    text = await complete(prompt)
    assert text.rstrip().endswith("## Changes after review\n\n- Addressed: Mention the backoff.")


async def test_text_format_drops_markdown_markers():
    text = await complete(f"{SEED_GOAL}\n\nOutput format: text")
    assert not re.search(r"^#|^- \[", text, re.MULTILINE)
    assert text.startswith("Implementation checklist: adding a new tool\n")
    assert len(re.findall(r"^- ", text, re.MULTILINE)) >= 6


async def test_summarize_is_extractive_and_bounded():
    text = "Tools have schemas. Tools have timeouts. Cats sleep a lot. Tools can have side effects."
    summary = await LLMClient(MockProvider()).summarize(text, max_sentences=2)
    first, blank, summary = summary.split("\n", 2)
    assert (first, blank) == (NOTICE_LINE, "")
    assert summary == extractive_summary(text, 2)
    assert summary.startswith("Tools have schemas. ")
    assert "Cats" not in summary
    assert len(split_sentences(summary)) == 2


def test_the_notice_names_the_mock_and_the_way_to_real_output():
    assert NOTICE_LINE.lower().startswith("mock model: placeholder text")
    assert "LLM_PROVIDER=" in MOCK_NOTICE


async def test_mock_text_read_back_loses_its_notice():
    """A draft built on mock text, and a summary of it, carry one notice (their own), not the input's."""
    earlier = await LLMClient(MockProvider()).complete("Write a checklist for the release")
    draft = await LLMClient(MockProvider()).complete(f"Write a draft\n\nInput from task 'a':\n{earlier}")
    summary = await LLMClient(MockProvider()).summarize(earlier, max_sentences=5)
    for text in (draft, summary):
        assert text.count(NOTICE_LINE) == 1
        assert text.startswith(NOTICE_LINE)


async def test_a_checklist_asked_for_in_german_french_or_spanish_is_a_checklist():
    """The rule planner titles these "Create checklist"; the critic wants list items for that."""
    for ask in (
        "Erstelle eine Checkliste für ein erstes Projekt",
        "Crée une liste de contrôle pour un premier projet",
        "Crea una lista de verificación para un primer proyecto",
    ):
        text = await complete(ask)
        assert text.startswith("# Checklist: "), ask
        assert len(checklist_items(text)) >= 3, ask


def test_the_web_ui_says_what_the_api_says_about_the_mock():
    """The static UI keeps its own copy of the notice and the recipes (for outputs the mock wrote while
    /healthz now names another model): it must not drift from libs/core/llm/notice.py."""
    ui = (Path(__file__).parents[3] / "ui" / "src" / "lib" / "mock.ts").read_text()
    assert f'"{MOCK_NOTICE}"' in ui
    for name, command in MOCK_RECIPES.items():
        assert f'name: "{name}", command: "{command}"' in " ".join(ui.split()), name


def test_a_prompts_line_fields_and_notices_are_read_as_the_patterns_read_them():
    """``_line_field`` and ``without_notice`` skip their patterns where they cannot match; what
    they answer is still the patterns' answer."""
    from planwright.core.llm.mock import _NOTICE, _line_field, without_notice

    prompts = [
        "Job goal: ship it",
        "Write a note\n\nJob goal:   ship it  \nOutput format: text",
        "Write a note\n\nJob goal:\nOutput format: markdown\n",
        "Job goal: first\nJob goal: second",
        "a Job goal: not at a line's start\nOutput format:\ttext\t",
        "Job goal: with a\r carriage return\nnext",
        "no fields at all",
        "",
        f"{NOTICE_LINE}\n\nText\n  {NOTICE_LINE}  \n\n\nmore",
        "Job goal: a goal" + "; then a step" * 200,
    ]
    for prompt in prompts:
        for label in ("Job goal", "Output format"):
            match = re.search(rf"^{re.escape(label)}:[ \t]*(.*)$", prompt, re.M)
            assert _line_field(prompt, label) == (match.group(1).strip() if match else ""), (prompt, label)
        assert without_notice(prompt) == _NOTICE.sub("", prompt), prompt
