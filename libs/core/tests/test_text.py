from planwright.core.text import extractive_summary, html_to_text, split_sentences, words


def test_split_sentences_splits_paragraphs_at_sentence_punctuation():
    text = "Workers run tasks. Each task has a tool! Does it retry? Yes, e.g. on timeouts."
    assert split_sentences(text) == [
        "Workers run tasks.",
        "Each task has a tool!",
        "Does it retry?",
        "Yes, e.g. on timeouts.",
    ]


def test_split_sentences_joins_wrapped_lines_of_one_paragraph():
    assert split_sentences("A paragraph that\nwraps over lines. Second one.") == [
        "A paragraph that wraps over lines.",
        "Second one.",
    ]


def test_split_sentences_treats_headings_and_list_items_as_units_without_markers():
    text = (
        "# Checklist\n\n- [ ] Define the spec\n- [x] Write tests\n* plain item\n2. numbered item\n## Done ##"
    )
    assert split_sentences(text) == [
        "Checklist",
        "Define the spec",
        "Write tests",
        "plain item",
        "numbered item",
        "Done",
    ]


def test_split_sentences_ignores_code_fences_rules_and_empty_checkboxes():
    text = "Intro.\n```python\nx = 1. Not a sentence.\n```\n---\n- [ ]\n> Quoted line."
    assert split_sentences(text) == ["Intro.", "Quoted line."]


def test_split_sentences_of_blank_text_is_empty():
    assert split_sentences("  \n\n ") == []


def test_words_drops_stop_words_and_folds_plurals():
    assert words("The tools and the Tool, with its status and class") == ["tool", "tool", "status", "class"]


def test_extractive_summary_of_empty_text_is_empty():
    assert extractive_summary("") == ""
    assert extractive_summary("```\ncode only\n```") == ""


def test_extractive_summary_returns_short_text_whole():
    assert extractive_summary("Only one sentence here.") == "Only one sentence here."


def test_extractive_summary_picks_central_sentences_in_original_order():
    text = (
        "Artifacts are stored by hash. "
        "The weather was pleasant yesterday. "
        "Each artifact hash names one stored file. "
        "Lunch was served at noon. "
        "Stored artifacts are verified by hash."
    )
    summary = extractive_summary(text, max_sentences=3)
    assert summary == (
        "Artifacts are stored by hash. Each artifact hash names one stored file. "
        "Stored artifacts are verified by hash."
    )


def test_extractive_summary_respects_max_sentences_and_is_deterministic():
    text = " ".join(f"Sentence number {n} talks about tools and tasks." for n in range(10))
    first = extractive_summary(text, max_sentences=2)
    assert len(split_sentences(first)) == 2
    assert first == extractive_summary(text, max_sentences=2)
    assert extractive_summary(text, max_sentences=0) == ""


def test_extractive_summary_terminates_headings_and_items_so_they_do_not_run_together():
    text = "# Tool checklist\n\n- [ ] Define the tool spec\n- [ ] Register the tool spec"
    assert extractive_summary(text, max_sentences=3) == (
        "Tool checklist. Define the tool spec. Register the tool spec."
    )


def test_extractive_summary_prefers_a_full_sentence_over_a_lone_heading():
    text = "# Tools\n\nTools are actions a task takes. Tools declare schemas. The sky is blue today."
    assert extractive_summary(text, max_sentences=1) == "Tools are actions a task takes."


def test_html_to_text_drops_scripts_and_styles_and_decodes_entities():
    html = (
        "<html><head><title>Docs</title><style>p { color: red }</style>"
        "<script>alert('x')</script></head>"
        "<body><h1>Fish &amp; chips</h1><p>Some   text\n  here</p><ul><li>one</li><li>two</li></ul>"
        "<noscript>enable js</noscript></body></html>"
    )
    assert html_to_text(html) == "Docs\nFish & chips\nSome text here\none\ntwo"


def test_html_to_text_keeps_inline_elements_on_one_line():
    assert html_to_text("<p>Read <b>the</b> <a href='/x'>manual</a>.</p>") == "Read the manual."


def test_html_to_text_of_plain_text_collapses_whitespace():
    assert html_to_text("  just\t\ttext  ") == "just text"
