"""Reading a step's words: the word patterns match whatever the text's case, by either path.

``reading._Folded`` matches ASCII text lowered and case-sensitively (the fast path), and other text
with ``re.IGNORECASE``. These tests hold the two to the same answers.
"""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planwright.core.planning import reading
from planwright.core.planning.steps import Step

FOLDED = {name: value for name, value in vars(reading).items() if isinstance(value, reading._Folded)}
# Every word the patterns spell out, and some that they do not: the text the patterns are tried on.
VOCABULARY = sorted({w for p in FOLDED.values() for w in re.findall(r"[a-z]{2,}", p.pattern) if w.isascii()})
WORDS = st.sampled_from([*VOCABULARY, "note", "number", "7", "3", "tl;dr", "x"])
CASED = st.tuples(WORDS, st.sampled_from([str.lower, str.upper, str.title, str.swapcase])).map(
    lambda pair: pair[1](pair[0])
)
GAPS = st.sampled_from([" ", "  ", ", ", ". ", "; ", " '", "\u2019", "-", "\n", ": "])
ASCII_TEXT = st.lists(st.tuples(CASED, GAPS), max_size=12).map(lambda parts: "".join(w + g for w, g in parts))


def test_the_word_patterns_are_all_folded():
    """The patterns read over whole steps are the folded ones, so none keeps the slow path by mistake."""
    assert {"_SUMMARIZE", "_SAVE", "_FETCH", "_CREATE", "_COMBINE", "_DELIVERABLE", "_SENTENCES"} <= set(
        FOLDED
    )
    assert "_ARTICLE_BEFORE" in FOLDED
    assert "_ASK" in FOLDED


@pytest.mark.parametrize("name", sorted(FOLDED))
def test_no_letter_of_a_pattern_is_upper_case_or_folds_to_ascii(name):
    """Lowering the text is only the same as ignoring case when the pattern's own letters are lower
    case, and no character of it folds onto an ASCII one under IGNORECASE (as the long s, U+017F,
    does onto "s")."""
    source = re.sub(r"\\.", "", FOLDED[name].pattern)  # escapes (\W, \S, \b) are not letters
    assert source == source.lower()
    for char in {c for c in source if not c.isascii()}:
        folds_onto = [a for a in map(chr, range(128)) if re.fullmatch(re.escape(char), a, re.IGNORECASE)]
        assert not folds_onto, (char, folds_onto)


@settings(max_examples=300, deadline=None)
@given(text=ASCII_TEXT, start=st.integers(0, 40))
def test_ascii_text_matches_as_with_ignorecase(text, start):
    for name, pattern in FOLDED.items():
        slow = re.compile(pattern.pattern, re.IGNORECASE)
        found = pattern.search(text, start)
        expected = slow.search(text, start)
        assert (found and found.span()) == (expected and expected.span()), name
        assert [m.span() for m in pattern.finditer(text)] == [m.span() for m in slow.finditer(text)], name
        assert bool(pattern.match(text)) == bool(slow.match(text)), name


def _read(text: str) -> tuple[object, ...]:
    ask = reading.read_step(Step(text))
    return (
        ask.summarize,
        ask.save,
        ask.fetch,
        ask.create,
        ask.combines,
        ask.points_back,
        ask.writes_own,
        [(m.name, m.start, m.definite) for m in ask.mentions],
        ask.max_sentences,
        ask.question,
    )


@pytest.mark.parametrize(
    "text",
    [
        "SUMMARIZE THE INTRO IN TWO SENTENCES",
        "Fasse die EINLEITUNG über Köln in DREI Sätzen zusammen",  # not ASCII: the IGNORECASE path
        "RÉSUME L'INTRODUCTION",
        "ASK ME which language to use",
    ],
)
def test_a_step_reads_the_same_in_any_case(text):
    """Upper-case steps, ASCII or not, are read as their lower-case spelling is, and keep their words."""
    loud = reading.read_step(Step(text))
    assert _read(text)[:-1] == _read(text.lower())[:-1]
    assert loud.mentions or loud.question
    assert loud.plain == text  # the step's own words are kept as written, never lowered
    assert loud.question is None or loud.question.endswith("language to use?")
