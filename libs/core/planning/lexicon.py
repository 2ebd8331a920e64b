"""The words the rule planner understands: one row per language, one table of deliverables.

Every entry is a regular-expression fragment, matched case-insensitively as a whole word (``\\b`` on
both sides), so a verb's endings can be written once (``speicher\\w*``). Adding a language is adding a
``Language`` row to ``LANGUAGES`` and its nouns to ``DELIVERABLES``; ``planning/reading.py`` and
``planning/steps.py`` compile the union of all rows once, at import.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Language:
    then: tuple[str, ...]  # a separator meaning "after that": "then", "dann", "puis", "luego"
    and_: tuple[str, ...]  # "and", allowed before a then-word: "and then", "und dann"
    finally_: tuple[str, ...]  # a step opener that also means "after the others"
    also: tuple[str, ...]  # a step opener that adds a step without ordering it
    create: tuple[str, ...]  # verbs asking for new text
    summarize: tuple[str, ...]
    save: tuple[str, ...]  # verbs that store text: a file when the step names one
    fetch: tuple[str, ...]  # verbs that only fetch a URL the step gives
    combine: tuple[str, ...]  # words that take every result not used yet
    file: tuple[str, ...]  # the word for a file
    into: tuple[str, ...]  # what a combination becomes: "combine them into a proposal"
    pronouns: tuple[str, ...]  # words pointing at the previous step's result
    articles: tuple[str, ...]  # definite articles and demonstratives: "the intro" names an earlier one
    text_nouns: tuple[str, ...]  # "the following text: ..." makes the rest of the goal data
    sentence: tuple[str, ...]  # "sentence(s)", for "in two sentences"
    numbers: tuple[str, ...]  # one to ten, in order
    ask: tuple[str, ...] = ()  # a step opener asking the person a question: "ask me", "frag mich"


ENGLISH = Language(
    then=("then", "after that", "afterwards"),
    and_=("and",),
    finally_=("finally", "lastly"),
    also=("also",),
    create=(
        r"writ(?:e|es|ing)",
        r"creat\w*",
        r"generat\w*",
        r"draft\w*",
        r"mak(?:e|es|ing)",
        r"compos\w*",
        r"produc\w*",
        r"prepar\w*",
        r"list",
        r"outlin\w*",
        r"giv(?:e|es)",
        r"suggest\w*",
        r"propos\w*",
        r"design\w*",
        r"explain\w*",
        r"describ\w*",
        r"translat\w*",
        r"rewrit\w*",
        r"brainstorm\w*",
    ),
    summarize=(r"summari[sz]\w*", "summary", r"tl;?dr", r"condens\w*"),
    save=(r"writ\w*", r"sav(?:e|es|ing)", r"stor(?:e|es|ing)", r"export\w*"),
    fetch=(
        r"fetch\w*",
        r"download\w*",
        "get",
        "gets",
        r"retriev\w*",
        r"grab\w*",
        r"load\w*",
        r"read\w*",
        r"open\w*",
        r"visit\w*",
        r"scrap\w*",
        r"crawl\w*",
    ),
    combine=(
        r"combin\w*",
        r"compar\w*",
        r"merg\w*",
        r"consolidat\w*",
        r"contrast\w*",
        "both",
        "all of them",
        r"all (?:of )?the results",
    ),
    file=("files?", "artifacts?"),
    into=("into", "as"),
    pronouns=("it", "its", "them", "this", "that", "these", "those", r"the (?:results?|output|above)"),
    articles=("the", "this", "that", "these", "those"),
    text_nouns=("text", "passage", "excerpt"),
    sentence=("sentences?",),
    numbers=("one|a single", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    ask=(r"ask (?:me|us|the user|a person|a human)",),
)

GERMAN = Language(
    then=("dann", "danach", "anschlie(?:ß|ss)end", "daraufhin"),
    and_=("und",),
    finally_=("schlie(?:ß|ss)lich", "zuletzt", "zum schluss"),
    also=("au(?:ß|ss)erdem", "auch"),
    create=(
        r"erstell\w*",
        r"schreib\w*",
        r"verfass\w*",
        r"generier\w*",
        r"entw[ie]rf\w*",
        r"formulier\w*",
        r"liste(?:n|t)?",
        r"nenn\w*",
        "mach(?:e|en|t)?",
        r"erkl[äa]r\w*",
        r"beschreib\w*",
        r"übersetz\w*",
    ),
    summarize=(r"zusammenfass\w*", r"fass(?:e|t|en)?\b.*?\bzusammen"),
    save=(r"speicher\w*", r"schreib\w*", "sicher(?:e|n|t)", r"exportier\w*"),
    fetch=(
        "hol(?:e|en|t)?",
        "lad(?:e|en|t)?",
        r"herunterlad\w*",
        r"abruf\w*",
        "ruf(?:e|t)?",
        r"öffne\w*",
        "lies",
    ),
    combine=(r"kombinier\w*", r"vergleich\w*", r"zusammenführ\w*", r"beide[ns]?", "alle ergebnisse"),
    file=("datei(?:en)?",),
    into=("als", "in", "zu"),
    pronouns=(
        "sie",
        "es",
        "ihn",
        "ihm",
        "dies",
        "diese[nrms]?",
        "das ergebnis",
        "darüber",
        "daraus",
        "davon",
        "damit",
    ),
    articles=("der", "die", "das", "den", "dem", "des", "diese[nrms]?"),
    text_nouns=("text(?:es)?", "textabschnitt", "abschnitt"),
    sentence=("sätzen?", "satz"),
    numbers=(
        "eins|ein(?:e|em|en|er)?",
        "zwei",
        "drei",
        "vier",
        "fünf",
        "sechs",
        "sieben",
        "acht",
        "neun",
        "zehn",
    ),
    ask=(r"frag(?:e|t)? (?:mich|uns|den (?:benutzer|nutzer))",),
)

FRENCH = Language(
    then=(
        "puis",
        "ensuite",
        # "après" only as a separator: not "après le déjeuner", "après avoir lu".
        r"après(?:\s+(?:cela|ça|quoi))?(?!\s+(?:de|d|avoir|être|le|la|les|l|un|une|des|du|que|qu)\b)",
    ),
    and_=("et",),
    finally_=("enfin", "finalement"),
    also=("aussi", "également"),
    create=(
        r"cré\w*",
        r"rédig\w*",
        r"écri\w*",
        r"génér\w*",
        "liste[rz]?",
        "fais",
        "faites",
        r"prépar\w*",
        r"propos\w*",
        r"expliqu\w*",
        r"décri\w*",
        r"tradui\w*",
    ),
    summarize=(r"résum\w*", r"synthétis\w*"),
    save=(r"enregistr\w*", r"sauvegard\w*", r"écri\w*", r"stock\w*", r"export\w*"),
    fetch=(r"récup[éè]r\w*", r"télécharg\w*", r"charg\w*", r"ouvr\w*", "lis", "lire", r"visit\w*"),
    combine=(r"combin\w*", r"compar\w*", r"fusionn\w*", "les deux", "tous les résultats"),
    file=("fichiers?",),
    into=("en", "comme", "sous"),
    pronouns=(
        "-(?:le|la|les|lui)",
        "ceci",
        "cela",
        "ça",
        "celui-ci",
        "celle-ci",
        "ceux-ci",
        "le résultat",
        "à son sujet",
    ),
    articles=("le", "la", "les", "ce", "cet", "cette", "ces", r"l['\u2019]"),
    text_nouns=("textes?", "passage", "extrait"),
    sentence=("phrases?",),
    numbers=("une?|une seule", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"),
    ask=(r"demande[zs]?[- ](?:moi|nous)", r"demande[zs]? à l['\u2019]utilisateur"),
)

SPANISH = Language(
    then=("luego", r"después(?:\s+de\s+(?:eso|esto|ello))?(?!\s+de\b)", "entonces", "a continuación"),
    and_=("y",),
    finally_=("finalmente", "por último"),
    also=("también", "además"),
    create=(
        r"crea\w*",
        r"escrib\w*",
        r"redact\w*",
        r"genera\w*",
        r"enumer\w*",
        r"lista\w*",
        "haz",
        "hacer",
        r"prepar\w*",
        r"elabor\w*",
        r"propon\w*",
        r"explic\w*",
        r"describ\w*",
        r"traduc\w*",
    ),
    summarize=(
        # "resume" is also an English noun: the Spanish verb only before what it summarizes.
        r"resum(?:ir|iendo|an|amos|e(?=\s+(?:el|la|los|las|lo|esto|eso|este|esta|estos|estas|del)\b))",
        r"resúme\w*",
        "resumen(?:es)?",
        r"sintetiz\w*",
    ),
    save=("guard(?:a|ar|e|en|ad)", r"guárd\w*", r"escrib\w*", r"almacen\w*", r"export\w*", "grab(?:a|ar)"),
    fetch=(r"obtén\w*", r"obten\w*", r"descarg\w*", "carg(?:a|ar)", "abr(?:e|ir)", "le(?:e|er)", r"trae\w*"),
    combine=(r"combin\w*", r"compar\w*", r"fusion\w*", "ambos", "ambas", "todos los resultados"),
    file=("archivos?", "ficheros?"),
    into=("en", "como"),
    pronouns=(
        "él",
        "ello",
        "eso",
        "esto",
        "lo",
        # an imperative with an attached pronoun: resúmelo, guárdala, escríbelos
        r"\w+[áéíóú]\w{1,3}(?:lo|la|los|las)",
        "hazl[oa]s?",
    ),
    articles=("el", "la", "los", "las", "del", "al", "este", "esta", "estos", "estas", "ese", "esa"),
    text_nouns=("textos?", "pasaje", "fragmento"),
    sentence=("frases?", "oraci(?:ón|ones)"),
    numbers=("una?|uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"),
    ask=(r"preg[uú]nta(?:me|nos)", r"preg[uú]ntale al usuario"),
)

LANGUAGES: dict[str, Language] = {"en": ENGLISH, "de": GERMAN, "fr": FRENCH, "es": SPANISH}

# What a step can ask to create, by the name the plan uses ("Create checklist"), in every language.
# A later step that names one with a definite article ("the intro", "die Einleitung") reads it.
DELIVERABLES: dict[str, tuple[str, ...]] = {
    "checklist": (
        "check-?lists?",
        "checkliste[n]?",
        "listes? de (?:contrôle|vérification)",
        "listas? de (?:verificación|comprobación|control)",
    ),
    "feature list": (
        "features? lists?",
        "lists? of features",
        "features",
        r"\w*funktionen",
        "merkmale",
        "fonctionnalités",
        "caractéristiques",
        "características",
        "funcionalidades",
    ),
    "intro": ("intros?", "introductions?", r"einleitung\w*", r"einführung\w*", "introducci(?:ón|ones)"),
    "paragraph": ("paragraphs?", r"\w*absatz", r"\w*absätze", "paragraphes?", "párrafos?"),
    "summary": ("summary", "summaries", "zusammenfassung(?:en)?", "résumés?", "resumen(?:es)?"),
    "tweet": ("tweets?",),
    "list": ("lists?", "listen?", "listes?", "listas?"),
    "report": ("reports?", r"bericht\w*", "rapports?", "informes?"),
    "email": ("e-?mails?", "correos?"),
    "plan": ("plans?", "planes"),
    "article": ("articles?", "artikel", "artículos?"),
    "outline": ("outlines?", "gliederung(?:en)?", "esquemas?"),
    "draft": ("drafts?", r"entw[üu]rfe?", "brouillons?", "borradores?"),
    "table": ("tables?", "tabellen?", "tableaux?", "tablas?"),
    "description": ("descriptions?", "beschreibung(?:en)?", "descripci(?:ón|ones)"),
    "proposal": ("proposals?", "vorschläge?", "propositions?", "propuestas?"),
    "memo": ("memos?",),
    "letter": ("letters?", "lettres?", "cartas?"),
    "essay": ("essays?",),
    "agenda": ("agendas?",),
    "roadmap": ("roadmaps?",),
    "timeline": ("timelines?",),
    "faq": ("faqs?",),
    "guide": ("guides?", "leitf[äa]den"),
    "tutorial": ("tutorials?",),
    "story": ("story", "stories", "geschichten?", "histoires?", "historias?"),
    "poem": ("poems?", "gedichte?", "poèmes?", "poemas?"),
    "script": ("scripts?", "skripte?"),
    "specification": ("specifications?",),
    "overview": ("overviews?", "übersicht(?:en)?"),
    "analysis": ("analysis", "analyses", "analysen?", "análisis"),
    "recipe": ("recipes?", "rezepte?", "recettes?", "recetas?"),
    "itinerary": ("itinerar(?:y|ies)",),
    "readme": ("readmes?",),
    "changelog": ("changelogs?",),
}

# Results that a later step can name ("the page", "the file") but no step asks to create by name.
RESULTS: dict[str, tuple[str, ...]] = {
    "page": ("pages?", "web ?pages?", "seiten?", r"webseiten?", "páginas?"),
    "file": ("files?", "artifacts?", "datei(?:en)?", "fichiers?", "archivos?", "ficheros?"),
}


def alternation(*fields: str) -> str:
    """One regex alternation of the named ``Language`` fields' fragments in every language, longest first."""
    fragments = {f for lang in LANGUAGES.values() for name in fields for f in getattr(lang, name)}
    return "|".join(sorted(fragments, key=lambda f: (-len(f), f)))
