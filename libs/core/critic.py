"""Critic rules: pure checks on a completed task's output. Approve, or rework with concrete reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

MIN_TEXT_CHARS = 20


@dataclass(frozen=True)
class Verdict:
    verdict: Literal["approve", "rework"]
    reasons: list[str]


def review(tool: str, output: dict[str, Any]) -> Verdict:
    reasons: list[str] = []
    if not output:
        reasons.append("output is missing")
    text = output.get("text")
    if isinstance(text, str) and len(text.strip()) < MIN_TEXT_CHARS:
        reasons.append(
            f"text output is too short ({len(text.strip())} chars; at least {MIN_TEXT_CHARS} expected)"
        )
    if tool == "file_write_artifact" and not output.get("sha256"):
        reasons.append("no artifact was written")
    if tool == "file_write_artifact" and output.get("size") == 0:
        reasons.append("the artifact is empty")
    return Verdict("rework" if reasons else "approve", reasons)
