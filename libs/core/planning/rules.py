"""The default planner: deterministic rules that turn a goal's steps into tasks, no model needed.

A goal is split into steps (``split_steps``); each step becomes one task, or a short chain when it
asks for more than one thing ("fetch <url> and summarize it" is a fetch, then a summary of it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.validation import ToolCatalog, validate_plan

# Spans that separators must never cut: quoted text, URLs, "tl;dr".
_PROTECTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|`[^`\n]*`|https?://[^\s<>"\'`]+|\btl;dr\b', re.IGNORECASE)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_URL_TRAILING = ".,;:!?)]}'\""
_QUOTED = re.compile(r'"([^"\n]*)"|“([^”\n]*)”|`([^`\n]*)`')

_LIST_MARKER = re.compile(r"^\s*(?:(\d{1,3})[.)]|[-*•])\s+")
_INLINE_NUMBER = re.compile(r"(?<!\S)(\d{1,2})[.)]\s+")
_SEPARATOR = re.compile(r"\s*;\s*|(?:\s*,\s*|\s+)(?:and\s+)?then\b,?\s*", re.IGNORECASE)
_LEADING_FILLER = re.compile(r"^(?:(?:and|then|finally|lastly|also)(?:[\s,]+|$))+", re.IGNORECASE)

_SUMMARIZE = re.compile(r"\b(?:summari[sz]\w*|summary|tl;?dr|condens\w*)\b", re.IGNORECASE)
_WRITE = re.compile(r"\b(?:writ\w*|sav(?:e|es|ing)|stor(?:e|es|ing)|export\w*)\b", re.IGNORECASE)
_FILE_WORD = re.compile(r"\b(?:files?|artifacts?)\b", re.IGNORECASE)
_FILE_NAME = re.compile(
    r"(?<![\w./-])[\w-]+(?:\.[\w-]+)*\.(?:md|markdown|txt|json|csv|tsv|html?|ya?ml|xml|log|rst|toml|ini|sql|py|sh)\b",
    re.IGNORECASE,
)
_FETCH_VERB = re.compile(
    r"\b(?:fetch\w*|download\w*|get|gets|retriev\w*|grab\w*|load\w*|read\w*|open\w*|visit\w*|scrap\w*|crawl\w*)\b",
    re.IGNORECASE,
)
_REFERS_BACK = re.compile(
    r"\b(?:it|its|them|this|that|these|those|the (?:results?|output|above))\b", re.IGNORECASE
)
_COMBINE = re.compile(
    r"\b(?:combin\w*|compar\w*|merg\w*|consolidat\w*|contrast\w*|both|all of them|all (?:of )?the results)\b",
    re.IGNORECASE,
)
_INTO = re.compile(r"\b(?:into|as)\b", re.IGNORECASE)
_DELIVERABLE = re.compile(
    r"\b(checklist|outline|plan|list|report|draft|email|summary|table|description|proposal|memo|letter"
    r"|article|essay|agenda|roadmap|timeline|faq|guide|tutorial|tweet|story|poem|script|specification"
    r"|overview|analysis|recipe|itinerary|readme|changelog)(?:s|es)?\b",
    re.IGNORECASE,
)
_SENTENCES = re.compile(r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten)\s+sentences?\b", re.I)
_NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]

_SOURCE_KIND = {"file_write_artifact": "artifact", "http_fetch": "page"}

DEFAULT_ARTIFACT_NAME = "artifact.md"
DEFAULT_MAX_SENTENCES = 3


def split_steps(goal: str) -> list[str]:
    """The goal's steps, in order: split on "then", ";", and numbered or bulleted lists.

    Never splits inside URLs or quoted text. A line that ends with ":" and introduces a list is dropped.
    A goal without separators is a single step; an empty goal has none.
    """
    saved: list[str] = []
    text = _PROTECTED.sub(lambda m: _protect(m.group(), saved), goal)
    steps: list[str] = []
    for item in _list_items(text):
        parts = _split_item(item.text, item.number)
        if item.introduces_list and parts and parts[-1].endswith(":"):
            parts.pop()
        steps.extend(_restore(part, saved) for part in parts)
    return steps


def _protect(span: str, saved: list[str]) -> str:
    kept = _trim_url(span) if span.lower().startswith(("http://", "https://")) else span
    saved.append(kept)
    return f"\ue000{len(saved) - 1}\ue001{span[len(kept) :]}"


def _restore(text: str, saved: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: saved[int(m.group(1))], text)


def _trim_url(url: str) -> str:
    while url and url[-1] in _URL_TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


@dataclass
class _Item:
    text: str
    number: int | None = None  # the item's list number, when it had one
    introduces_list: bool = False


def _list_items(text: str) -> list[_Item]:
    """Lines as items, list markers removed; indented lines under an item continue it."""
    items: list[_Item] = []
    in_list = False
    for line in text.splitlines():
        if not line.strip():
            in_list = False
            continue
        marker = _LIST_MARKER.match(line)
        if marker:
            if items and not in_list:
                items[-1].introduces_list = True
            number = marker.group(1)
            items.append(_Item(line[marker.end() :], int(number) if number else None))
            in_list = True
        elif in_list and line[:1].isspace():
            items[-1].text += " " + line.strip()
        else:
            items.append(_Item(line))
            in_list = False
    return items


def _split_item(item: str, number: int | None) -> list[str]:
    """One item's steps: an inline numbered list ("1. a 2. b"), then ";" and "then" within each.

    An item that is itself number ``k`` of a list may continue inline with ``k+1.``, ``k+2.`` ...
    """
    first = 1 if number is None else number + 1
    marks: list[re.Match[str]] = []
    for match in _INLINE_NUMBER.finditer(item):
        if int(match.group(1)) == first + len(marks):
            marks.append(match)
    if len(marks) < (2 if number is None else 1):
        return _split_sentence(item)
    head = _split_sentence(item[: marks[0].start()])
    if number is None and head and head[-1].endswith(":"):
        head.pop()
    ends = [m.start() for m in marks[1:]] + [len(item)]
    numbered = [
        part for m, end in zip(marks, ends, strict=True) for part in _split_sentence(item[m.end() : end])
    ]
    return head + numbered


def _split_sentence(text: str) -> list[str]:
    parts = (_clean(part) for part in _SEPARATOR.split(text))
    return [part for part in parts if part]


def _clean(part: str) -> str:
    part = _LEADING_FILLER.sub("", part.strip()).rstrip(" \t,;.").strip()
    if re.match(r"[a-z]+(?:\s|$)", part):
        part = part[0].upper() + part[1:]
    return part


class RuleBasedPlanner:
    """Plans a goal with deterministic rules; the plan is validated before it is returned."""

    name = "rules"

    def __init__(self, tools: ToolCatalog, *, max_tasks: int = 20) -> None:
        self._tools = tools
        self._max_tasks = max_tasks

    def plan(self, goal: str, context: dict[str, Any] | None = None) -> PlanSpec:
        """A validated plan for ``goal``; raises ``PlanInvalid`` when it cannot run (e.g. too many steps).

        The rules do not read ``context``; it is accepted so every planner has the same signature.
        """
        builder = _PlanBuilder()
        for step in split_steps(goal):
            builder.add_step(step)
        plan = PlanSpec(tasks=builder.tasks)
        validate_plan(plan, self._tools, max_tasks=self._max_tasks)
        return plan


class _PlanBuilder:
    """Turns steps into tasks, tracking whose results later steps consume."""

    def __init__(self) -> None:
        self.tasks: list[TaskSpec] = []
        self._tool_of: dict[str, str] = {}
        self._suffix: dict[str, int] = {}  # the last suffix given to each key's base
        self._unconsumed: list[str] = []  # results no later task has used yet, oldest first
        self._previous: list[str] = []  # the results of the step before this one

    def add_step(self, step: str) -> None:
        unquoted = _QUOTED.sub(" ", step)
        urls = list(dict.fromkeys(_trim_url(url) for url in _URL.findall(unquoted)))
        plain = _FILE_NAME.sub(" ", _URL.sub(" ", unquoted))
        file_name = _FILE_NAME.search(_URL.sub(" ", unquoted))
        wants_summary = bool(_SUMMARIZE.search(plain))
        wants_file = bool(_WRITE.search(plain)) and (file_name is not None or bool(_FILE_WORD.search(plain)))

        earlier = self._earlier_results(plain)
        source: list[str] | None = None  # the results this step's next task works on
        if urls:
            source = [self._fetch(step, url) for url in urls]
        if wants_summary:
            source = self._summarize_stage(step, plain, source, earlier)
        if wants_file:
            name = file_name.group() if file_name else DEFAULT_ARTIFACT_NAME
            source = self._write_stage(step, plain, name, source, earlier)
        if urls and not (wants_summary or wants_file or _FETCH_VERB.search(plain)):
            source = [self._generate(step, plain, source or [])]
        self._previous = source if source is not None else [self._generate(step, plain, earlier)]

    def _earlier_results(self, plain: str) -> list[str]:
        if _COMBINE.search(plain):
            return list(self._unconsumed)
        if _REFERS_BACK.search(plain):
            return list(self._previous)
        return []

    def _summarize_stage(
        self, step: str, plain: str, source: list[str] | None, earlier: list[str]
    ) -> list[str]:
        text = _quoted(step)
        if text is not None and source is None:
            return [self._summarize(step, earlier, text)]
        deps = source if source is not None else (earlier or self._previous)
        if not deps:  # nothing earlier to summarize: write the summary the step asks for
            return [self._generate(step, plain, [])]
        return [self._summarize(step, deps, None)]

    def _write_stage(
        self, step: str, plain: str, name: str, source: list[str] | None, earlier: list[str]
    ) -> list[str]:
        content = _quoted(step)
        args: dict[str, Any] = {"name": name}
        if content is not None and source is None:
            args["content"] = content
            deps = earlier
        else:
            deps = source if source is not None else (earlier or self._previous)
            if not deps:  # nothing earlier to write down: generate the content first
                deps = [self._generate(step, plain, [])]
        return [self._add("Write artifact", "file_write_artifact", step, deps, critic=True, args=args)]

    def _fetch(self, step: str, url: str) -> str:
        try:
            host = urlsplit(url).hostname or url
        except ValueError:  # e.g. a malformed IPv6 host; the fetch tool will report it
            host = url
        return self._add(f"Fetch {host}", "http_fetch", step, [], critic=False, args={"url": url})

    def _summarize(self, step: str, deps: list[str], text: str | None) -> str:
        tools = {self._tool_of[dep] for dep in deps}
        kind = _SOURCE_KIND.get(tools.pop(), "text") if len(tools) == 1 else "text"
        args: dict[str, Any] = {"max_sentences": _max_sentences(step)}
        if text is not None:
            args["text"] = text
        return self._add(f"Summarize {kind}", "text_summarize", step, deps, critic=False, args=args)

    def _generate(self, step: str, plain: str, deps: list[str]) -> str:
        noun = _deliverable(plain)
        title = f"Create {noun}" if noun else "Generate text"
        return self._add(title, "text_generate", step, deps, critic=True, args={"prompt": step})

    def _add(
        self, title: str, tool: str, step: str, deps: list[str], *, critic: bool, args: dict[str, Any]
    ) -> str:
        key = self._unique_key(title)
        task = TaskSpec(
            key=key,
            title=title[:200],
            description=step[:2000],
            tool=tool,
            args=args,
            depends_on=deps,
            critic_required=critic,
        )
        self.tasks.append(task)
        self._tool_of[key] = tool
        self._unconsumed = [k for k in self._unconsumed if k not in deps] + [key]
        return key

    def _unique_key(self, title: str) -> str:
        base = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")
        if not base[:1].isalpha():
            base = f"task_{base}".rstrip("_")
        base = base[:56].rstrip("_")
        # The first free suffix, counting on from the last one given to this base (keys are never
        # freed, so that is the first free one from 1): no rescan of a hundred "generate_text_n".
        n = self._suffix.get(base, 1)
        key = base if n == 1 else f"{base}_{n}"
        while key in self._tool_of:
            n += 1
            key = f"{base}_{n}"
        self._suffix[base] = n
        return key


def _quoted(step: str) -> str | None:
    match = _QUOTED.search(step)
    return next(group for group in match.groups() if group is not None) if match else None


def _deliverable(plain: str) -> str | None:
    """The thing a step asks to create: "Create checklist" for "Generate an implementation checklist".

    A noun opening the step is usually its verb ("Draft an email", "List ..."), so a later one wins.
    For combining steps only nouns before the combining word or after "into"/"as" count, so "Compare both
    reports" does not claim to create a report.
    """
    combine = _COMBINE.search(plain)
    if combine:
        into = _INTO.search(plain, combine.end())
        plain = plain[: combine.start()] + (" " + plain[into.end() :] if into else "")
    matches = list(_DELIVERABLE.finditer(plain))
    if len(matches) > 1 and not plain[: matches[0].start()].strip():
        matches.pop(0)
    return matches[0].group(1).lower() if matches else None


def _max_sentences(step: str) -> int:
    match = _SENTENCES.search(step)
    if not match:
        return DEFAULT_MAX_SENTENCES
    word = match.group(1).lower()
    count = int(word) if word.isdigit() else _NUMBER_WORDS.index(word) + 1
    return min(max(count, 1), 20)
