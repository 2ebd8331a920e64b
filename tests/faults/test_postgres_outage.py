"""Postgres stopped for 30 s (a fast shutdown, as an operator's restart does) while jobs run, on a
cluster of the test's own: the API answers 503 with the JSON error and Retry-After, never a bare 500;
each component logs the outage once when it starts and once when it ends; no delivery is used up; and
the work goes on within seconds of Postgres's return.

Needs the Postgres binaries (``tests/faults/postgres.py``) and redis-server; without them the test is
skipped, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from planwright.core import names
from tests.distributed.conftest import pending_total
from tests.distributed.stack import TERMINAL, RedisServer, Stack
from tests.faults import postgres
from tests.faults.postgres import Cluster
from tests.processes import wait_until

pytestmark = [pytest.mark.distributed, pytest.mark.faults, pytest.mark.timeout(600)]

OUTAGE_S = 30.0
JOBS, PAUSE_S = 10, 0.5  # jobs of 4 pauses and a join: in flight when Postgres stops, ~3 s of work after
STALL_S = 10.0  # the longest a job in flight may wait for its next step once Postgres is back
FINISHED_S = 60.0  # when every job in flight must have finished: half the 120 s visibility timeout
FAIL_FAST_S = 10.0  # the longest a request may take while Postgres is down
LINES_PER_COMPONENT = 2  # an outage's first line and its last
GROUPS = (
    (names.JOBS, names.G_PLANNER),
    (names.ORCHESTRATOR, names.G_ORCHESTRATOR),
    (names.READY, names.G_POLICY),
    (names.REVIEW, names.G_CRITIC),
    *((lane, names.G_WORKER) for lane in names.DISPATCH_LANES),
)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    why = postgres.missing()
    if why is not None:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    cluster = Cluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


def pause_plan(seconds: float) -> dict[str, Any]:
    """start -> three parts -> join, each pause holding a worker ``seconds``."""

    def task(key: str, tool: str, args: dict[str, Any], deps: list[str]) -> dict[str, Any]:
        return {"key": key, "title": key, "tool": tool, "args": args, "depends_on": deps}

    parts = [
        task(f"part_{i}", "sample.pause", {"seconds": seconds, "label": str(i)}, ["start"]) for i in range(3)
    ]
    start = task("start", "sample.pause", {"seconds": seconds, "label": "start"}, [])
    return {"tasks": [start, *parts, task("join", "sample.collect", {}, [p["key"] for p in parts])]}


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    sent: float  # time.monotonic()
    took: float
    status: int  # 0: no answer at all
    headers: dict[str, str]
    body: str


class Prober(threading.Thread):
    """A client that keeps asking what users ask (submit, list, read a job, health) and records every
    answer, one request at a time."""

    def __init__(self, api: str, job_id: str) -> None:
        super().__init__(name="prober", daemon=True)
        self.api, self.job_id = api, job_id
        self.answers: list[Answer] = []
        self.halt = threading.Event()

    def run(self) -> None:
        submit = {"goal": "a quick plan", "plan": pause_plan(0.0)}
        asks = [("POST", "/jobs", submit), ("GET", "/jobs", None), ("GET", f"/jobs/{self.job_id}", None)]
        asks.append(("GET", "/healthz", None))
        with httpx.Client(base_url=self.api, timeout=60) as client:
            while not self.halt.is_set():
                for method, path, body in asks:
                    self.answers.append(self._ask(client, method, path, body))
                time.sleep(0.05)

    @staticmethod
    def _ask(client: httpx.Client, method: str, path: str, body: Any) -> Answer:
        sent = time.monotonic()
        try:
            resp = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            return Answer(method, path, sent, time.monotonic() - sent, 0, {}, repr(exc))
        return Answer(
            method, path, sent, time.monotonic() - sent, resp.status_code, dict(resp.headers), resp.text
        )

    def accepted(self) -> list[str]:
        return [json.loads(a.body)["id"] for a in self.answers if a.status == 201]


def unavailable_problem(answer: Answer) -> str | None:
    """What is wrong with an answer given while Postgres is down, or None if it is a proper one."""
    if answer.status in (200, 201):
        return None
    if answer.status != 503:
        return f"status {answer.status}"
    try:
        body = json.loads(answer.body)
    except ValueError:
        return "not JSON"
    internals = ("127.0.0.1", "asyncpg", "Errno", "sqlalchemy", "Traceback")
    if any(word in answer.body for word in internals):
        return "driver internals in the body"
    if answer.path == "/healthz":
        healthy = body.get("database") == "unavailable" and body.get("error", "").startswith(
            "database unavailable"
        )
        return None if body.get("status") == "unavailable" and healthy else "not naming the database"
    if set(body) != {"error"} or body["error"].get("code") != "unavailable":
        return "not the JSON error shape with code unavailable"
    if not answer.headers.get("retry-after", "").isdigit():
        return "no Retry-After"
    return None


def delivery_counts(client: redis.Redis, prefix: str) -> list[int]:
    """How often each pending entry of every stream and group has been delivered."""
    counts: list[int] = []
    for stream, group in GROUPS:
        if client.exists(prefix + stream) and any(
            g["name"].decode() == group for g in client.xinfo_groups(prefix + stream)
        ):
            pending = client.xpending_range(prefix + stream, group, "-", "+", 10_000)
            counts.extend(int(entry["times_delivered"]) for entry in pending)
    return counts


def log_lines(stack: Stack, offsets: dict[str, int]) -> dict[str, list[str]]:
    """Each process's log written since ``offsets``, uvicorn's access lines left out."""
    lines: dict[str, list[str]] = {}
    for name, start in offsets.items():
        with (stack.tmp / f"{name}.log").open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        lines[name] = [line for line in text.splitlines() if _field(line, "logger") != "uvicorn.access"]
    return lines


def _field(line: str, name: str) -> Any:
    """A field of the JSON log record on ``line``; None for a line that is not one (a raw traceback)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record.get(name) if isinstance(record, dict) else None


