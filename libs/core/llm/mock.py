"""A deterministic stand-in for a language model: templates and keyword rules, no network, no randomness.

It reads prompts laid out the way ``text_generate`` writes them: the ask in the first paragraph, then
optional ``Job goal:``, ``Output format:``, ``Input from task '<key>':`` and ``Reviewer feedback to
address:`` sections. Any other prompt is treated as one ask.

Every text it writes (answers and summaries) opens with ``NOTICE_LINE``, so nobody takes a template
for a model's answer; the line is left out again where mock text is read back (a summary of a mock
draft, a draft built on one).
"""

from __future__ import annotations

import json
import re

from planwright.core.llm.base import ChatRequest, ChatResult, TextSink, estimate_tokens
from planwright.core.llm.notice import MOCK_NOTICE
from planwright.core.text import extractive_summary

# Shape of the answer, decided by whichever keyword appears first in the ask.
# English first; the German, French and Spanish words the rule planner understands follow.
_SHAPES = {
    shape: re.compile(rx, re.IGNORECASE)
    for shape, rx in {
        "checklist": r"check-?list|to-?do list|liste de contr[ôo]le|lista de (?:verificaci[óo]n|control)",
        "steps": r"steps|step-by-step|how to|procedure|instructions|schritte|[ée]tapes|pasos",
        "outline": r"outline|table of contents|gliederung|plan d[ée]taill[ée]|esquema",
        "summary": r"summari[sz]e|summary|tl;?dr|zusammenfass\w*|r[ée]sum\w*|resum\w*",
        "draft": r"\bdraft\b|write-?up|entwurf|brouillon|borrador",
    }.items()
}
_ABOUT = re.compile(
    r"\b(?:check-?list|steps|outline|summary|draft|guide|overview|notes|doc(?:ument(?:ation)?)?|list)"
    r"\s+(?P<prep>for|about|on|of|to|covering)\s+(?P<subject>.+)",
    re.IGNORECASE,
)
_LEADING_ASK = re.compile(
    r"^(?:please\s+)?(?:create|write|generate|make|draft|produce|give|list|explain|describe|outline|"
    r"summari[sz]e|prepare|document)\s+(?:me\s+)?(?:(?:an?|the|some)\s+)?",
    re.IGNORECASE,
)
_SHAPE_NOUNS = re.compile(r"\b(?:implementation\s+)?(?:check-?list|steps|outline|draft|summary)\b", re.I)
_CLAUSE_END = re.compile(r"[,;:\n]|\.(?:\s|$)|\s+(?:and\s+)?then\s", re.IGNORECASE)
NOTICE_LINE = MOCK_NOTICE[:1].upper() + MOCK_NOTICE[1:] + "."
_NOTICE = re.compile(rf"^[ \t]*{re.escape(NOTICE_LINE)}[ \t]*\n*", re.MULTILINE)
_TOOL_TOPIC = re.compile(r"\btools?\b|\btool_registry\b|\bToolSpec\b", re.IGNORECASE)

TOOL_CHECKLIST = [
    "Define the `ToolSpec` in `libs/core/tool_registry.py`: a snake_case name, a one-line description, "
    "pydantic args and output models (their JSON schemas are what planners and `GET /tools` see), "
    "`side_effects` and `timeout_s`",
    "Make the args model strict (`extra='forbid'`, size bounds) so a bad plan fails validation "
    "before anything runs",
    "Implement the async handler: use the validated args and `call.inputs` (dependency outputs), "
    "`await call.progress(...)` at meaningful points, and return the output model",
    "If the tool has side effects, make it idempotent per `(task_id, attempt)` (e.g. content-addressed "
    "artifacts) so a redelivered task does no harm",
    "Raise `RetryableToolError` for transient failures (timeouts, network, 5xx) and `ToolError` "
    "for permanent ones",
    "Register the spec in `default_registry()` and check it is listed by `GET /tools`",
    "Add tests in `libs/core/tests` or `services/worker/tests` that go through `registry.run`: valid "
    "args, invalid args, timeout and error paths",
    "Allow the tool per environment in `config/policy.yaml` (allowlist and limits for dev and prod)",
    "Document it in `docs/tools.md`: purpose, args, output, side effects, timeout and an example",
    "Try it with a job: `POST /jobs` with a goal that needs the tool, then watch its task events stream",
]

SEED_ADD_TOOL_STEPS = [
    "Add ToolSpec and handler in libs/core/tool_registry.py.",
    "Add tests in services/worker/tests or libs/core/tests.",
    "Update docs/tools.md with the new tool.",
]


