"""The workloads, each against a running stack through its HTTP API. Each returns figures by key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from bench.client import Api, check_shape, parse_time, require_succeeded
from bench.config import (
    LARGE_PAGE_BYTES,
    SINGLE_GOAL,
    Sizes,
    chain_goal,
    chain_shape,
    fanout_goal,
    fanout_shape,
    large_plan,
)
from bench.infra import InfraMeter
from bench.pages import PageServer, page_text
from bench.procstat import CpuMeter
from bench.util import BenchError, median, ms, percentile

Figures = dict[str, float]


async def _run_one(api: Api, goal: str, wait: Callable[[str], Awaitable[tuple[str, float]]]) -> float:
    """Submit one job and wait for it with ``wait``; seconds from before the POST to its end."""
    started = time.monotonic()
    job_id = await api.submit(goal)
    outcome, ended = await wait(job_id)
    if outcome not in ("job.succeeded", "succeeded"):
        job = await api.job(job_id)
        raise BenchError(f"job {job_id} ended {outcome}: {job.get('error')}")
    return ended - started


async def verify_shapes(api: Api, sizes: Sizes) -> tuple[list[str], str]:
    """Run one job of each goal the bench uses and check its plan; returns the lines and a finished job."""
    goals = [
        ("chain(3)", chain_goal(3), chain_shape(3)),
        (f"chain({sizes.hop_chain})", chain_goal(sizes.hop_chain), chain_shape(sizes.hop_chain)),
        (f"fan-out({sizes.fan_width}+1)", fanout_goal(sizes.fan_width), fanout_shape(sizes.fan_width)),
        ("single", SINGLE_GOAL, chain_shape(1)),
    ]
    lines = []
    first = ""
    for label, goal, shape in goals:
        job_id, _, _ = await api.run(goal)  # (also finds out whether the API can answer so)
        lines.append(await check_shape(api, job_id, shape, label))
        first = first or job_id
    return lines, first


async def _run_streamed(api: Api, goal: str) -> float:
    """Submit one job and follow its events in the same request; seconds from before the POST to its end."""
    started = time.monotonic()
    job_id, outcome, ended = await api.run(goal)
    if outcome != "job.succeeded":
        raise BenchError(f"job {job_id} ended {outcome}: {(await api.job(job_id)).get('error')}")
    return ended - started


async def latency(api: Api, sizes: Sizes) -> Figures:
    """W1-latency: one chain(3) job at a time, followed by SSE (the submit answered with the job's
    events; then as two requests, the submit and the job's stream), then by GET /jobs/{id} in a
    tight loop."""
    goal = chain_goal(3)
    sse = [await _run_streamed(api, goal) for _ in range(sizes.latency_runs)]
    sse2 = [await _run_one(api, goal, api.follow) for _ in range(sizes.latency_runs)]
    poll = [await _run_one(api, goal, api.poll) for _ in range(sizes.latency_runs)]
    return {
        "lat_sse_p50_ms": ms(percentile(sse, 50)),
        "lat_sse_p95_ms": ms(percentile(sse, 95)),
        "lat_sse2_p50_ms": ms(percentile(sse2, 50)),
        "lat_poll_p50_ms": ms(percentile(poll, 50)),
        "lat_poll_p95_ms": ms(percentile(poll, 95)),
    }


async def hop(api: Api, sizes: Sizes) -> Figures:
    """One job of a chain of instant tasks, via SSE; ms per dependent hop, median of the runs."""
    n = sizes.hop_chain
    runs = [await _run_one(api, chain_goal(n), api.follow) / n for _ in range(sizes.hop_runs)]
    return {"hop_ms": ms(median(runs))}


async def fanout(api: Api, sizes: Sizes) -> Figures:
    """W2: fan-out of independent tasks and one join, submit to the join's end via SSE; median."""
    goal = fanout_goal(sizes.fan_width)
    runs = [await _run_one(api, goal, api.follow) for _ in range(sizes.fan_runs)]
    return {"w2_ms": ms(median(runs))}


async def large_values(api: Api, sizes: Sizes, page_port: int) -> Figures:
    """W5: a page of LARGE_PAGE_BYTES fetched on loopback, then two artifact writes of its text, with
    an explicit plan; submit to ``job.succeeded`` via SSE, median of the runs."""
    runs = []
    with PageServer(page_text(LARGE_PAGE_BYTES), port=page_port) as page:
        for _ in range(sizes.large_runs):
            started = time.monotonic()
            job_id = await api.submit("Fetch a long page and save it twice", large_plan(page.url("page")))
            kind, at = await api.follow(job_id)
            if kind != "job.succeeded":
                raise BenchError(f"W5 job {job_id} ended {kind}: {(await api.job(job_id)).get('error')}")
            runs.append(at - started)
            if len(runs) == 1:  # the whole page went through, not a truncated or empty text
                sizes_written = [t["output"]["size"] for t in await api.tasks(job_id) if t["key"] != "fetch"]
                if sizes_written != [LARGE_PAGE_BYTES] * 2:
                    raise BenchError(
                        f"W5 wrote {sizes_written} bytes, not the page's {LARGE_PAGE_BYTES} twice"
                    )
    return {"w5_ms": ms(median(runs))}


async def _submit_many(apis: list[Api], goal: str, n: int, concurrency: int) -> list[str]:
    """Submit n jobs with ``concurrency`` requests in flight, round robin over the APIs."""
    ids: list[str] = []
    counter = iter(range(n))

    async def submitter() -> None:
        for i in counter:
            ids.append(await apis[i % len(apis)].submit(goal))

    await asyncio.gather(*(submitter() for _ in range(min(concurrency, n))))
    return ids


async def post_jobs(api: Api, sizes: Sizes) -> Figures:
    """POST /jobs back to back from one client, then at a concurrency; each batch drains before the next."""
    serial = []
    ids = []
    for _ in range(sizes.post_serial):
        started = time.monotonic()
        ids.append(await api.submit(SINGLE_GOAL))
        serial.append(time.monotonic() - started)
    await api.drain()
    started = time.monotonic()
    ids += await _submit_many([api], SINGLE_GOAL, sizes.post_concurrent, sizes.post_concurrency)
    elapsed = time.monotonic() - started
    await api.drain()
    await require_succeeded(api, ids)
    return {
        "post_serial_mean_ms": ms(sum(serial) / len(serial)),
        "post_serial_p50_ms": ms(percentile(serial, 50)),
        "post_concurrent_per_s": sizes.post_concurrent / elapsed,
    }


async def throughput(
    apis: list[Api], sizes: Sizes, jobs: int, meter: CpuMeter, infra: InfraMeter | None = None
) -> tuple[Figures, dict[str, float]]:
    """W1: ``jobs`` chain(3) jobs submitted at the bench's concurrency until all have finished.

    tasks/s counts from the first submit to the latest ``finished_at`` (the server's clock, so the
    bench's polling does not set the end). Returns the figures and CPU seconds per process."""
    if infra is not None:
        await infra.start()
    started_wall, started = time.time(), time.monotonic()
    meter.start()
    ids = await _submit_many(apis, chain_goal(3), jobs, sizes.w1_concurrency)
    seen_done = await apis[0].drain(timeout_s=600)
    cpu = meter.stop()
    infra_cpu = await infra.stop() if infra is not None else {}
    items = await require_succeeded(apis[0], ids)
    ends = [parse_time(item["finished_at"]) for item in items.values() if item.get("finished_at")]
    elapsed = max(ends) - started_wall if len(ends) == len(ids) else seen_done - started
    tasks = 3 * jobs
    figures = {
        "tasks_per_s": tasks / elapsed,
        "cpu_ms_per_task": ms(sum(cpu.values())) / tasks,
        "elapsed_s": elapsed,
        "polled_elapsed_s": seen_done - started,
    }
    if infra_cpu:
        figures["infra_cpu_ms_per_task"] = ms(sum(infra_cpu.values())) / tasks
    return figures, {**cpu, **{f"infra_{name}": s for name, s in infra_cpu.items()}}


async def _get_ok(api: Api, path: str) -> None:
    resp = await api.raw.request("GET", path)
    if resp.status != 200:
        raise BenchError(f"GET {path} answered {resp.status}")


async def request_cpu(api: Api, pid: int, path: str, n: int) -> tuple[float, float]:
    """``n`` sequential GETs of ``path``: (server CPU ms per request, wall ms per request)."""
    for _ in range(10):  # warm up
        await _get_ok(api, path)
    meter = CpuMeter({"api": pid}).start()
    started = time.monotonic()
    for _ in range(n):
        await _get_ok(api, path)
    wall = time.monotonic() - started
    cpu = meter.stop()["api"]
    return ms(cpu) / n, ms(wall) / n


async def get_cpu(api: Api, pid: int, job_id: str, sizes: Sizes) -> tuple[Figures, dict[str, float]]:
    job_cpu, job_wall = await request_cpu(api, pid, f"/jobs/{job_id}", sizes.get_requests)
    health_cpu, health_wall = await request_cpu(api, pid, "/healthz", sizes.get_requests)
    figures = {"get_job_cpu_ms": job_cpu, "healthz_cpu_ms": health_cpu}
    return figures, {"get_job_wall_ms": job_wall, "healthz_wall_ms": health_wall}