def warnings_by_component(lines: list[str]) -> Counter[str]:
    """WARNING lines (JSON log lines) counted by the component that opens their message."""
    counted: Counter[str] = Counter()
    for line in lines:
        if _field(line, "level") == "WARNING":
            counted[_field(line, "message").split(":", 1)[0]] += 1
    return counted


def after(stack: Stack, job_ids: list[str], back: datetime) -> dict[str, list[float]]:
    """For each job, when each of its events came, in seconds after ``back`` (later events only)."""
    times: dict[str, list[float]] = {}
    for job_id in job_ids:
        rows = stack.sql("select created_at from events where job_id = :job order by id", job=job_id)
        times[job_id] = [(at - back).total_seconds() for (at,) in rows if at > back]
    return times


def longest_wait(times: list[float]) -> float:
    """The longest wait for a next event, counted from 0 (Postgres back)."""
    return max(b - a for a, b in itertools.pairwise([0.0, *times]))


@dataclass
class Outage:
    """What the test saw of the outage: when it began and ended, and the delivery counts meanwhile."""

    down: float  # time.monotonic() when the fast shutdown began
    back: float  # ... when Postgres accepted connections again
    back_at: datetime
    deliveries: list[int]


def stop_postgres_for_a_while(stack: Stack, cluster: Cluster, client: redis.Redis) -> Outage:
    """Stop Postgres (fast shutdown) for OUTAGE_S, sampling the delivery counts of every pending entry
    each second; start it again on the same port and wait until /healthz is 200 again."""
    deliveries: list[int] = []
    down = time.monotonic()
    cluster.stop("fast")
    wait_until("/healthz to answer 503", lambda: stack.http.get(f"{stack.api}/healthz").status_code == 503)
    while time.monotonic() - down < OUTAGE_S:
        deliveries.extend(delivery_counts(client, stack.prefix))
        time.sleep(1.0)
    cluster.start()
    back, back_at = time.monotonic(), datetime.now(UTC)
    wait_until(
        "/healthz to answer 200 again", lambda: stack.http.get(f"{stack.api}/healthz").status_code == 200
    )
    return Outage(down, back, back_at, deliveries)