def without_notice(text: str) -> str:
    """``text`` without the mock's notice lines (text the mock wrote earlier, read back as input)."""
    # The pattern tries every line of a long prompt (a goal is repeated in each task's): not run
    # where it cannot match.
    return _NOTICE.sub("", text) if NOTICE_LINE in text else text


def respond(prompt: str) -> str:
    """The mock model's markdown answer to ``prompt``; same prompt, same answer (after its notice)."""
    return f"{NOTICE_LINE}\n\n{_answer(without_notice(prompt))}"


def _answer(prompt: str) -> str:
    ask = prompt.strip().split("\n\n", 1)[0].strip()
    goal = _line_field(prompt, "Job goal")
    shape = _shape(ask)
    subject = _subject(ask) or _subject(goal) or "the task"
    if shape == "draft" and "tools.md" in ask.lower():
        answer = _tools_md_draft(_inputs(prompt))
    elif shape in ("checklist", "steps"):
        items = TOOL_CHECKLIST if _TOOL_TOPIC.search(subject) else _generic_items(subject)
        answer = _list_answer(shape, subject, items)
    elif shape == "outline":
        answer = _outline(subject)
    elif shape == "summary":
        answer = "# Summary\n\n" + (extractive_summary(_inputs(prompt) or ask) or "Nothing to summarize.")
    else:
        answer = _draft(subject, goal, _inputs(prompt))
    feedback = _section(prompt, "Reviewer feedback to address:")
    if feedback:
        answer += f"\n\n## Changes after review\n\n- Addressed: {' '.join(feedback.split())}"
    if _line_field(prompt, "Output format").lower() == "text":
        answer = _plain(answer)
    return answer + "\n"


def _shape(ask: str) -> str:
    found = [(m.start(), shape) for shape, rx in _SHAPES.items() if (m := rx.search(ask))]
    return min(found)[1] if found else "draft"


def _subject(text: str) -> str:
    """What ``text`` is about: the words after "checklist for", else the ask without its verb."""
    match = _ABOUT.search(text)
    candidate = match.group("subject") if match else _SHAPE_NOUNS.sub("", _LEADING_ASK.sub("", text))
    candidate = " ".join(_CLAUSE_END.split(candidate, maxsplit=1)[0].split()[:12]).strip(" .!?")
    how_to = re.match(r"how to\s+", candidate, re.I)
    if how_to or (match and match.group("prep").lower() == "to"):
        return _activity(candidate[how_to.end() if how_to else 0 :])
    return candidate


def _activity(phrase: str) -> str:
    """ "deploy the API" -> "deploying the API", so the subject reads well inside a sentence."""
    first, _, rest = phrase.partition(" ")
    if not first or first.lower().endswith("ing"):
        return phrase
    if first.endswith("e") and not first.endswith("ee"):
        first = first[:-1]
    elif re.fullmatch(r"[^aeiou]*[aeiou][bdgmnprt]", first.lower()):  # one syllable: set, plan, stop
        first += first[-1]
    return f"{first}ing {rest}".strip()


def _title(text: str) -> str:
    return text[:1].upper() + text[1:]


def _list_answer(shape: str, subject: str, items: list[str]) -> str:
    if shape == "checklist":
        heading = "Implementation checklist" if items is TOOL_CHECKLIST else "Checklist"
        lines = [f"- [ ] {item}" for item in items]
    else:
        heading = "Steps"
        lines = [f"{n}. {item}" for n, item in enumerate(items, 1)]
    return f"# {heading}: {subject}\n\n" + "\n".join(lines)


def _generic_items(subject: str) -> list[str]:
    return [
        f"Write down what done looks like for {subject} and how it will be checked",
        f"Read the code, docs and configuration that {subject} touches; list open questions",
        f"Split {subject} into changes small enough to review one at a time",
        "Make the first change with its tests alongside it",
        "Run `make test` and `make lint` and fix what they report",
        f"Update the documentation affected by {subject}",
        f"Try {subject} end to end with a real job and read the output",
        "Ask for review; record any design decision in `docs/adr/`",
    ]


def _outline(subject: str) -> str:
    sections = ["Why it matters", "Where things stand", "Proposed approach", "Risks and open questions"]
    lines = [f"{n}. {section}" for n, section in enumerate([*sections, "Next steps"], 1)]
    return f"# Outline: {subject}\n\n" + "\n".join(lines)


