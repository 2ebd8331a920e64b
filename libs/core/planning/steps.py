"""A goal's steps, in the order written, and whether each one must come after the step before.

Separators: "then" and its translations (``lexicon.Language.then``), ";", numbered or bulleted lists,
line breaks, and a new sentence that opens with a verb the planner knows ("... intro. Save it as x.md").
"then", a new sentence, a new line and an opening "finally" mean *after that* (``Step.sequenced``);
";" and list items only enumerate. Nothing is split inside quotes, URLs, "tl;dr", or the text a goal
supplies as data: after "the following text:" the rest of the goal (or of the list item) is that text
(``Step.given``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from planwright.core.planning.lexicon import alternation as _words

# Spans that separators must never cut: quoted text, URLs, "tl;dr".
_PROTECTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|`[^`\n]*`|https?://[^\s<>"\'`]+|\btl;dr\b', re.IGNORECASE)
_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_URL_TRAILING = ".,;:!?)]}'\""
# "the following text: <data>", "Fasse den Text in zwei Sätzen zusammen: <data>"; not a URL or a quote.
_DATA_INTRO = re.compile(
    rf"\b(?:{_words('text_nouns')})\b(?:[^\S\n]+[\w'\u2019-]+){{0,4}}?[^\S\n]*:\s*(?=\S)(?!\ue000)",
    re.IGNORECASE,
)

_LIST_MARKER = re.compile(r"^\s*(?:(\d{1,3})[.)]|[-*•])\s+")
_NEXT_ITEM = re.compile(r"\n(?=[^\S\n]*(?:\d{1,3}[.)]|[-*•])\s)")
_INLINE_NUMBER = re.compile(r"(?<!\S)(\d{1,2})[.)]\s+")
_SEPARATOR = re.compile(
    rf"\s*;\s*|(?:\s*,\s*|\s+)(?:(?:{_words('and_')})\s+)?(?:{_words('then')})\b,?\s*", re.IGNORECASE
)
_SENTENCE_BREAK = re.compile(
    rf"(?<=[.!?])\s+(?=(?:{_words('create', 'summarize', 'save', 'fetch')})\b)", re.IGNORECASE
)
_ABBREVIATION = re.compile(r"(?:\b[^\W\d_]\.){2}$|\b(?:etc|vs|bzw|usw|ca|dr|mr|mrs|ms|st)\.$", re.IGNORECASE)
_LEADING_FILLER = re.compile(
    rf"^(?:(?:{_words('and_', 'then', 'finally_', 'also')})(?:[\s,]+|$))+", re.IGNORECASE
)
_SEQUENCE_WORD = re.compile(rf"\b(?:{_words('then', 'finally_')})\b", re.IGNORECASE)
_LOWER_FIRST_WORD = re.compile(r"[^\W\d_]+(?:[\s,'\u2019-]|$)")


@dataclass(frozen=True)
class Step:
    text: str  # the step as written, separators and list markers removed
    sequenced: bool = False  # it follows "then", a new sentence or line: it comes after the step before
    given: str | None = None  # the text the step supplies as data ("the following text: ...")

    @property
    def instruction(self) -> str:
        """The step without its given text: where the planner looks for what to do."""
        return self.text[: len(self.text) - len(self.given)] if self.given else self.text


def split_steps(goal: str) -> list[str]:
    """The goal's steps, in order: split on "then", ";", numbered or bulleted lists, lines and sentences.

    Never splits inside URLs, quoted text or a given text. A line that ends with ":" and introduces a
    list is dropped. A goal without separators is a single step; an empty goal has none.
    """
    return [step.text for step in read_steps(goal)]


def read_steps(goal: str) -> list[Step]:
    """The goal's steps with what ``split_steps`` drops: their order and the text they supply."""
    saved: list[str] = []
    text = _PROTECTED.sub(lambda m: _protect(m.group(), saved), goal)
    data = _DATA_INTRO.search(text)
    if data:
        end = _data_end(text, data)
        saved.append(_restore(text[data.end() : end], saved).strip())
        text = text[: data.end()] + _token(len(saved) - 1) + text[end:]
    given = _token(len(saved) - 1) if data else None
    steps: list[Step] = []
    for item in _list_items(text):
        parts = _split_item(item)
        if item.introduces_list and parts and parts[-1][0].endswith(":"):
            parts.pop()
        steps.extend(_step(part, sequenced, given, saved) for part, sequenced in parts)
    return steps


