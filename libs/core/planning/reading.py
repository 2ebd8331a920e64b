"""What one step asks for, read from its words: URLs, file names, given text, verbs and deliverables.

Pure and stateless; ``rules.py`` decides with it which tasks the step becomes. Every word list comes
from ``lexicon.py`` and is compiled once, at import.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from planwright.core.artifacts import MEDIA_TYPES
from planwright.core.planning.lexicon import DELIVERABLES, LANGUAGES, RESULTS
from planwright.core.planning.lexicon import alternation as _words
from planwright.core.planning.steps import Step, trim_url

_T = TypeVar("_T")


class _Folded:
    """A pattern of lowercase words, matched whatever the text's case.

    ``re.IGNORECASE`` folds every character of the text against every alternative it tries: with
    the lexicon's long alternations that made reading a step ~50 us, most of the rule planner's time
    (a fan-out of 100 steps: ~6 ms before its first task). On ASCII text (nearly every goal) the same
    pattern matched case-sensitively against the lowered text finds the same matches at the same
    positions 3-4x faster. Other text keeps ``IGNORECASE``, whose folding (the long s, U+017F, for
    ``s``, say) ``str.lower`` does not share. A match's ``group()`` is then lowered text: callers
    look words up, they never copy them into a plan.
    """

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._lowered = re.compile(pattern)
        self._any_case = re.compile(pattern, re.IGNORECASE)

    def search(self, text: str, pos: int = 0, endpos: int = sys.maxsize) -> re.Match[str] | None:
        if text.isascii():
            return self._lowered.search(text.lower(), pos, endpos)
        return self._any_case.search(text, pos, endpos)

    def match(self, text: str) -> re.Match[str] | None:
        return self._lowered.match(text.lower()) if text.isascii() else self._any_case.match(text)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self._lowered.finditer(text.lower()) if text.isascii() else self._any_case.finditer(text)


def _any(*fields: str) -> _Folded:
    return _Folded(rf"\b(?:{_words(*fields)})\b")


_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_QUOTED = re.compile(r'"([^"\n]*)"|“([^”\n]*)”|`([^`\n]*)`')
_EXTENSIONS = "|".join(sorted((ext.lstrip(".") for ext in MEDIA_TYPES), key=lambda e: (-len(e), e)))
_FILE_NAME = re.compile(rf"(?<![\w./-])[\w-]+(?:\.[\w-]+)*\.(?:{_EXTENSIONS})\b", re.IGNORECASE)
# "Node.js" and "Vue.js" are products, not files to write.
_PRODUCT_NAMES = frozenset({"node.js", "next.js", "nuxt.js", "vue.js", "react.js", "express.js", "d3.js"})

_SUMMARIZE = _any("summarize")
_SAVE = _any("save")
_FETCH = _any("fetch")
_CREATE = _any("create")
_COMBINE = _any("combine")
_FILE_WORD = _any("file")
_POINTS_BACK = _any("pronouns")
_INTO = _any("into")
# A step that opens by asking the person: the rest of it is the question.
_ASK = _Folded(rf"^\W*(?:{_words('ask')})(?!\w)[\s,:]*")
_MAX_QUESTION = 2000
_NUMBER_WORDS = [
    (re.compile(frag, re.IGNORECASE), n)
    for lang in LANGUAGES.values()
    for n, frag in enumerate(lang.numbers, 1)
]
_SENTENCES = _Folded(rf"\b(\d+|{_words('numbers')})\s+(?:{_words('sentence')})\b")
_ARTICLE_BEFORE = _Folded(rf"\b(?:{_words('articles')})(?:\s+|(?<=['\u2019]))(?:[\w-]+\s+){{0,2}}$")

# One alternation without groups (named groups make it several times slower); a match is looked up.
_NOUNS = [
    (re.compile(frag, re.IGNORECASE), name)
    for table in (DELIVERABLES, RESULTS)
    for name, frags in table.items()
    for frag in frags
]
_DELIVERABLE = _Folded(
    r"\b(?:" + "|".join(sorted((p.pattern for p, _ in _NOUNS), key=lambda f: (-len(f), f))) + r")\b"
)

DEFAULT_MAX_SENTENCES = 3


@dataclass(frozen=True)
class Mention:
    """A deliverable the step names: ``definite`` ("the intro") may mean one made earlier."""

    name: str
    start: int
    definite: bool


@dataclass(frozen=True)
class Ask:
    text: str  # the whole step: the prompt and the description of its tasks
    plain: str  # the instruction without quotes, URLs, file names and given text
    urls: list[str]
    file_names: list[str]
    given: str | None  # text the step supplies: quoted, or after "the following text:"
    summarize: bool
    save: bool  # a verb that stores text (a file only with a file name or the word "file")
    file_word: bool
    fetch: bool
    combines: bool
    points_back: bool  # a pronoun: the previous step's result
    create: bool
    writes_own: bool  # it creates what it saves: "write a haiku and save it as haiku.md"
    mentions: list[Mention]
    max_sentences: int
    question: str | None = None  # "ask me which language to use": "Which language to use?"

    @property
    def wants_file(self) -> bool:
        return self.save and bool(self.file_names or self.file_word)

    @property
    def recognised(self) -> bool:
        """Whether any rule applies: a verb, a deliverable, a URL, a file name or a given text."""
        return bool(
            self.question is not None
            or self.urls
            or self.file_names
            or self.given is not None
            or self.mentions
            or self.summarize
            or self.save
            or self.fetch
            or self.create
            or self.combines
        )


def read_step(step: Step) -> Ask:
    """What ``step`` asks for. Words inside quotes, URLs, file names and the given text do not count."""
    instruction = step.instruction
    unquoted = _QUOTED.sub(" ", instruction)
    without_urls = _URL.sub(" ", unquoted)
    names = [m.group() for m in _FILE_NAME.finditer(without_urls) if _is_file_name(m.group())]
    plain = _FILE_NAME.sub(lambda m: " " if _is_file_name(m.group()) else m.group(), without_urls)
    return Ask(
        text=step.text,
        plain=plain,
        urls=list(dict.fromkeys(trim_url(url) for url in _URL.findall(unquoted))),
        file_names=list(dict.fromkeys(names)),
        given=step.given if step.given is not None else _quoted(instruction),
        summarize=bool(_SUMMARIZE.search(plain)),
        save=bool(_SAVE.search(plain)),
        file_word=bool(_FILE_WORD.search(plain)),
        fetch=bool(_FETCH.search(plain)),
        combines=bool(_COMBINE.search(plain)),
        points_back=bool(_POINTS_BACK.search(plain)),
        create=bool(_CREATE.search(plain)),
        writes_own=_writes_own(plain),
        mentions=_mentions(plain),
        max_sentences=_max_sentences(instruction),
        question=_question(step.text),
    )


def created(ask: Ask, earlier: set[str]) -> list[str]:
    """The deliverables a step asks to create, most telling first ("checklist" for "Generate a checklist").

    Names of earlier results ("the intro" once an intro exists) are read, not created. A noun opening
    the step is usually its verb ("Draft an email", "List ..."), so a later one wins. For combining
    steps only nouns before the combining word or after "into"/"as" count, so "Compare both reports"
    does not claim to create a report.
    """
    found = [m for m in ask.mentions if m.name not in RESULTS and not (m.definite and m.name in earlier)]
    combine = _COMBINE.search(ask.plain)
    if combine:
        into = _INTO.search(ask.plain, combine.end())
        found = [
            m for m in found if m.start < combine.start() or (into is not None and m.start >= into.end())
        ]
    if len(found) > 1 and not ask.plain[: found[0].start].strip():
        found.pop(0)
    return list(dict.fromkeys(m.name for m in found))


def _writes_own(plain: str) -> bool:
    """A create verb before the last save verb, and no summary: the step saves what it writes itself.

    "Write a tools.md draft file" has one verb (write), so it saves the previous step's result.
    """
    create = _CREATE.search(plain)
    saves = [m.start() for m in _SAVE.finditer(plain)]
    return create is not None and bool(saves) and create.start() < saves[-1] and not _SUMMARIZE.search(plain)


def _mentions(plain: str) -> list[Mention]:
    mentions = []
    for match in _DELIVERABLE.finditer(plain):
        name = _lookup(_NOUNS, match.group())
        definite = _ARTICLE_BEFORE.search(plain, max(0, match.start() - 60), match.start()) is not None
        mentions.append(Mention(name, match.start(), definite))
    return mentions


def _lookup(table: list[tuple[re.Pattern[str], _T]], word: str) -> _T:
    """The value of the first fragment that matches all of ``word`` (the word matched their union)."""
    return next(value for pattern, value in table if pattern.fullmatch(word))


def _is_file_name(name: str) -> bool:
    stem, _, ext = name.rpartition(".")
    return not (ext.lower() in ("js", "ts") and (stem[:1].isupper() or name.lower() in _PRODUCT_NAMES))


def _question(text: str) -> str | None:
    """The question of a step that opens by asking the person ("Ask me which ..."), else None."""
    opener = _ASK.match(text)
    if opener is None:
        return None
    rest = text[opener.end() :].strip().rstrip(".!?:;,").strip()
    if not rest:
        return None
    question = rest[:1].upper() + rest[1:]
    return question[: _MAX_QUESTION - 1] + "?"


def _quoted(text: str) -> str | None:
    match = _QUOTED.search(text)
    return next(group for group in match.groups() if group is not None) if match else None


def _max_sentences(instruction: str) -> int:
    match = _SENTENCES.search(instruction)
    if not match:
        return DEFAULT_MAX_SENTENCES
    word = match.group(1)
    count = int(word) if word.isdigit() else _lookup(_NUMBER_WORDS, word)
    return min(max(count, 1), 20)
