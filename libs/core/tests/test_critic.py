"""Critic rules: every check says what is wrong, concretely."""

from __future__ import annotations

import uuid

import pytest

from planwright.core.critic import Submission, checklist_problems, review
from planwright.core.llm import LLMClient, MockProvider
from planwright.core.llm.demo_faults import faulty, leave_out_items
from planwright.core.tools_builtin import default_registry

GOAL = "Generate an implementation checklist for adding a new tool, then write a tools.md draft file."
REGISTRY = default_registry()


def submission(tool="text_generate", title="Create checklist", output=None, **kw):
    spec = REGISTRY.get(tool)
    return Submission(
        tool=tool,
        title=title,
        goal=GOAL,
        args=kw.pop("args", {"prompt": "Generate an implementation checklist for adding a new tool"}),
        output=output if output is not None else {},
        output_model=spec.output_model,
        **kw,
    )


async def test_the_mock_models_demo_checklist_is_approved():
    text = await LLMClient(MockProvider()).complete(
        "Generate an implementation checklist for adding a new tool"
    )
    verdict = review(submission(output={"text": text}))
    assert (verdict.verdict, verdict.reasons) == ("approve", [])


@pytest.mark.parametrize(
    ("output", "fragment"),
    [
        ({}, "the output is missing"),
        ({"words": "x"}, "does not match the output schema of text_generate: text: Field required"),
        ({"text": "# Checklist\n\nSome prose."}, "the checklist has 0 item(s); at least 3"),
        ({"text": "- [ ] one\n- [ ] two"}, "the checklist has 2 item(s)"),
        (
            {"text": "- [ ] bake bread\n- [ ] buy flour\n- [ ] heat oven"},
            "do not mention what the goal is about",
        ),
    ],
)
def test_a_checklist_is_sent_back_with_the_reason(output, fragment):
    verdict = review(submission(output=output))
    assert verdict.verdict == "rework"
    assert any(fragment in reason for reason in verdict.reasons), verdict.reasons


def test_other_text_must_be_long_enough():
    short = review(submission(title="Generate text", args={"prompt": "Write a note"}, output={"text": "ok"}))
    assert short.reasons == ["the text is too short to answer the task (2 characters)"]


ARTIFACT = {"name": "tools.md", "sha256": "a" * 64, "size": 12, "media_type": "text/markdown"}


@pytest.mark.parametrize(
    ("found", "matches", "output", "fragment"),
    [
        (False, False, ARTIFACT, "artifact tools.md is missing from the artifact store"),
        (True, False, ARTIFACT, "do not match its sha256"),
        (True, True, {**ARTIFACT, "size": 0}, "artifact tools.md is empty"),
    ],
)
def test_an_artifact_must_exist_match_its_hash_and_hold_something(found, matches, output, fragment):
    verdict = review(
        submission(
            tool="file_write_artifact",
            title="Write artifact",
            args={"name": "tools.md"},
            output=output,
            artifact_found=found,
            artifact_matches=matches,
        )
    )
    assert verdict.verdict == "rework"
    assert any(fragment in r for r in verdict.reasons), verdict.reasons


def test_a_good_artifact_is_approved():
    s = submission(
        tool="file_write_artifact",
        title="Write artifact",
        args={},
        output=ARTIFACT,
        artifact_found=True,
        artifact_matches=True,
    )
    assert review(s).verdict == "approve"


def test_checklist_items_may_be_numbered():
    assert checklist_problems("1. add the tool\n2. test the tool\n3) document the tool", GOAL) == []


def test_demo_faults_are_deterministic_per_job_and_first_attempts_only():
    job = uuid.uuid4()
    assert faulty(job, 1, 1.0)
    assert not faulty(job, 2, 1.0)
    assert not faulty(job, 1, 0.0)
    assert all(faulty(job, 1, 0.5) == faulty(job, 1, 0.5) for _ in range(3))
    share = sum(faulty(uuid.UUID(int=i), 1, 0.3) for i in range(2000)) / 2000
    assert 0.25 < share < 0.35


def test_leaving_items_out_keeps_the_heading_only():
    text = "# Checklist\n\n- [ ] a\n- [ ] b\n1. c\nClosing words.\n"
    assert leave_out_items(text) == "# Checklist\n\nClosing words.\n"
