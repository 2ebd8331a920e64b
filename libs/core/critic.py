"""Critic rules: pure checks on a completed task's output. Approve, or rework with concrete reasons.

The checks: the output is valid against the tool's output schema; an artifact exists and its bytes
match its sha256 (the service reads the store and passes what it found); a checklist is a list of
several actionable items that cover the goal; other text is long enough to be an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

MIN_TEXT_CHARS = 20
MIN_CHECKLIST_ITEMS = 3
_ITEM = re.compile(r"^\s*(?:[-*+]\s+(?:\[[ xX]\]\s+)?|\d+[.)]\s+)(\S.*)$", re.MULTILINE)
_WORD = re.compile(r"[a-z][a-z0-9_]{3,}")
# Words of a goal that say what to do rather than what it is about.
_STOP = frozenset(
    {
        "then",
        "that",
        "this",
        "with",
        "from",
        "into",
        "over",
        "about",
        "write",
        "draft",
        "file",
        "artifact",
        "generate",
        "create",
        "make",
        "summarize",
        "summary",
        "implementation",
        "checklist",
        "list",
        "items",
    }
)


@dataclass(frozen=True)
class Verdict:
    verdict: Literal["approve", "rework"]
    reasons: list[str]


@dataclass(frozen=True)
class Submission:
    """What the critic looks at for one task attempt."""

    tool: str
    title: str
    goal: str
    args: dict[str, Any]
    output: dict[str, Any]
    output_model: type[BaseModel] | None = None
    artifact_found: bool | None = None  # None: the output names no artifact
    artifact_matches: bool | None = None


def review(s: Submission) -> Verdict:
    reasons = _schema_problems(s)
    if not reasons:
        reasons += _artifact_problems(s)
        reasons += _text_problems(s)
    return Verdict("rework" if reasons else "approve", reasons)


def _schema_problems(s: Submission) -> list[str]:
    if not s.output:
        return ["the output is missing"]
    if s.output_model is None:
        return []
    try:
        s.output_model.model_validate(s.output)
    except ValidationError as exc:
        found = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'output'}: {e['msg']}" for e in exc.errors())
        return [f"the output does not match the output schema of {s.tool}: {found}"]
    return []


def _artifact_problems(s: Submission) -> list[str]:
    name = s.output.get("name", "the artifact")
    if s.artifact_found is False:
        return [f"artifact {name} is missing from the artifact store"]
    if s.artifact_matches is False:
        return [f"the bytes of artifact {name} do not match its sha256 {s.output.get('sha256')}"]
    if s.output.get("size") == 0:
        return [f"artifact {name} is empty"]
    return []


def is_checklist_task(s: Submission) -> bool:
    asked = f"{s.title} {s.args.get('prompt', '')}".lower()
    return s.tool == "text_generate" and "checklist" in asked


def _text_problems(s: Submission) -> list[str]:
    text = s.output.get("text")
    if not isinstance(text, str):
        return []
    if is_checklist_task(s):
        return checklist_problems(text, s.goal)
    if len(text.strip()) < MIN_TEXT_CHARS:
        return [f"the text is too short to answer the task ({len(text.strip())} characters)"]
    return []


def checklist_problems(text: str, goal: str) -> list[str]:
    """A checklist needs several actionable items, and they must be about what the goal asks."""
    items = _ITEM.findall(text)
    if len(items) < MIN_CHECKLIST_ITEMS:
        return [
            f"the checklist has {len(items)} item(s); at least {MIN_CHECKLIST_ITEMS} actionable "
            "list items ('- [ ] ...') are expected"
        ]
    terms = {w for w in _WORD.findall(goal.lower()) if w not in _STOP}
    body = " ".join(items).lower()
    if terms and not any(term in body for term in terms):
        return [f"the checklist items do not mention what the goal is about ({', '.join(sorted(terms))})"]
    return []
