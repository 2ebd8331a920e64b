"""What ``planwright submit``, ``retry`` and ``answer`` do over the API, through ``planwright.client``:
read a plan file, print a job's progress from its event stream (with how to answer a question), turn
the client's errors into the CLI's exit codes."""

from __future__ import annotations

import contextlib
import json
import shlex
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

import typer

from planwright.client import Client, ConnectionFailed, Event, Id, PlanwrightError
from planwright.client import sse_events as sse_events  # re-exported: tests read raw streams with it
from planwright.core.llm.notice import MOCK_NOTICE


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"planwright: {message}", err=True)
    return typer.Exit(code)


@contextlib.contextmanager
def exits(*, refused: int, what: str = "") -> Iterator[None]:
    """The client's errors as one line on stderr and an exit code: 2 when the API cannot be reached,
    ``refused`` when it answers with an error (the line is ``what`` and the API's message)."""
    try:
        yield
    except ConnectionFailed as exc:
        raise _fail(str(exc)) from exc
    except PlanwrightError as exc:
        raise _fail(f"{what}{exc}", refused) from exc


def read_plan(path: Path) -> dict[str, Any] | list[Any]:
    """The plan in a JSON file (``.json``) or a YAML file (anything else): ``{"tasks": [...]}`` or a
    list of tasks. A file that cannot be read, parsed or sent as JSON exits 2, saying why."""
    import yaml

    try:
        text = path.read_text(encoding="utf-8")
        plan = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        json.dumps(plan)  # YAML's dates and the like have no JSON form
    except OSError as exc:
        raise _fail(f"cannot read the plan {path}: {exc}") from exc
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise _fail(f"cannot parse the plan {path}: {exc}") from exc
    if not isinstance(plan, dict | list):
        raise _fail(f"the plan {path} must be a mapping with a list of tasks, or a list of tasks")
    return plan


def _describe(event: Event) -> str | None:
    payload = event.data
    if "delta" in payload:
        return None  # a model's streamed text (task.progress, plan.progress): the result prints it whole
    if event.type == "task.awaiting_input":
        return _question(event)
    if event.type.startswith("task."):
        state = event.type.removeprefix("task.")
        extra = payload.get("message") or payload.get("error") or payload.get("reason") or ""
        return (
            f"{payload.get('key', '?'):<24} {state:<10} attempt {payload.get('attempt', 1)}  {extra}".rstrip()
        )
    if event.type == "plan.created":
        steps = ", ".join(f"{t['key']} ({t['tool']})" for t in payload.get("tasks", []))
        return f"plan v{payload.get('version')}: {steps}"
    if event.type == "plan.replanned":
        return _replanned(payload)
    if event.type == "job.planning" and "replan" in payload:
        refused = payload.get("refused")
        why = f" (the last new plan was refused: {'; '.join(refused)})" if refused else ""
        return f"job replanning (round {payload['replan']}): {payload.get('reason', '')}{why}"
    if event.type.startswith("job."):
        err = payload.get("error")
        return f"job {event.type.removeprefix('job.')}" + (f": {err}" if err else "")
    return None


def _question(event: Event) -> str:
    """An ask_human task's question, its choices or schema, and the command that answers it."""
    payload = event.data
    lines = [f"{payload.get('key', '?'):<24} awaiting input: {payload.get('question', '')}"]
    command = f"planwright answer {event.task_id}"
    if choices := payload.get("choices"):
        lines.append(f"    choices: {', '.join(choices)}")
        lines.append(f"    answer with: {command} {shlex.quote(choices[0])}")
    elif schema := payload.get("schema"):
        lines.append(f"    answer schema: {json.dumps(schema)}")
        lines.append(f"    answer with: {command} --json '<JSON document>'")
    else:
        lines.append(f"    answer with: {command} '<your answer>'")
    return "\n".join(lines)


def _replanned(payload: dict[str, Any]) -> str:
    """``plan v2 (replanned: task 'x' failed: ...): +new -old ~changed; a (tool), ...``"""
    diff = payload.get("diff", {})
    marks = [
        *(f"+{k}" for k in diff.get("added", [])),
        *(f"-{k}" for k in diff.get("removed", [])),
        *(f"~{k}" for k in diff.get("changed", [])),
    ]
    steps = ", ".join(f"{t['key']} ({t['tool']})" for t in payload.get("tasks", []))
    return f"plan v{payload.get('version')} (replanned: {payload.get('reason')}): {' '.join(marks)}; {steps}"


def note_if_mock(client: Client) -> None:
    """Say on stderr when the built-in mock model writes the text (the job is submitted by now)."""
    with contextlib.suppress(PlanwrightError):  # only for this note
        health = client.health()
        if health.get("llm_provider") == "mock":
            typer.echo(f"note: {health.get('llm_notice', MOCK_NOTICE)}", err=True)


def follow_job(events: Iterable[Event], *, out: TextIO) -> str:
    """Print a job's events (``Client.events`` or ``Client.submit_and_follow``, which resume a dropped
    stream) until they end; returns the job's final status."""
    status = ""
    for event in events:
        if line := _describe(event):
            out.write(f"[{time.strftime('%H:%M:%S')}] {line}\n")
            out.flush()
        status = event.type.removeprefix("job.")
    return status


def print_result(client: Client, job_id: Id, *, out: TextIO, download: str) -> None:
    """The finished job's result: its final text (marked when the mock model wrote it), then each
    artifact with the command that downloads it (``download`` is that command up to the id)."""
    result = client.get(job_id).result
    if result is None:
        return
    if result.text:
        mock = any(task.mock for task in result.tasks if task.text)
        out.write(f"\nresult{f' ({MOCK_NOTICE})' if mock else ''}:\n\n{result.text}\n")
    for task in result.tasks:
        if task.status != "succeeded":
            out.write(f"\n{task.key} ({task.tool}) {task.status}: no output\n")
    if result.artifacts:
        out.write("\nartifacts:\n")
        for artifact in result.artifacts:
            name = artifact.name
            out.write(f"  {name}  {artifact.media_type}, {artifact.size} bytes\n")
            out.write(f"    {download} {artifact.id} -o {shlex.quote(name)}\n")
    out.flush()
