"""When a client sees each event of a job, from its submit: ``python -m bench.timeline [--chain N]
[--mode embedded|distributed] [--seconds S] [--separate]`` from a checkout's root.

Submits one chain(N) job at a time for ``--seconds``, as W1-latency's SSE client does (``POST
/jobs`` answered with the job's events until ``job.succeeded``; with ``--separate``, the submit,
then the job's event stream), and prints for each event (numbered by type: ``task.succeeded#2`` is
the second) and for a separate submit's 201 the median time it reached the client. The arrival
times show which stage a change moved: the stream's first event, the plan, and each task's hop. An
event that arrives in the same chunk as the one before it has the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.client import Api
from bench.config import chain_goal
from bench.servers import stack_of
from bench.util import BenchError

_EVENT = re.compile(rb"event: ([a-z_.]+)\n")


async def _one(api: Api, goal: str, separate: bool) -> list[tuple[str, float]]:
    """One job: (mark, ms since the submit began) for every event, in arrival order. The submit is
    answered with the job's events, or (``separate``) with the job (its ``201`` a mark too), whose
    stream a second request then opens."""
    started = time.monotonic()
    seen: Counter[str] = Counter()
    marks: list[tuple[str, float]] = []

    def arrived(chunk: bytes) -> bool:
        now = (time.monotonic() - started) * 1000
        for raw in _EVENT.findall(chunk):
            kind = raw.decode()
            seen[kind] += 1
            marks.append((f"{kind}#{seen[kind]}", now))
        return b"event: job.succeeded\n" in chunk

    if not separate:
        await api.raw.stream_until("/jobs", arrived, {"goal": goal})
        return marks
    resp = await api.raw.request("POST", "/jobs", {"goal": goal})
    marks.append(("201", (time.monotonic() - started) * 1000))
    if resp.status != 201:
        raise BenchError(f"POST /jobs answered {resp.status}: {resp.body[:500]!r}")
    await api.raw.stream_until(f"/jobs/{resp.json()['id']}/events", arrived)
    return marks


async def _timeline(
    url: str, goal: str, seconds: float, separate: bool, warm_up: int = 5
) -> tuple[int, dict[str, list[float]]]:
    api = Api(url)
    try:
        for _ in range(warm_up):
            await _one(api, goal, separate)
        times: dict[str, list[float]] = defaultdict(list)  # in order of first arrival
        jobs = 0
        stop_at = time.monotonic() + seconds
        while time.monotonic() < stop_at:
            for mark, at in await _one(api, goal, separate):
                times[mark].append(at)
            jobs += 1
        return jobs, times
    finally:
        await api.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chain", type=int, default=3, help="a chain of N instant tasks (default 3)")
    parser.add_argument("--mode", choices=("embedded", "distributed"), default="distributed")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--separate", action="store_true", help="submit, then open the job's stream (two requests)"
    )
    args = parser.parse_args()
    goal = chain_goal(args.chain)
    with tempfile.TemporaryDirectory() as tmp, stack_of(args.mode, Path(tmp)) as stack:
        jobs, times = asyncio.run(_timeline(stack.api, goal, args.seconds, args.separate))
    print(f"{jobs} chain({args.chain}) jobs, {args.mode}: median ms from the submit to")
    for mark, at in times.items():
        print(f"  {mark:<22} {statistics.median(at):7.2f}  (seen in {len(at)} jobs)")


if __name__ == "__main__":
    main()
