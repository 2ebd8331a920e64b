"""A person's input mid-plan: the ``ask_human`` tool's arguments, and checking an answer against them.

An ``ask_human`` task is not run by a worker: when it would be dispatched, the Orchestrator puts it in
``awaiting_input`` and ``POST /tasks/{id}/input`` completes it with the answer (ADR 0028). Pure: the
API and the Orchestrator call these checks; nothing here does I/O.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

ASK_HUMAN = "ask_human"
MAX_SCHEMA_BYTES = 8_000
MAX_SCHEMA_DEPTH = 8
MAX_ANSWER_BYTES = 32_000
MAX_ANSWER_DEPTH = 16
MAX_TEXT_ANSWER = 10_000
# Without a schema or choices the answer is free text.
TEXT_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT_ANSWER}


def depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def _unsafe_keywords(schema: Any) -> str | None:
    """Why a person's answer could not be checked against ``schema`` safely, if it could not: a
    regular expression (``pattern``, ``patternProperties``) may take unbounded time on an answer, and
    a ``$ref`` outside the schema would have to be fetched."""
    if isinstance(schema, list):
        return next((found for item in schema if (found := _unsafe_keywords(item))), None)
    if not isinstance(schema, dict):
        return None
    if isinstance(schema.get("pattern"), str) or isinstance(schema.get("patternProperties"), dict):
        return (
            "pattern and patternProperties are not supported (a regular expression may take "
            "unbounded time): use enum or choices"
        )
    for keyword in ("$ref", "$dynamicRef"):
        ref = schema.get(keyword)
        if isinstance(ref, str) and not ref.startswith("#"):
            return (
                f"{keyword} {ref!r} points outside the schema: only references within it (#...) are supported"
            )
    return next((found for value in schema.values() if (found := _unsafe_keywords(value))), None)


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode())


class AskHumanArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=2000, description="What to ask the person.")
    schema_: dict[str, Any] | None = Field(
        default=None,
        alias="schema",
        description="A JSON schema the answer must match (default: free text).",
    )
    choices: list[str] | None = Field(
        default=None,
        min_length=2,
        max_length=20,
        description="The answers the person picks from (each up to 200 characters).",
    )

    @field_validator("question")
    @classmethod
    def _not_blank(cls, question: str) -> str:
        if not question.strip():
            raise PydanticCustomError("question_blank", "the question is blank", {})
        return question.strip()

    @field_validator("schema_")
    @classmethod
    def _a_bounded_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is None:
            return None
        if _size(schema) > MAX_SCHEMA_BYTES:
            raise PydanticCustomError(
                "schema_size", "the schema is larger than {n} bytes", {"n": MAX_SCHEMA_BYTES}
            )
        if depth(schema) > MAX_SCHEMA_DEPTH:
            raise PydanticCustomError(
                "schema_depth", "the schema nests deeper than {n} levels", {"n": MAX_SCHEMA_DEPTH}
            )
        if unsafe := _unsafe_keywords(schema):
            raise PydanticCustomError("schema_unsupported", "{what}", {"what": unsafe})
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            where = "/".join(map(str, exc.absolute_path)) or "(top)"
            raise PydanticCustomError(
                "schema_invalid",
                "not a valid JSON schema at {where}: {msg}",
                {"where": where, "msg": exc.message},
            ) from exc
        return schema

    @field_validator("choices")
    @classmethod
    def _plain_choices(cls, choices: list[str] | None) -> list[str] | None:
        if choices is None:
            return None
        if any(not c.strip() or len(c) > 200 for c in choices):
            raise PydanticCustomError("choice_length", "each choice has 1 to 200 characters", {})
        if len(set(choices)) != len(choices):
            raise PydanticCustomError("choice_repeated", "a choice is listed twice", {})
        return choices


class AskHumanOutput(BaseModel):
    answer: Any = Field(description="The answer as given: valid against the schema, or one of the choices.")
    text: str = Field(description="The answer as text, for the tools that read their inputs' text.")


def question_of(args: dict[str, Any]) -> dict[str, Any]:
    """The question as the ``task.awaiting_input`` event and the UI show it: question, schema, choices."""
    return {
        "question": args.get("question", ""),
        "schema": args.get("schema"),
        "choices": args.get("choices"),
    }


def answer_problems(args: dict[str, Any], answer: Any) -> list[str]:
    """What is wrong with ``answer`` to the question ``args`` (an ask_human task's args); [] when valid.

    Bounded first (size, depth), then one of the choices, then valid against the schema (free text,
    up to 10,000 characters, when the question has neither).
    """
    if depth(answer) > MAX_ANSWER_DEPTH:
        return [f"answer: nests deeper than {MAX_ANSWER_DEPTH} levels"]
    if _size(answer) > MAX_ANSWER_BYTES:
        return [f"answer: larger than {MAX_ANSWER_BYTES} bytes"]
    choices = args.get("choices")
    if choices and answer not in choices:
        return [f"answer: {_shown(answer)} is not one of the choices: {', '.join(map(repr, choices))}"]
    schema = args.get("schema") or (None if choices else TEXT_SCHEMA)
    if schema is None:
        return []
    from jsonschema import Draft202012Validator

    try:
        found = sorted(Draft202012Validator(schema).iter_errors(answer), key=lambda e: list(e.absolute_path))
    except Exception as exc:  # e.g. a reference to a part of the schema that is not there
        return [f"answer: the question's schema cannot check it ({type(exc).__name__}: {exc})"]
    return [".".join(["answer", *map(str, e.absolute_path)]) + f": {e.message}" for e in found]


def answer_output(answer: Any) -> dict[str, Any]:
    """The task's output for an answer: the answer, and the answer as text (what dependents read)."""
    text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
    return AskHumanOutput(answer=answer, text=text).model_dump(mode="json")


def _shown(answer: Any) -> str:
    shown = json.dumps(answer, ensure_ascii=False)
    return shown if len(shown) <= 80 else shown[:77] + "..."
