"""``planwright submit``: post a job and print its progress from the SSE stream."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any, TextIO

import httpx
import typer

_TERMINAL = {"job.succeeded", "job.failed", "job.cancelled"}


def _fail(message: str) -> typer.Exit:
    typer.echo(f"planwright: {message}", err=True)
    return typer.Exit(2)


def auth_headers(key: str | None) -> dict[str, str]:
    """The API key as the API wants it (none: an open API)."""
    return {"Authorization": f"Bearer {key}"} if key else {}


def error_message(resp: httpx.Response) -> str:
    try:
        message: str = resp.json()["error"]["message"]
        return message
    except (ValueError, KeyError, TypeError):
        return f"HTTP {resp.status_code}: {resp.text[:200]}"


def submit_job(
    api: str, goal: str, context: dict[str, Any], priority: int, *, key: str | None = None, attempts: int = 3
) -> dict[str, Any]:
    """POST the job with an Idempotency-Key, sent again on a connection failure: a job that was
    stored before the connection broke comes back instead of being submitted twice."""
    headers = {"Idempotency-Key": str(uuid.uuid4()), **auth_headers(key)}
    body = {"goal": goal, "context_json": context, "priority": priority}
    for attempt in range(1, attempts + 1):
        try:
            resp = httpx.post(f"{api}/jobs", json=body, headers=headers, timeout=30)
            break
        except httpx.TransportError as exc:
            if attempt == attempts:
                raise _fail(f"cannot reach the API at {api}: {exc}") from exc
            time.sleep(attempt)
    if resp.status_code not in (200, 201):
        raise _fail(error_message(resp))
    job: dict[str, Any] = resp.json()
    return job


def sse_events(lines: Iterator[str]) -> Iterator[tuple[int | None, str, dict[str, Any]]]:
    """Parse an SSE line stream into ``(id, event, data)``; comments and keep-alives are skipped."""
    event_id: int | None = None
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event_id, event, json.loads("\n".join(data))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                event_id = int(value)
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)


def _describe(event: str, data: dict[str, Any]) -> str | None:
    payload = data.get("data", {})
    if event.startswith("task."):
        state = event.removeprefix("task.")
        extra = payload.get("message") or payload.get("error") or payload.get("reason") or ""
        return (
            f"{payload.get('key', '?'):<24} {state:<10} attempt {payload.get('attempt', 1)}  {extra}".rstrip()
        )
    if event == "plan.created":
        steps = ", ".join(f"{t['key']} ({t['tool']})" for t in payload.get("tasks", []))
        return f"plan v{payload.get('version')}: {steps}"
    if event.startswith("job."):
        err = payload.get("error")
        return f"job {event.removeprefix('job.')}" + (f": {err}" if err else "")
    return None


def follow_job(api: str, job_id: str, *, out: TextIO, key: str | None = None) -> str:
    """Print events until the job ends; reconnects with Last-Event-ID. Returns the final job status."""
    last: int | None = None
    ended: str | None = None  # the last event was this terminal one; a later event means a retry reopened it
    while True:
        headers = {"Last-Event-ID": str(last)} if last is not None else {}
        headers.update(auth_headers(key))
        try:
            with httpx.stream("GET", f"{api}/jobs/{job_id}/events", headers=headers, timeout=None) as resp:
                if resp.status_code != 200:
                    resp.read()
                    raise _fail(f"cannot follow job {job_id}: {error_message(resp)}")
                for event_id, event, data in sse_events(resp.iter_lines()):
                    last = event_id if event_id is not None else last
                    line = _describe(event, data)
                    if line:
                        stamp = time.strftime("%H:%M:%S")
                        out.write(f"[{stamp}] {line}\n")
                        out.flush()
                    ended = event.removeprefix("job.") if event in _TERMINAL else None
        except httpx.TransportError:
            time.sleep(1.0)  # the API went away; resume where we were
            continue
        if ended is not None:  # the API ends the stream after the job's last event
            return ended
        # The stream ended without a terminal event (server restart): resume.
