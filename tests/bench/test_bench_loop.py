"""`python -m bench.loop` (one workload in a loop, for A/B runs and profiling) starts its stack, runs
jobs and reports a latency and each process's CPU per job. Timings are never checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]

pytestmark = [pytest.mark.e2e, pytest.mark.distributed, pytest.mark.timeout(240)]


def test_the_loop_reports_latency_and_cpu_per_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loop", "--chain", "2", "--seconds", "1"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=200,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert re.search(r"^pids: planner=\d+ worker=\d+ api=\d+$", done.stdout, re.M), done.stdout
    jobs = re.search(r"^jobs (\d+)  p50 ([\d.]+) ms  p95 ([\d.]+) ms$", done.stdout, re.M)
    assert jobs is not None, done.stdout
    assert int(jobs.group(1)) > 0
    assert float(jobs.group(2)) > 0
    cpu = dict(re.findall(r"^(\w+): ([\d.]+) ms of CPU per job$", done.stdout, re.M))
    assert set(cpu) == {"planner", "worker", "api"}, done.stdout
    assert float(cpu["api"]) > 0
