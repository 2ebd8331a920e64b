"""Pure text helpers: markdown-aware sentence splitting, extractive summaries, HTML to text."""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\](?:\s+|$))?(.*)$")
_QUOTE = re.compile(r"^\s*>\s?")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")
# A sentence ends at . ! or ? followed by space and something that can start a sentence; requiring the
# capital keeps "e.g. the" and "v1.2 is" in one piece.
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"')\]]))\s+(?=[\"'(\[]?[A-Z0-9`*])")
_WORD = re.compile(r"[a-z0-9][a-z0-9_'-]*")

_STOP_WORDS = """a about above after again all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers him his how i if in into is it its itself just me more most my no nor not now
    of off on once only or other our ours out over own same she should so some such than that the their
    theirs them then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours"""
STOP_WORDS = frozenset(_STOP_WORDS.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of ``text``, treating markdown headings and list items as one unit each.

    Code fences, horizontal rules and checkbox markers (``- [ ]``) are dropped; plain paragraphs
    (which may wrap over several lines) are split at sentence punctuation.
    """
    units: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            units.extend(_split_paragraph(" ".join(paragraph)))
            paragraph.clear()

    in_fence = False
    for raw in text.splitlines():
        if _FENCE.match(raw):
            flush()
            in_fence = not in_fence
            continue
        line = _QUOTE.sub("", raw).strip()
        if in_fence or not line or _RULE.match(line):
            flush()
            continue
        block = _HEADING.match(line) or _LIST_ITEM.match(line)
        if block:
            flush()
            if block.group(1).strip():
                units.append(block.group(1).strip())
        else:
            paragraph.append(line)
    flush()
    return units


def _split_paragraph(paragraph: str) -> list[str]:
    return [part.strip() for part in _SENTENCE_END.split(paragraph) if part.strip()]


def words(text: str) -> list[str]:
    """Lower-case content words of ``text`` (stop words removed, a plural ``s`` folded)."""
    found = (w.strip("'-") for w in _WORD.findall(text.lower()))
    return [_fold(w) for w in found if w and w not in STOP_WORDS]


def _fold(word: str) -> str:
    # "tools" and "tool" should count as one word; "class" and "status" should stay whole.
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def extractive_summary(text: str, max_sentences: int = 3) -> str:
    """The ``max_sentences`` most representative sentences of ``text``, in their original order.

    A sentence scores the average frequency of its content words across the text (short sentences
    are averaged over at least four words so a lone heading cannot win), plus a small bonus for
    appearing early. Deterministic: ties go to the earlier sentence. Empty input gives "".
    """
    sentences = split_sentences(text)
    if not sentences or max_sentences < 1:
        return ""
    per_sentence = [words(s) for s in sentences]
    counts = Counter(w for content in per_sentence for w in content)
    top = max(counts.values(), default=1)
    scores = []
    for index, content in enumerate(per_sentence):
        relevance = sum(counts[w] / top for w in content) / max(len(content), 4)
        position = 0.1 * (1 - index / len(sentences))
        scores.append((relevance + position, -index))
    chosen = sorted(range(len(sentences)), key=lambda i: scores[i], reverse=True)[:max_sentences]
    return " ".join(_terminated(sentences[i]) for i in sorted(chosen))


def _terminated(sentence: str) -> str:
    # Headings and list items carry no full stop; without one, joined sentences run together.
    return sentence if sentence[-1] in ".!?:;" else sentence + "."


_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template", "svg"})
_BLOCK_NAMES = """address article aside blockquote br dd div dl dt figcaption figure footer form
    h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table td th tr ul title"""
_BLOCK_TAGS = frozenset(_BLOCK_NAMES.split())


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[list[str]] = [[]]
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.lines.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.lines.append([])

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.lines[-1].append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document: no scripts or styles, one line per block, spaces collapsed."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join("".join(parts).split()) for parts in parser.lines)
    return "\n".join(line for line in lines if line)
