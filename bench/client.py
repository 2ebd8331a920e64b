"""The bench's view of Planwright: its public HTTP API only (POST /jobs, GET /jobs..., SSE, /healthz)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.config import Shape
from bench.http_raw import NotAStream, RawHttp, _header
from bench.util import BenchError

TERMINAL_EVENTS = ("job.succeeded", "job.failed", "job.cancelled")
UNFINISHED = ("pending", "planning", "running")
PAGE = 100


def parse_time(text: str) -> float:
    """An API timestamp (ISO 8601, UTC) as a Unix time."""
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _terminal(seen: list[tuple[str, float]], chunk: bytes) -> bool:
    """Whether an SSE chunk holds a job's terminal event (then noted in ``seen`` with its time)."""
    for kind in TERMINAL_EVENTS:
        if f"event: {kind}\n".encode() in chunk:
            seen.append((kind, time.monotonic()))
            return True
    return False


class Api:
    """An async client of one API process: the measured requests (submit, GET /jobs/{id}, the SSE
    stream) over the lean ``RawHttp``, the rest (listing, tasks) over httpx."""

    def __init__(self, base: str, connections: int = 100) -> None:
        url = httpx.URL(base)
        self.raw = RawHttp(url.host, url.port or 80, connections)
        self.submit_streams = True  # POST /jobs can answer with the job's events (``run``)
        # Idle connections are dropped well before uvicorn's 5 s keep-alive timeout closes them: reusing
        # one the server is closing at that moment fails the request (httpx.ReadError).
        limits = httpx.Limits(
            max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=1.0
        )
        self.http = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(60.0), limits=limits)

    async def close(self) -> None:
        await self.raw.close()
        await self.http.aclose()

    async def submit(self, goal: str, plan: dict[str, Any] | None = None) -> str:
        resp = await self.raw.request("POST", "/jobs", {"goal": goal, **({"plan": plan} if plan else {})})
        if resp.status != 201:
            raise BenchError(f"POST /jobs answered {resp.status}: {resp.body[:500]!r}")
        job_id: str = resp.json()["id"]
        return job_id

    async def job(self, job_id: str) -> dict[str, Any]:
        resp = await self.raw.request("GET", f"/jobs/{job_id}")
        if resp.status != 200:
            raise BenchError(f"GET /jobs/{job_id} answered {resp.status}: {resp.body[:500]!r}")
        job: dict[str, Any] = resp.json()
        return job

    async def full_collections(self) -> tuple[float, float]:
        """The API process's full garbage collections so far, from its /metrics: (count, seconds)."""
        resp = await self.http.get("/metrics")
        resp.raise_for_status()
        found = {}
        for line in resp.text.splitlines():
            name, _, value = line.partition(" ")
            if name in (
                "planwright_gc_full_collection_seconds_count",
                "planwright_gc_full_collection_seconds_sum",
            ):
                found[name.rsplit("_", 1)[1]] = float(value)
        if len(found) != 2:
            raise BenchError("the API's /metrics has no planwright_gc_full_collection_seconds")
        return found["count"], found["sum"]

    async def tasks(self, job_id: str) -> list[dict[str, Any]]:
        resp = await self.http.get(f"/jobs/{job_id}/tasks")
        resp.raise_for_status()
        tasks: list[dict[str, Any]] = resp.json()
        return tasks

    async def follow(self, job_id: str) -> tuple[str, float]:
        """Follow the job's SSE stream to its terminal event: (event type, monotonic time it arrived)."""
        seen: list[tuple[str, float]] = []
        await self.raw.stream_until(f"/jobs/{job_id}/events", functools.partial(_terminal, seen))
        if not seen:
            raise BenchError(f"the event stream of job {job_id} ended without a terminal event")
        return seen[0]

    async def run(self, goal: str) -> tuple[str, str, float]:
        """Submit a goal and follow the job's events in the same request (``POST /jobs`` with
        ``Accept: text/event-stream``) to its terminal event: (job id, event type, monotonic time it
        arrived). An API that answers such a submit with JSON (from before it could stream) is
        followed with a second request instead, then and from then on (``submit_streams``)."""
        if not self.submit_streams:
            job_id = await self.submit(goal)
            return job_id, *await self.follow(job_id)
        seen: list[tuple[str, float]] = []
        try:
            head, _ = await self.raw.stream_until("/jobs", functools.partial(_terminal, seen), {"goal": goal})
        except NotAStream:
            # A checkout from before it (the bench runs against older ones): two requests from now on.
            self.submit_streams = False
            return await self.run(goal)
        location = _header(head, b"location:") or b""
        if not seen or not location.startswith(b"/jobs/"):
            raise BenchError(f"POST /jobs streamed no terminal event (or no Location): {head!r}")
        return location.removeprefix(b"/jobs/").decode(), *seen[0]

    async def poll(self, job_id: str) -> tuple[str, float]:
        """GET /jobs/{id} in a tight loop until it is finished: (status, monotonic time of that answer)."""
        while True:
            status: str = (await self.job(job_id))["status"]
            if status not in UNFINISHED:
                return status, time.monotonic()

    async def any_unfinished(self) -> bool:
        for status in UNFINISHED:
            resp = await self.http.get("/jobs", params={"status": status, "limit": 1})
            resp.raise_for_status()
            if resp.json()["items"]:
                return True
        return False

    async def drain(self, timeout_s: float = 300.0, every_s: float = 0.2) -> float:
        """Wait until no job is pending, planning or running; returns the monotonic time seen. Polls
        gently (W1's end time comes from the jobs' finished_at, not from this)."""
        deadline = time.monotonic() + timeout_s
        while await self.any_unfinished():
            if time.monotonic() > deadline:
                raise BenchError(f"jobs still unfinished after {timeout_s:.0f}s")
            await asyncio.sleep(every_s)
        return time.monotonic()

    async def finished(self, job_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The list items of these jobs (newest first pages until all are found)."""
        wanted = set(job_ids)
        found: dict[str, dict[str, Any]] = {}
        offset = 0
        while len(found) < len(wanted):
            resp = await self.http.get("/jobs", params={"limit": PAGE, "offset": offset})
            resp.raise_for_status()
            items = resp.json()["items"]
            found.update({item["id"]: item for item in items if item["id"] in wanted})
            if len(items) < PAGE:
                break
            offset += PAGE
        return found


async def require_succeeded(api: Api, job_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The jobs' list items; raises unless every one of them succeeded."""
    jobs = await api.finished(job_ids)
    bad = [(jid, jobs[jid]["status"], jobs[jid].get("error")) for jid in job_ids if jid in jobs]
    bad = [b for b in bad if b[1] != "succeeded"]
    missing = [jid for jid in job_ids if jid not in jobs]
    if bad or missing:
        raise BenchError(f"{len(bad)} job(s) did not succeed, {len(missing)} not found; first: {bad[:3]}")
    return jobs


def shape_of(tasks: list[dict[str, Any]]) -> Shape:
    position = {task["key"]: i for i, task in enumerate(tasks)}
    return [(task["tool"], sorted(position[key] for key in task["depends_on"])) for task in tasks]


def describe(shape: Shape) -> str:
    """A short description: "3 tasks: text_generate, text_summarize<-0, text_summarize<-1"."""
    parts = []
    for tool, deps in shape[:4]:
        shown = ",".join(map(str, deps[:4])) + (",..." if len(deps) > 4 else "")
        parts.append(f"{tool}<-[{shown}]" if deps else tool)
    more = f", ... ({len(shape) - 4} more)" if len(shape) > 4 else ""
    return f"{len(shape)} task{'s' if len(shape) != 1 else ''}: " + ", ".join(parts) + more


async def check_shape(api: Api, job_id: str, expected: Shape, label: str) -> str:
    """Raises unless the job succeeded with exactly the expected tasks; returns a line to print."""
    job = await api.job(job_id)
    tasks = await api.tasks(job_id)
    actual = shape_of(tasks)
    if actual != expected:
        raise BenchError(f"{label}: expected {describe(expected)}\n  got {describe(actual)}")
    failed = [t["key"] for t in tasks if t["status"] != "succeeded"]
    if job["status"] != "succeeded" or failed:
        raise BenchError(f"{label}: job {job['status']} ({job.get('error')}); tasks not succeeded: {failed}")
    return f"{label}: {describe(actual)}; job succeeded"
