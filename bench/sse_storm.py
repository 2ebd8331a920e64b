"""W4: many SSE clients on running jobs. The jobs start with a fetch the bench holds, so their event
logs stand still while the clients connect and replay; then the bench lets go and the rest of each job
(a chain of summaries) is delivered live to every client.

connect+replay: from the moment the clients start connecting until every client has received every
event its job had at that point. Lag: for each live delivery (an event created after that client's
response began), arrival time minus the event's ``created_at`` (one machine, one clock); spread:
arrival minus the first live arrival of that event at any client. Clients run in ``sse_procs``
processes, each with raw asyncio sockets. The hold lasts at most HoldServer.max_hold_s (the fetch
tool's timeout bounds it): if connecting takes longer, the jobs go on while clients still connect.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import queue
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.client import Api, check_shape, parse_time, require_succeeded
from bench.config import Sizes, chain_shape, held_goal
from bench.procstat import CpuMeter
from bench.servers import hold_port
from bench.sse_client import HoldServer, follow_raw
from bench.util import BenchError, ms, percentile, run

Plan = list[tuple[str, int, int]]  # (job id, events before release, clients)
WAIT_S = 90.0


class _Clients:
    """The clients of one process and what they saw. A delivery is live when its event was created
    after the client's response began (so a client that connected late does not count its replay)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.replayed: list[float] = []
        self.first: list[float] = []
        self.live: list[tuple[int, float]] = []  # (event id, arrival)
        self.created: dict[int, float] = {}
        self.outcomes: Counter[str] = Counter()
        self.errors: list[str] = []
        self.all_replayed = asyncio.Event()

    def _settled(self) -> None:
        if len(self.replayed) + len(self.errors) >= self.total:
            self.all_replayed.set()

    async def client(self, host: str, port: int, job_id: str, before: int) -> None:
        seen = 0
        opened = float("inf")

        def on_open(now: float) -> None:
            nonlocal opened
            opened = now

        def on_event(event_id: int, kind: bytes, data: bytes, now: float) -> None:
            nonlocal seen
            seen += 1
            if seen == 1:
                self.first.append(now)
            if seen == before:
                self.replayed.append(now)
                self._settled()
            created = self.created.get(event_id)
            if created is None:
                created = self.created[event_id] = _created_at(data)
            if created >= opened:
                self.live.append((event_id, now))

        try:
            outcome = await follow_raw(host, port, job_id, on_event, on_open=on_open)
            self.outcomes[(outcome or b"no terminal event").decode()] += 1
        except (OSError, asyncio.IncompleteReadError, BenchError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
            self._settled()

    def payload(self) -> dict[str, Any]:
        live_ids = {event_id for event_id, _ in self.live}
        return {
            "replayed": self.replayed,
            "first": self.first,
            "live": self.live,
            "created": {event_id: at for event_id, at in self.created.items() if event_id in live_ids},
            "outcomes": dict(self.outcomes),
            "errors": self.errors,
        }


def _created_at(data: bytes) -> float:
    marker = data.find(b'"created_at":"')
    if marker < 0:
        return 0.0
    start = marker + len(b'"created_at":"')
    return parse_time(data[start : data.index(b'"', start)].decode())


async def _run_clients(host: str, port: int, plan: Plan, idx: int, out: Any) -> None:
    clients = _Clients(sum(n for _, _, n in plan))
    tasks = [
        asyncio.create_task(clients.client(host, port, job_id, before))
        for job_id, before, n in plan
        for _ in range(n)
    ]
    await clients.all_replayed.wait()
    now = time.time()
    out.put(("replayed", idx, max(clients.replayed, default=now), max(clients.first, default=now)))
    await asyncio.gather(*tasks)
    out.put(("done", idx, {**clients.payload(), "cpu_s": time.process_time()}))


def client_process(host: str, port: int, plan: Plan, idx: int, go: Any, out: Any) -> None:
    """One client process: reports ready, waits for go, then runs its clients."""
    out.put(("ready", idx))
    go.wait(WAIT_S)
    run(_run_clients(host, port, plan, idx, out))


def _collect(out: Any, kind: str, count: int, procs: list[Any]) -> list[tuple[Any, ...]]:
    got: list[tuple[Any, ...]] = []
    deadline = time.monotonic() + WAIT_S
    while len(got) < count:
        try:
            message = out.get(timeout=0.5)
        except queue.Empty:
            if time.monotonic() > deadline or any(p.exitcode not in (None, 0) for p in procs):
                raise BenchError(f"W4: {count - len(got)} client process(es) did not report {kind}") from None
            continue
        if message[0] != kind:
            raise BenchError(f"W4: expected {kind}, got {message[0]}")
        got.append(message)
    return got


async def _prepare(api: Api, hold: HoldServer, sizes: Sizes) -> list[tuple[str, int]]:
    """Submit the held jobs, wait until each one's fetch runs, then count the events each has."""
    ids = [await api.submit(held_goal(hold.url(i), sizes.sse_chain)) for i in range(sizes.sse_jobs)]
    deadline = time.monotonic() + 60
    for job_id in ids:
        while not (tasks := await api.tasks(job_id)) or tasks[0]["status"] != "running":
            if time.monotonic() > deadline:
                raise BenchError(f"W4: the fetch of job {job_id} is not running after 60s")
            await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # its progress event
    host, port = _host_port(str(api.http.base_url))
    counts = await asyncio.gather(*(_count_events(host, port, job_id) for job_id in ids))
    return list(zip(ids, counts, strict=True))


async def _count_events(host: str, port: int, job_id: str) -> int:
    seen: list[int] = []
    await follow_raw(host, port, job_id, lambda event_id, *_: seen.append(event_id), quiet_s=0.5)
    return len(seen)


def _host_port(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname or "127.0.0.1", parts.port or 80


def _plans(jobs: list[tuple[str, int]], sizes: Sizes) -> list[Plan]:
    per_job = max(1, sizes.sse_clients // len(jobs))
    plans: list[Plan] = [[] for _ in range(sizes.sse_procs)]
    for i, (job_id, before) in enumerate(jobs):
        share, extra = divmod(per_job, sizes.sse_procs)
        for p in range(sizes.sse_procs):
            n = share + (1 if (p + i) % sizes.sse_procs < extra else 0)
            if n:
                plans[p].append((job_id, before, n))
    return plans


def _storm(
    base: str, plans: list[Plan], release: Callable[[], None]
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Run the client processes: (when they started, when all had their first event, when all had
    their replay: Unix times), and each process's payload."""
    ctx = mp.get_context("spawn")
    go, out = ctx.Event(), ctx.Queue()
    host, port = _host_port(base)
    procs = [
        ctx.Process(target=client_process, args=(host, port, plan, i, go, out), daemon=True)
        for i, plan in enumerate(plans)
    ]
    for proc in procs:
        proc.start()
    try:
        _collect(out, "ready", len(procs), procs)
        started = time.time()
        go.set()
        replayed = _collect(out, "replayed", len(procs), procs)
        times = {
            "started": started,
            "all_first": max(m[3] for m in replayed),
            "all_replayed": max(m[2] for m in replayed),
        }
        release()
        done = _collect(out, "done", len(procs), procs)
        return times, [m[2] for m in done]
    finally:
        for proc in procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()


def _lags(payloads: list[dict[str, Any]], steady_from: float) -> dict[str, Any]:
    """Lag and spread of every live delivery; ``steady``: the lags of events created after every client
    had connected and replayed (the same deliveries, unless the hold ended before that)."""
    created: dict[int, float] = {}
    first: dict[int, float] = {}
    for payload in payloads:
        created.update(payload["created"])
        for event_id, at in payload["live"]:
            first[event_id] = min(at, first.get(event_id, at))
    live = [(event_id, at) for payload in payloads for event_id, at in payload["live"]]
    return {
        "live_events": len(first),
        "deliveries": len(live),
        "lag": [at - created[event_id] for event_id, at in live],
        "spread": [at - first[event_id] for event_id, at in live],
        "steady": [at - created[event_id] for event_id, at in live if created[event_id] >= steady_from],
    }


async def sse_storm(api: Api, sizes: Sizes, meter: CpuMeter) -> tuple[dict[str, float], dict[str, Any]]:
    """W4; ``meter`` measures the server processes while the clients run."""
    with HoldServer(port=hold_port()) as hold:  # the port the servers' policy lets http_fetch reach
        jobs = await _prepare(api, hold, sizes)
        plans = _plans(jobs, sizes)
        meter.start()
        times, payloads = await asyncio.to_thread(_storm, str(api.http.base_url), plans, hold.release)
        server_cpu = meter.stop()
    ids = [job_id for job_id, _ in jobs]
    await api.drain()
    await require_succeeded(api, ids)
    shape_line = await check_shape(api, ids[0], chain_shape(sizes.sse_chain + 1, "http_fetch"), "W4 job")
    lags = _lags(payloads, times["all_replayed"])
    errors = [e for p in payloads for e in p["errors"]]
    outcomes: Counter[str] = Counter()
    for p in payloads:
        outcomes.update(p["outcomes"])
    figures = {
        "w4_connect_replay_s": times["all_replayed"] - times["started"],
        "w4_lag_p50_ms": ms(percentile(lags["lag"], 50)),
        "w4_lag_p99_ms": ms(percentile(lags["lag"], 99)),
        "w4_spread_p99_ms": ms(percentile(lags["spread"], 99)),
    }
    details = {
        "clients": sum(n for plan in plans for _, _, n in plan),
        "connect_first_event_s": times["all_first"] - times["started"],
        "hold_timed_out": hold.timed_out.is_set(),
        "steady_deliveries": len(lags["steady"]),
        "steady_lag_p50_ms": ms(percentile(lags["steady"], 50)),
        "steady_lag_p99_ms": ms(percentile(lags["steady"], 99)),
        "jobs": len(jobs),
        "events_before_release": [before for _, before in jobs],
        "live_events": lags["live_events"],
        "live_deliveries": lags["deliveries"],
        "client_errors": len(errors),
        "first_errors": errors[:5],
        "client_cpu_s": [p["cpu_s"] for p in payloads],
        "server_cpu_s": server_cpu,
        "outcomes": dict(outcomes),
        "shape": shape_line,
    }
    return figures, details
