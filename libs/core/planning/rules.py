"""The default planner: deterministic rules that turn a goal's steps into tasks, no model needed.

A goal is split into steps (``steps.py``) and each step is read (``reading.py``). A step becomes one
task, or a short chain when it asks for more than one thing ("fetch <url> and summarize it" is a
fetch, then a summary of it). What a step's first task reads, and what it waits for:

- It reads what it names: an earlier deliverable ("the intro", "die Einleitung") or file ("intro.md");
  else, for "combine"/"both", every result no task has read yet; else, for a pronoun ("it", "sie",
  "-la"), the previous step's result. A summary or file that names nothing reads the previous result.
- After "then", a new sentence or a new line it also waits for the previous step (an order-only
  dependency), unless it fetches its own URL. ";" and list items only enumerate: after them a step
  waits only for what it reads.
- A summary or file that waits for more than it reads takes its text by reference
  (``{"$from": "<task>.output.text"}``), since those tools otherwise read every dependency.

A step that opens by asking the person ("ask me which language to use", "frag mich ...") becomes an
``ask_human`` task; the steps after it read the answer like any earlier result.

Files are written only when a step asks to save or write a file (a file name, or the word "file").
A one-step goal that no rule understands becomes one ``text_generate`` task titled ``NO_RULE_TITLE``.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from planwright.core.human_input import ASK_HUMAN
from planwright.core.plan import PlanSpec, TaskSpec
from planwright.core.planning.reading import Ask, created, read_step
from planwright.core.planning.steps import Step, read_steps, split_steps
from planwright.core.planning.validation import ToolCatalog, validate_plan
from planwright.core.refs import REF_KEY

__all__ = ["DEFAULT_ARTIFACT_NAME", "NO_RULE_TITLE", "RuleBasedPlanner", "split_steps"]

DEFAULT_ARTIFACT_NAME = "artifact.md"
NO_RULE_TITLE = "Generate text (no rule matched: answered by the model as one step)"

_SOURCE_KIND = {"file_write_artifact": "artifact", "http_fetch": "page"}
_TEXT_OUTPUT_TOOLS = frozenset({"text_generate", "text_summarize", "http_fetch", ASK_HUMAN})
_KEY_JUNK = re.compile(r"[^a-z0-9]+")


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
        steps = read_steps(goal)
        builder = _PlanBuilder(single_step=len(steps) == 1)
        for step in steps:
            builder.add_step(step)
        plan = PlanSpec(tasks=builder.tasks)
        validate_plan(plan, self._tools, max_tasks=self._max_tasks)
        return plan


class _PlanBuilder:
    """Turns steps into tasks, tracking which task made what and whose results are still unread."""

    def __init__(self, *, single_step: bool) -> None:
        self.tasks: list[TaskSpec] = []
        self._single_step = single_step
        self._tool_of: dict[str, str] = {}
        self._suffix: dict[str, int] = {}  # the last suffix given to each key's base
        self._unconsumed: list[str] = []  # results no later task has read yet, oldest first
        self._previous: list[str] = []  # the results of the step before this one
        self._made: dict[str, str] = {}  # deliverable ("intro", "summary", "file") -> the task that made it
        self._files: dict[str, str] = {}  # file name, lower case -> the task that wrote it

    def add_step(self, step: Step) -> None:
        ask = read_step(step)
        if ask.question is not None:
            self._previous = [self._ask_human(ask, list(self._previous) if step.sequenced else [])]
            return
        target = self._file_target(ask)
        named, label = self._named(ask, target)
        inputs = named or self._implied_inputs(ask)
        after = [] if _starts_fresh(ask, step, inputs) else list(self._previous)

        source: list[str] | None = None  # the results the step's next task works on
        if ask.urls:
            source = [self._fetch(ask, url) for url in ask.urls]
        elif target is not None and ask.writes_own:
            source, after = [self._generate(ask, named, after)], []
        if ask.summarize:
            source = self._summarize_stage(ask, source, inputs, after, label)
            after = []
        if target is not None:
            source = self._write_stage(ask, target, source, inputs, after)
            after = []
        if ask.urls and not (ask.summarize or target is not None or ask.fetch):
            source = [self._generate(ask, [*(source or []), *inputs], after)]
        self._previous = source if source is not None else [self._generate(ask, inputs, after)]

    def _file_target(self, ask: Ask) -> str | None:
        """The file the step writes: its first file name not written before (else its last one)."""
        if not ask.wants_file:
            return None
        fresh = [name for name in ask.file_names if name.lower() not in self._files]
        return fresh[0] if fresh else (ask.file_names[-1] if ask.file_names else DEFAULT_ARTIFACT_NAME)

    def _named(self, ask: Ask, target: str | None) -> tuple[list[str], str | None]:
        """The earlier results the step names, and what it called the first one ("intro").

        In a step that writes a file, "the file" is the one it writes, not an earlier one.
        """
        keys: list[str] = []
        labels: list[str] = []
        for mention in ask.mentions:
            if mention.definite and mention.name in self._made and not (target and mention.name == "file"):
                keys.append(self._made[mention.name])
                labels.append("artifact" if mention.name == "file" else mention.name)
        for name in ask.file_names:
            if name != target and name.lower() in self._files:
                keys.append(self._files[name.lower()])
                labels.append("artifact")
        return list(dict.fromkeys(keys)), labels[0] if labels else None

    def _implied_inputs(self, ask: Ask) -> list[str]:
        """What a step reads without naming it: "combine"/"both" every unread result, "it" the previous."""
        if ask.combines:
            return list(self._unconsumed)
        # In "fetch <url> and summarize it", "write a poem and save it", "it" is the step's own result.
        if ask.points_back and not (ask.urls or ask.writes_own):
            return list(self._previous)
        return []

    def _summarize_stage(
        self, ask: Ask, source: list[str] | None, inputs: list[str], after: list[str], label: str | None
    ) -> list[str]:
        if ask.given is not None and source is None:
            return [self._summarize(ask, [], after, "text", text=ask.given)]
        reads = source if source is not None else (inputs or self._previous)
        if not reads:  # nothing earlier to summarize: write the summary the step asks for
            return [self._generate(ask, [], after)]
        kind = label if source is None and label else self._kind(reads)
        return [self._summarize(ask, reads, after, kind)]

    def _write_stage(
        self, ask: Ask, name: str, source: list[str] | None, inputs: list[str], after: list[str]
    ) -> list[str]:
        args: dict[str, Any] = {"name": name}
        if ask.given is not None and source is None:
            args["content"] = ask.given
            reads, deps = [], _merge(inputs, after)
        else:
            reads = source if source is not None else (inputs or self._previous)
            if not reads:  # nothing earlier to write down: generate the content first
                reads, after = [self._generate(ask, [], after)], []
            deps, pinned = self._reading(reads, after, "file_write_artifact")
            if pinned is not None:
                args["content"] = pinned
        key = self._add("Write artifact", "file_write_artifact", ask, deps, reads, critic=True, args=args)
        self._made["file"] = self._files[name.lower()] = key
        return [key]

    def _reading(
        self, reads: list[str], after: list[str], tool: str
    ) -> tuple[list[str], dict[str, str] | None]:
        """Dependencies for a task that reads ``reads`` and waits for ``after``, and the reference that
        pins what it reads when it waits for more (text_summarize and file_write_artifact read every
        dependency otherwise)."""
        extra = [key for key in after if key not in reads]
        if not extra:
            return reads, None
        if len(reads) == 1 and self._tool_of[reads[0]] in _TEXT_OUTPUT_TOOLS:
            return [*reads, *extra], {REF_KEY: f"{reads[0]}.output.text"}
        if len(reads) == 1 and tool == "text_summarize":  # it reads the first artifact: reads[0]
            return [*reads, *extra], None
        return reads, None  # waiting on more would change what the tool reads: the order is given up

    def _kind(self, reads: list[str]) -> str:
        tools = {self._tool_of[key] for key in reads}
        return _SOURCE_KIND.get(tools.pop(), "text") if len(tools) == 1 else "text"

    def _fetch(self, ask: Ask, url: str) -> str:
        try:
            host = urlsplit(url).hostname or url
        except ValueError:  # e.g. a malformed IPv6 host; the fetch tool will report it
            host = url
        key = self._add(f"Fetch {host}", "http_fetch", ask, [], [], critic=False, args={"url": url})
        self._made["page"] = key
        return key

    def _ask_human(self, ask: Ask, after: list[str]) -> str:
        """A question for the person; the steps that read it get the answer as their input's text."""
        args = {"question": ask.question}
        title = f"Ask: {ask.question}"
        return self._add(title, ASK_HUMAN, ask, after, [], critic=False, args=args, key_base="ask_human")

    def _summarize(
        self, ask: Ask, reads: list[str], after: list[str], kind: str, *, text: str | None = None
    ) -> str:
        args: dict[str, Any] = {"max_sentences": ask.max_sentences}
        deps, pinned = self._reading(reads, after, "text_summarize") if reads else (list(after), None)
        if text is not None or pinned is not None:
            args["text"] = text if text is not None else pinned
        key = self._add(f"Summarize {kind}", "text_summarize", ask, deps, reads, critic=False, args=args)
        self._made["summary"] = key
        return key

    def _generate(self, ask: Ask, reads: list[str], after: list[str]) -> str:
        names = created(ask, set(self._made))
        if names:
            title = f"Create {names[0]}"
        elif self._single_step and not ask.recognised:
            title = NO_RULE_TITLE
        else:
            title = "Generate text"
        deps = _merge(reads, after)
        key_base = "generate_text" if title == NO_RULE_TITLE else None
        key = self._add(
            title,
            "text_generate",
            ask,
            deps,
            reads,
            critic=True,
            args={"prompt": ask.text},
            key_base=key_base,
        )
        for name in names:
            self._made[name] = key
        return key

    def _add(
        self,
        title: str,
        tool: str,
        ask: Ask,
        deps: list[str],
        reads: list[str],
        *,
        critic: bool,
        args: dict[str, Any],
        key_base: str | None = None,
    ) -> str:
        key = self._unique_key(key_base or title)
        task = TaskSpec(
            key=key,
            title=title[:200],
            description=ask.text[:2000],
            tool=tool,
            args=args,
            depends_on=deps,
            critic_required=critic,
        )
        self.tasks.append(task)
        self._tool_of[key] = tool
        self._unconsumed = [k for k in self._unconsumed if k not in reads] + [key]
        return key

    def _unique_key(self, title: str) -> str:
        base = _KEY_JUNK.sub("_", title.lower()).strip("_")
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


def _starts_fresh(ask: Ask, step: Step, inputs: list[str]) -> bool:
    """Whether the step waits only for what it reads: it follows a separator that only enumerates
    (";", a list item), or it fetches its own URL and reads nothing earlier."""
    return not step.sequenced or (bool(ask.urls) and not inputs)


def _merge(first: list[str], then: list[str]) -> list[str]:
    return list(dict.fromkeys([*first, *then]))
