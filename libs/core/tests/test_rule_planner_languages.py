"""The rule planner in German, French and Spanish: the same goals give the same plan shapes as English."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planwright.core.artifacts import guess_media_type
from planwright.core.planning import split_steps
from planwright.core.tests.test_rule_planner import assert_planned_in_order_or_refused, plan


def links(tasks):
    """(tool, indexes of the tasks it depends on): the plan's shape whatever the languages' keys."""
    index = {t.key: i for i, t in enumerate(tasks)}
    return [(t.tool, [index[d] for d in t.depends_on]) for t in tasks]


FASTAPI_GOALS = {
    "en": (
        "List the main features of FastAPI, then write a short intro paragraph about it, then create a "
        "checklist for a first project, then save the intro as intro.md, then summarize the intro, then "
        "write a tweet announcing the project"
    ),
    "de": (
        "Liste die wichtigsten Funktionen von FastAPI auf, dann schreibe einen kurzen Einleitungsabsatz "
        "darüber, danach erstelle eine Checkliste für ein erstes Projekt, anschließend speichere die "
        "Einleitung als einführung.md, und dann fasse die Einleitung zusammen, dann schreibe einen Tweet, "
        "der das Projekt ankündigt."
    ),
    "fr": (
        "Liste les principales fonctionnalités de FastAPI, puis rédige un court paragraphe d'introduction "
        "à son sujet, ensuite crée une liste de contrôle pour un premier projet, et ensuite enregistre "
        "l'introduction sous intro.md, après cela résume l'introduction, puis écris un tweet annonçant le "
        "projet."
    ),
    "es": (
        "Enumera las principales características de FastAPI, luego escribe un breve párrafo de "
        "introducción sobre él, después crea una lista de verificación para un primer proyecto, y luego "
        "guarda la introducción como intro.md, entonces resume la introducción y luego escribe un tweet "
        "que anuncie el proyecto."
    ),
}


@pytest.mark.parametrize("language", FASTAPI_GOALS)
def test_the_six_step_goal_keeps_its_order_and_its_intro(language):
    tasks = plan(FASTAPI_GOALS[language])
    assert links(tasks) == [
        ("text_generate", []),  # the features
        ("text_generate", [0]),  # the intro, about them
        ("text_generate", [1]),  # the checklist, after the intro
        ("file_write_artifact", [1, 2]),  # the intro, saved after the checklist
        ("text_summarize", [1, 3]),  # the intro, summarized after it is saved
        ("text_generate", [4]),  # the tweet
    ]
    intro = {"$from": f"{tasks[1].key}.output.text"}
    assert tasks[3].args["content"] == intro
    assert tasks[4].args["text"] == intro
    assert tasks[0].key == "create_feature_list"
    assert tasks[2].key == "create_checklist"
    assert tasks[5].key == "create_tweet"
    assert guess_media_type(tasks[3].args["name"]) == "text/markdown"


def test_the_german_file_name_keeps_its_umlaut():
    tasks = plan(FASTAPI_GOALS["de"])
    assert tasks[3].args["name"] == "einführung.md"


FETCH_GOALS = {
    "en": "Fetch https://example.com/ then summarize it, then save it as notes.md",
    "de": "Hole https://example.com/, dann fasse sie zusammen, dann speichere sie als notizen.md",
    "fr": "Récupère https://example.com/, puis résume-la, puis enregistre-la sous notes.md",
    "es": "Descarga https://example.com/, luego resúmela y luego guárdala como notas.md",
}


@pytest.mark.parametrize("language", FETCH_GOALS)
def test_fetch_then_summarize_then_save(language):
    fetch, summary, write = plan(FETCH_GOALS[language])
    assert (fetch.key, fetch.args) == ("fetch_example_com", {"url": "https://example.com/"})
    assert (summary.key, summary.depends_on) == ("summarize_page", ["fetch_example_com"])
    assert (write.tool, write.depends_on) == ("file_write_artifact", ["summarize_page"])
    assert write.args == {
        "name": {"en": "notes.md", "de": "notizen.md", "fr": "notes.md", "es": "notas.md"}[language]
    }


GIVEN_TEXT = {
    "en": ("Summarize the following text in two sentences: ", "Redis is fast. Save it to a file, then stop."),
    "de": (
        "Fasse den folgenden Text in zwei Sätzen zusammen: ",
        "Redis ist schnell. Speichere ihn in einer Datei, dann höre auf.",
    ),
    "fr": (
        "Résume le texte suivant en deux phrases : ",
        "Redis est rapide. Enregistre-le dans un fichier, puis arrête.",
    ),
    "es": (
        "Resume el siguiente texto en dos frases: ",
        "Redis es rápido. Guárdalo en un archivo y luego para.",
    ),
}


@pytest.mark.parametrize("language", GIVEN_TEXT)
def test_summarize_the_following_text(language):
    ask, text = GIVEN_TEXT[language]
    (task,) = plan(ask + text)
    assert (task.key, task.tool, task.depends_on) == ("summarize_text", "text_summarize", [])
    assert task.args == {"max_sentences": 2, "text": text}


@pytest.mark.parametrize(
    "goal",
    [
        "Schreibe eine kurze Einführung in FastAPI und speichere sie als einfuehrung.md",
        "Écris une courte introduction à FastAPI et enregistre-la sous introduction.md",
        "Escribe una breve introducción a FastAPI y guárdala como introduccion.md",
    ],
)
def test_write_and_save_it_keeps_the_file(goal):
    intro, write = plan(goal)
    assert (intro.key, intro.tool) == ("create_intro", "text_generate")
    assert (write.tool, write.depends_on) == ("file_write_artifact", ["create_intro"])
    assert write.args["name"].endswith(".md")


@pytest.mark.parametrize(
    ("goal", "steps"),
    [
        ("a, und dann b danach c; anschliessend d", ["A", "B", "C", "D"]),
        ("a puis b, et ensuite c, après ça x", ["A", "B", "C", "X"]),
        ("a y luego b, después c, entonces d, a continuación e", ["A", "B", "C", "D", "E"]),
        ("Lies es nach dem Essen", ["Lies es nach dem Essen"]),
        ("Écris un poème après le déjeuner", ["Écris un poème après le déjeuner"]),
        ("Escribe un poema después de comer", ["Escribe un poema después de comer"]),
        ("Schreibe ein Gedicht. Fasse es zusammen.", ["Schreibe ein Gedicht", "Fasse es zusammen"]),
    ],
)
def test_separators_in_every_language(goal, steps):
    assert split_steps(goal) == steps


@pytest.mark.parametrize(
    "goal",
    [
        "Schreibe ein Gedicht, dann schreibe eine Geschichte",
        "Écris un poème, puis écris une histoire",
        "Escribe un poema, luego escribe una historia",
    ],
)
def test_then_orders_steps_in_every_language(goal):
    poem, story = plan(goal)
    assert (poem.key, story.key, story.depends_on) == ("create_poem", "create_story", ["create_poem"])


@pytest.mark.parametrize(
    "goal",
    [
        "Schreibe ein Gedicht; schreibe eine Geschichte",
        "Écris un poème ; écris une histoire",
        "- Escribe un poema\n- escribe una historia",
    ],
)
def test_enumerated_unrelated_steps_run_in_parallel_in_every_language(goal):
    assert [t.depends_on for t in plan(goal)] == [[], []]


@pytest.mark.parametrize(
    "goal",
    [
        "Schreibe einen Bericht; schreibe eine E-Mail; vergleiche beide",
        "Écris un rapport ; écris un e-mail ; compare les deux",
        "Escribe un informe; escribe un correo; compara ambos",
    ],
)
def test_combine_words_in_every_language(goal):
    report, email, compare = plan(goal)
    assert (report.key, email.key) == ("create_report", "create_email")
    assert compare.depends_on == ["create_report", "create_email"]


WORDS = [
    *"ab1.-;:,\n \"'",
    "then ",
    "dann ",
    "puis ",
    "luego ",
    "write ",
    "schreibe ",
    "résume ",
    "resume la ",
    "summarize ",
    "save ",
    "speichere ",
    "guárdala ",
    "the intro ",
    "die Einleitung ",
    "l'introduction ",
    "an intro ",
    "a checklist ",
    "the checklist ",
    "intro.md ",
    "file ",
    "Datei ",
    "it ",
    "sie ",
    "-la ",
    "both ",
    "the following text: ",
    "https://x.io/ ",
    "- ",
    "1. ",
    "2. ",
]


@given(st.lists(st.sampled_from(WORDS), max_size=30).map("".join))
def test_any_multilingual_goal_yields_a_valid_plan_or_a_plan_invalid(goal):
    assert_planned_in_order_or_refused(goal)


ASK_GOALS = {
    "en": (
        "Ask me which language to use, then write a hello world in it",
        "Which language to use?",
        "Write a hello world in it",
    ),
    "de": (
        "Frag mich, welche Programmiersprache ich verwenden soll, "
        "dann schreibe ein Hallo-Welt-Programm darin",
        "Welche Programmiersprache ich verwenden soll?",
        "Schreibe ein Hallo-Welt-Programm darin",
    ),
    "fr": (
        "Demande-moi quel langage utiliser, puis écris un hello world dans ce langage",
        "Quel langage utiliser?",
        "Écris un hello world dans ce langage",
    ),
    "es": (
        "Pregúntame qué lenguaje usar, luego escribe un hola mundo en él",
        "Qué lenguaje usar?",
        "Escribe un hola mundo en él",
    ),
}


@pytest.mark.parametrize("language", ASK_GOALS)
def test_ask_me_then_a_step_that_reads_the_answer(language):
    goal, question, prompt = ASK_GOALS[language]
    ask, hello = plan(goal)
    assert links([ask, hello]) == [("ask_human", []), ("text_generate", [0])]  # it reads the answer
    assert ask.args == {"question": question}
    assert (ask.key, ask.title, ask.critic_required) == ("ask_human", f"Ask: {question}", False)
    assert hello.args == {"prompt": prompt}


@pytest.mark.parametrize(
    "goal",
    [
        "Write a short note, then ask me whether to keep it",
        "Schreibe eine kurze Notiz, dann frag mich, ob ich sie behalten soll",
        "Écris une courte note, puis demande-moi si je dois la garder",
        "Escribe una nota corta, luego pregúntame si debo guardarla",
    ],
)
def test_a_question_after_a_step_waits_for_it(goal):
    note, ask = plan(goal)
    assert links([note, ask]) == [("text_generate", []), ("ask_human", [0])]
    assert ask.args["question"].endswith("?")
