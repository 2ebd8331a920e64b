"""One workload in a loop against a fresh stack, for profiling and for A/B runs:
``python -m bench.loop [--chain N | --fanout N] [--seconds S] [--poll] [--mode embedded|distributed]
[--concurrency N]`` from a checkout's root (distributed unless told).

Submits one job at a time and follows it over SSE (in the submit's answer; with ``--poll``, submits
it and then asks ``GET /jobs/{id}`` in a tight loop, as W1-latency's polling client does) for
``--seconds``, then prints the p50 and p95 of submit -> finished and each process's CPU per job
(``/proc/<pid>/stat``). The processes' PIDs are printed first, so ``py-spy record -p <pid> -f raw
-d <s>`` can be attached while it runs. Running it in two checkouts one after the other, several
times, compares them more reliably than one bench run on a busy machine (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from bench.client import Api
from bench.config import chain_goal, fanout_goal
from bench.servers import stack_of

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def _loop(
    url: str, goal: str, seconds: float, poll: bool, warm_up: int = 3, concurrency: int = 1
) -> list[float]:
    """Each job's submit -> finished, in seconds: ``concurrency`` clients for ``seconds``, each
    submitting its next job once its last one finished (after ``warm_up`` jobs one at a time)."""
    api = Api(url)

    async def one() -> None:
        if poll:
            await api.poll(await api.submit(goal))
        else:
            await api.run(goal)

    try:
        for _ in range(warm_up):
            await one()
        took: list[float] = []
        stop_at = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < stop_at:
                started = time.monotonic()
                await one()
                took.append(time.monotonic() - started)

        await asyncio.gather(*(client() for _ in range(concurrency)))
        return took
    finally:
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shape = parser.add_mutually_exclusive_group()
    shape.add_argument("--chain", type=int, default=3, help="a chain of N instant tasks (default 3)")
    shape.add_argument("--fanout", type=int, help="N independent tasks and a join")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--poll", action="store_true", help="submit, then GET /jobs/{id} in a tight loop")
    parser.add_argument("--mode", choices=("embedded", "distributed"), default="distributed")
    parser.add_argument(
        "--concurrency", type=int, default=1, help="clients, each with one job at a time (default 1)"
    )
    args = parser.parse_args()
    if args.concurrency < 1:
        parser.error("--concurrency must be at least 1")
    goal = fanout_goal(args.fanout) if args.fanout else chain_goal(args.chain)
    with tempfile.TemporaryDirectory() as tmp, stack_of(args.mode, Path(tmp)) as stack:
        pids = stack.pids()
        print("pids:", " ".join(f"{name}={pid}" for name, pid in pids.items()), flush=True)
        asyncio.run(_loop(stack.api, goal, 0.0, args.poll))  # warm up: three jobs
        before = {name: _cpu_s(pid) for name, pid in pids.items()}
        took = sorted(
            asyncio.run(
                _loop(stack.api, goal, args.seconds, args.poll, warm_up=0, concurrency=args.concurrency)
            )
        )
        after = {name: _cpu_s(pid) for name, pid in pids.items()}
    n = len(took)
    print(f"jobs {n}  p50 {took[n // 2] * 1000:.2f} ms  p95 {took[int(n * 0.95)] * 1000:.2f} ms")
    for name in pids:
        print(f"{name}: {(after[name] - before[name]) * 1000 / n:.2f} ms of CPU per job")


if __name__ == "__main__":
    main()
