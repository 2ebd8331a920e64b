"""One mode's run: start the stack, run every workload in turn (each drains before the next), stop it."""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench import workloads
from bench.client import Api
from bench.config import Sizes
from bench.infra import InfraMeter
from bench.procstat import CpuMeter, rss_mb
from bench.servers import DistributedStack, Stack, distributed, embedded, hold_port
from bench.sse_storm import sse_storm
from bench.util import run

T = TypeVar("T")


@dataclass
class ModeResult:
    figures: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    shapes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a reader of the table must know


_T0 = time.monotonic()


def say(text: str) -> None:
    """Progress, on stderr, with the seconds since the bench started."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {text}", file=sys.stderr, flush=True)


async def _step(label: str, work: Awaitable[T]) -> T:
    started = time.monotonic()
    say(f"  {label} ...")
    result = await work
    say(f"  {label}: {time.monotonic() - started:.1f}s")
    return result


async def _workloads(
    stack: Stack, api_pid: int, sizes: Sizes, out: ModeResult, infra: InfraMeter | None
) -> None:
    """Every workload that runs in both modes, against the stack's first API process."""
    api = Api(stack.api, connections=max(100, sizes.w1_concurrency * 2))
    try:
        out.shapes, finished_job = await _step("shapes", workloads.verify_shapes(api, sizes))
        for line in out.shapes:
            say(f"    {line}")
        figures, walls = await _step("GET cpu", workloads.get_cpu(api, api_pid, finished_job, sizes))
        out.figures.update(figures)
        out.details.update(walls)
        out.figures.update(await _step("latency", workloads.latency(api, sizes)))
        # False: an API from before POST /jobs could answer with the job's events (both SSE rows then
        # measure two requests).
        out.details["submit_streams"] = api.submit_streams
        out.figures.update(await _step("hop", workloads.hop(api, sizes)))
        out.figures.update(await _step("W2", workloads.fanout(api, sizes)))
        out.figures.update(await _step("W5", workloads.large_values(api, sizes, hold_port())))
        out.figures.update(await _step("POST /jobs", workloads.post_jobs(api, sizes)))
        meter = CpuMeter(stack.pids())
        w1, cpu = await _step("W1", workloads.throughput([api], sizes, sizes.w1_jobs, meter, infra))
        out.figures.update({f"w1_{k}": v for k, v in w1.items() if not k.endswith("elapsed_s")})
        out.details["w1"] = {**w1, "cpu_s": cpu}
        collections, collected_s = await api.full_collections()
        w4, w4_details = await _step("W4 SSE", sse_storm(api, sizes, CpuMeter(stack.pids())))
        after, after_s = await api.full_collections()
        out.figures.update(w4)
        out.figures["w4_gc_full_count"] = after - collections
        out.figures["w4_gc_full_ms"] = (after_s - collected_s) * 1000
        out.details["w4"] = w4_details
        out.notes += _w4_notes(w4_details)
    finally:
        await api.close()


def _w4_notes(details: dict[str, Any]) -> list[str]:
    notes = []
    if details["hold_timed_out"]:
        notes.append(
            "W4: connecting took longer than the fetch could be held (12 s), so events also flowed while "
            "clients were still connecting; lag of events created once all had connected: p50 "
            f"{details['steady_lag_p50_ms']:.0f} ms, p99 {details['steady_lag_p99_ms']:.0f} ms "
            f"({details['steady_deliveries']} deliveries)"
        )
    if details["client_errors"]:
        notes.append(f"W4: {details['client_errors']} client(s) failed: {details['first_errors'][:2]}")
    return notes


def _idle(stack: Stack, sizes: Sizes, out: ModeResult, api: str) -> None:
    """Start-to-healthz of the API process and every process's RSS after a short idle."""
    time.sleep(sizes.idle_s)
    out.figures["start_to_healthz_s"] = stack.start_s[api]
    rss = {name: rss_mb(pid) for name, pid in stack.pids().items()}
    out.figures["idle_rss_mb"] = rss[api]
    for name, value in rss.items():
        if name != api:
            out.figures[f"idle_rss_{name}_mb"] = value


def _peaks(stack: Stack, out: ModeResult) -> None:
    out.details["peak_rss_mb"] = {name: rss_mb(pid, "VmHWM") for name, pid in stack.pids().items()}


def run_embedded(tmp: Path, sizes: Sizes) -> ModeResult:
    out = ModeResult()
    with embedded(tmp) as stack:
        say(f"embedded: planwright up on {stack.api}")
        _idle(stack, sizes, out, "up")
        run(_workloads(stack, stack.procs["up"].pid, sizes, out, None))
        stack.check_alive()
        _peaks(stack, out)
    return out


async def _scale_apis(stack: DistributedStack, sizes: Sizes, out: ModeResult) -> None:
    """W1 over two API processes (half the jobs to each): throughput and CPU seconds per process."""
    apis = [Api(url) for url in stack.urls.values()]
    try:
        meter = CpuMeter(stack.pids())
        w1, cpu = await _step("W1, 2 APIs", workloads.throughput(apis, sizes, sizes.scale_jobs, meter))
    finally:
        for api in apis:
            await api.close()
    out.figures["scale_2api_tasks_per_s"] = w1["tasks_per_s"]
    for name, seconds in cpu.items():
        out.figures[f"scale_2api_cpu_s_{name}"] = seconds
    out.details["scale_2api"] = {**w1, "cpu_s": cpu}


async def _scale_workers(stack: DistributedStack, sizes: Sizes, out: ModeResult, workers: int) -> None:
    """W1 with ``workers`` worker processes: throughput and total CPU per task (run with 1 and with 2,
    the same number of jobs, so the two CPU figures compare like with like)."""
    api = Api(stack.api)
    label = f"{workers}worker{'s' if workers > 1 else ''}"
    try:
        meter = CpuMeter(stack.pids())
        w1, cpu = await _step(
            f"W1, {workers} worker(s)", workloads.throughput([api], sizes, sizes.scale_jobs, meter)
        )
    finally:
        await api.close()
    out.figures[f"scale_{label}_tasks_per_s"] = w1["tasks_per_s"]
    out.figures[f"scale_{label}_cpu_ms_per_task"] = w1["cpu_ms_per_task"]
    out.details[f"scale_{label}"] = {**w1, "cpu_s": cpu}


def run_distributed(tmp: Path, sizes: Sizes, database_url: str, prefix: str) -> ModeResult:
    out = ModeResult()
    with distributed(tmp, database_url, prefix) as stack:
        say(f"distributed: api on {stack.api}, planner, worker; database {database_url.rsplit('/', 1)[-1]}")
        _idle(stack, sizes, out, "api")
        infra = InfraMeter(database_url)
        run(_workloads(stack, stack.procs["api"].pid, sizes, out, infra))
        _peaks(stack, out)
        stack.spawn_api("api2", "api")
        run(_scale_apis(stack, sizes, out))
        stack.stop("api2")
        run(_scale_workers(stack, sizes, out, 1))
        stack.start_service("worker2")
        run(_scale_workers(stack, sizes, out, 2))
        stack.check_alive()
    return out