def test_a_30s_postgres_outage_answers_503_logs_once_and_loses_no_delivery(
    cluster: Cluster, own_redis: RedisServer, tmp_path: Path
) -> None:
    # The gate on: the Orchestrator's clock then reads the database every RECONCILE_CHECK_S (approvals).
    stack = Stack(
        tmp_path,
        cluster.url,
        own_redis.url,
        planwright_tools="tests.plugins.sample_tools",
        policy_gate_enabled="true",
    )
    client = redis.Redis.from_url(own_redis.url)
    try:
        stack.start_all(workers=2, concurrency=4)
        ids = [stack.submit("pauses, then a join", plan=pause_plan(PAUSE_S)) for _ in range(JOBS)]
        wait_until(
            "a task to run", lambda: bool(stack.sql("select 1 from events where type = 'task.running'"))
        )
        in_flight = [str(i) for (i,) in stack.sql(f"select id from jobs where status not in {TERMINAL}")]
        offsets = {name: (stack.tmp / f"{name}.log").stat().st_size for name in stack.procs}
        prober = Prober(stack.api, ids[0])
        prober.start()
        try:
            outage = stop_postgres_for_a_while(stack, cluster, client)
            time.sleep(2.0)  # a few more rounds of the client, answered as usual
        finally:
            prober.halt.set()
            prober.join(timeout=120)
        jobs = stack.wait_all([*ids, *prober.accepted()])
        failed = {i: j["error"] for i, j in jobs.items() if j["status"] != "succeeded"}
        assert not failed, f"accepted jobs that did not succeed: {failed}"

        summary = {
            "jobs accepted": len(jobs),
            "jobs in flight when Postgres stopped": len(in_flight),
            "Postgres down (s)": round(outage.back - outage.down, 1),
            **check_answers(prober.answers, outage, ids[0]),
            **check_no_delivery_used(stack, client, outage),
            **check_progress(stack, in_flight, outage),
            **check_logs(stack, offsets),
        }
        print(json.dumps(summary, indent=1, default=str))
    finally:
        client.close()
        stack.close()


def check_answers(answers: list[Answer], outage: Outage, job_id: str) -> dict[str, Any]:
    """Only 200, 201 and proper 503s, every request answered fast, and each route refused meanwhile."""
    problems = [
        (a.method, a.path, a.status, why, a.body[:200]) for a in answers if (why := unavailable_problem(a))
    ]
    assert not problems, problems
    during = [a for a in answers if outage.down <= a.sent < outage.back]
    refused = Counter(f"{a.method} {a.path.replace(job_id, '{id}')}" for a in during if a.status == 503)
    assert set(refused) == {"POST /jobs", "GET /jobs", "GET /jobs/{id}", "GET /healthz"}, refused
    slowest = max(a.took for a in during)
    assert slowest < FAIL_FAST_S, f"a request took {slowest:.1f}s while Postgres was down"
    return {
        "answers while Postgres was down": dict(Counter(a.status for a in during)),
        "503 by route": dict(refused),
        "slowest answer while Postgres was down (s)": round(slowest, 3),
    }


def check_no_delivery_used(stack: Stack, client: redis.Redis, outage: Outage) -> dict[str, Any]:
    """The held entries stayed at their first delivery; nothing is pending, dead, retried or failed."""
    assert outage.deliveries, "no entry was pending while Postgres was down: nothing was held"
    assert max(outage.deliveries) == 1, Counter(outage.deliveries)
    wait_until("every delivered message to be acknowledged", lambda: pending_total(stack) == 0)
    assert client.xlen(stack.prefix + names.DEAD_LETTER) == 0
    retried = stack.sql("select count(*) from events where type in ('task.retrying', 'task.failed')")
    assert retried == [(0,)]
    assert stack.sql("select max(attempt) from tasks") == [(1,)]
    return {"pending entries sampled while Postgres was down": len(outage.deliveries)}


def check_progress(stack: Stack, in_flight: list[str], outage: Outage) -> dict[str, Any]:
    """Every job in flight took its next step within STALL_S of Postgres's return, kept going, and
    finished well within the visibility timeout."""
    times = after(stack, in_flight, outage.back_at)
    waits = {job_id: longest_wait(t) for job_id, t in times.items()}
    assert max(waits.values()) < STALL_S, waits
    finished = max(t[-1] for t in times.values())
    assert finished < FINISHED_S, times
    return {
        "first step after Postgres was back (s)": round(min(t[0] for t in times.values()), 2),
        "longest wait of a job in flight after Postgres was back (s)": round(max(waits.values()), 2),
        "every job in flight finished, after Postgres was back (s)": round(finished, 2),
    }


def check_logs(stack: Stack, offsets: dict[str, int]) -> dict[str, Any]:
    """No traceback, no crash, no error, and each component's outage in at most two WARNING lines."""
    lines = log_lines(stack, offsets)
    warnings = {name: warnings_by_component(text) for name, text in lines.items()}
    for name, text in lines.items():
        assert not [line for line in text if "Traceback" in line or "crashed" in line], (name, text)
        assert not [line for line in text if _field(line, "level") in ("ERROR", "CRITICAL")], (name, text)
        noisy = {c: n for c, n in warnings[name].items() if n > LINES_PER_COMPONENT}
        assert not noisy, (name, noisy, text)
    return {
        "log lines since the stop (no access log)": {name: len(text) for name, text in lines.items()},
        "WARNING lines by component": {name: dict(counted) for name, counted in warnings.items() if counted},
    }