def _data_end(text: str, intro: re.Match[str]) -> int:
    """Where the given text ends: at the end of the goal, or of its list item when it is in one."""
    line = text.rfind("\n", 0, intro.start()) + 1
    if not _LIST_MARKER.match(text, line):
        return len(text)
    item_end = _NEXT_ITEM.search(text, intro.end())
    return item_end.start() if item_end else len(text)


def trim_url(url: str) -> str:
    """``url`` without the punctuation a sentence put after it (a closing bracket it opened stays)."""
    while url and url[-1] in _URL_TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _token(index: int) -> str:
    return f"\ue000{index}\ue001"


def _protect(span: str, saved: list[str]) -> str:
    kept = trim_url(span) if span.lower().startswith(("http://", "https://")) else span
    saved.append(kept)
    return _token(len(saved) - 1) + span[len(kept) :]


def _restore(text: str, saved: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: saved[int(m.group(1))], text)


def _step(part: str, sequenced: bool, given: str | None, saved: list[str]) -> Step:
    if given is None or given not in part:
        return Step(_restore(part, saved), sequenced)
    data = saved[-1]
    instruction = _restore(part[: part.index(given)], saved).rstrip()
    return Step(f"{instruction} {data}", sequenced, data)


@dataclass
class _Item:
    text: str
    number: int | None = None  # the item's list number, when it had one
    introduces_list: bool = False
    marked: bool = False  # a list item: it enumerates, it does not say "after"


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
            items.append(_Item(line[marker.end() :], int(number) if number else None, marked=True))
            in_list = True
        elif in_list and line[:1].isspace():
            items[-1].text += " " + line.strip()
        else:
            items.append(_Item(line))
            in_list = False
    return items


def _split_item(item: _Item) -> list[tuple[str, bool]]:
    """One item's steps: an inline numbered list ("1. a 2. b"), then separators within each.

    An item that is itself number ``k`` of a list may continue inline with ``k+1.``, ``k+2.`` ...
    """
    first = 1 if item.number is None else item.number + 1
    marks: list[re.Match[str]] = []
    for match in _INLINE_NUMBER.finditer(item.text):
        if int(match.group(1)) == first + len(marks):
            marks.append(match)
    if len(marks) < (2 if item.number is None else 1):
        return _split_sentence(item.text, sequenced=not item.marked)
    head = _split_sentence(item.text[: marks[0].start()], sequenced=not item.marked)
    if item.number is None and head and head[-1][0].endswith(":"):
        head.pop()
    ends = [m.start() for m in marks[1:]] + [len(item.text)]
    numbered = [
        part
        for m, end in zip(marks, ends, strict=True)
        for part in _split_sentence(item.text[m.end() : end], sequenced=False)
    ]
    return head + numbered


def _split_sentence(text: str, *, sequenced: bool) -> list[tuple[str, bool]]:
    """The steps in ``text``, each with whether it comes after the one before."""
    steps: list[tuple[str, bool]] = []
    carried = False  # an empty piece's "after" ("a; then ; b") still orders the next step
    for part, cut_after in _pieces(text, sequenced):
        filler = _LEADING_FILLER.match(part.strip())
        after = cut_after or carried or bool(filler and _SEQUENCE_WORD.search(filler.group()))
        cleaned = _clean(part)
        if cleaned:
            steps.append((cleaned, after))
        carried = after and not cleaned
    return steps


def _pieces(text: str, sequenced: bool) -> Iterable[tuple[str, bool]]:
    """``text`` cut at separators and at verb-led sentences; each piece with whether a cut said "after"."""
    start, after = 0, sequenced
    for cut in _cuts(text):
        yield text[start : cut.start()], after
        start, after = cut.end(), ";" not in cut.group()
    yield text[start:], after


def _cuts(text: str) -> list[re.Match[str]]:
    separators = list(_SEPARATOR.finditer(text))
    sentences = [
        m
        for m in _SENTENCE_BREAK.finditer(text)
        if m.end() < len(text)
        and text[m.end()].isupper()
        and not _ABBREVIATION.search(text, max(0, m.start() - 8), m.start())
        and not any(s.start() <= m.start() < s.end() for s in separators)
    ]
    return sorted(separators + sentences, key=lambda m: m.start())


def _clean(part: str) -> str:
    part = _LEADING_FILLER.sub("", part.strip()).rstrip(" \t,;.").strip()
    if part[:1].islower() and _LOWER_FIRST_WORD.match(part):
        part = part[0].upper() + part[1:]
    return part