def _draft(subject: str, goal: str, background: str) -> str:
    lines = [f"# {_title(subject)}", "", "## Overview", "", f"This draft covers {subject}."]
    if goal:
        lines.append(f"It serves the goal: {goal}")
    if background:
        lines += ["", "## Background", "", extractive_summary(background)]
    lines += [
        "",
        "## Open questions",
        "",
        f"- [ ] What does done look like for {subject}, and how will it be checked?",
        "- [ ] Who reviews it, and what could go wrong?",
        "",
        "## Next steps",
        "",
        f"- [ ] Check this draft against what {subject} needs",
        "- [ ] Fill in examples and owners",
    ]
    return "\n".join(lines)


def _tools_md_draft(context: str) -> str:
    checklist = [m.strip() for m in re.findall(r"^\s*- \[[ xX]\] (.+)$", context, re.M)]
    lines = [
        "# Tools",
        "",
        "A tool is an action a task can take. Each one is a `ToolSpec` in `libs/core/tool_registry.py`:",
        "name, description, JSON schemas of its args and output, side effects and timeout.",
        "",
        "## How to add a new tool",
        "",
        *(f"{n}. {step}" for n, step in enumerate(SEED_ADD_TOOL_STEPS, 1)),
        "",
        "## Checklist",
        "",
        *(f"- [ ] {item}" for item in (checklist or TOOL_CHECKLIST)),
    ]
    return "\n".join(lines)


def _line_field(prompt: str, label: str) -> str:
    """The rest of the first line that begins with ``label:``, stripped ("" if there is none)."""
    marker = f"{label}:"
    if prompt.startswith(marker):
        start = len(marker)
    elif (at := prompt.find(f"\n{marker}")) >= 0:
        start = at + 1 + len(marker)
    else:
        return ""
    end = prompt.find("\n", start)
    return prompt[start : end if end >= 0 else len(prompt)].strip()


def _section(prompt: str, header: str) -> str:
    """The text under ``header`` up to the next section header or the end."""
    _, found, rest = prompt.partition(f"\n{header}\n")
    if not found:
        return ""
    return re.split(r"\n(?:Input from task '[^'\n]*':|Reviewer feedback to address:)\n", rest)[0].strip()


def _inputs(prompt: str) -> str:
    parts = re.split(r"\nInput from task '[^'\n]*':\n", prompt)[1:]
    return "\n\n".join(p.split("\nReviewer feedback to address:\n")[0].strip() for p in parts)


def _plain(markdown: str) -> str:
    text = re.sub(r"^#{1,6}\s+", "", markdown, flags=re.M)
    return re.sub(r"^(\s*)- \[[ xX]\] ", r"\1- ", text, flags=re.M)


class MockProvider:
    """The default provider: useful deterministic answers, so the platform runs without keys.

    Text answers come from ``respond``; summaries are extractive; a plan request is answered with the
    rule planner's plan for the goal; a judge request approves. Tokens are estimated (4 chars each).
    """

    name: str = "mock"
    model: str = "mock"

    async def chat(self, request: ChatRequest, *, on_text: TextSink | None = None) -> ChatResult:
        # ``on_text`` is not called: the answer is instant, so there is nothing to watch grow.
        prompt = request.messages[-1][1]
        if request.purpose == "plan":
            text = _mock_plan(prompt)
        elif request.purpose == "replan":  # no better idea than the same plan: the failed tasks run again
            text = prompt.split("The current plan:\n", 1)[-1].split("\n\n", 1)[0]
        elif request.purpose == "judge":
            text = json.dumps({"verdict": "approve", "reasons": []})
        elif request.purpose == "summarize":
            match = re.search(r"at most (\d+) sentences", prompt)
            body = prompt.split("<<<TEXT\n", 1)[-1].rsplit("\nTEXT>>>", 1)[0]
            summary = extractive_summary(without_notice(body), int(match.group(1)) if match else 3)
            text = f"{NOTICE_LINE}\n\n{summary or 'Nothing to summarize.'}"
        else:
            text = respond(prompt)
        seen = request.system + "".join(content for _, content in request.messages)
        return ChatResult(
            text=text,
            input_tokens=estimate_tokens(seen),
            output_tokens=estimate_tokens(text),
            model=self.model,
        )

    async def aclose(self) -> None:
        return None


def _mock_plan(prompt: str) -> str:
    from planwright.core.planning.llm import read_job_block, to_wire
    from planwright.core.planning.rules import RuleBasedPlanner
    from planwright.core.tools_builtin import default_registry

    goal, context = read_job_block(prompt)
    return json.dumps(to_wire(RuleBasedPlanner(default_registry()).plan(goal, context)))
