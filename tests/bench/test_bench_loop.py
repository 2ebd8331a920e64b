"""`python -m bench.loop` (one workload in a loop, for A/B runs and profiling) starts its stack, runs
jobs and reports a latency and each process's CPU per job. Timings are never checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench_runs import REPO, run_bench

pytestmark = [pytest.mark.e2e, pytest.mark.distributed, pytest.mark.timeout(240)]


def test_the_loop_reports_latency_and_cpu_per_process() -> None:
    done = run_bench("bench.loop", "--chain", "2", "--seconds", "1", timeout=200)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert re.search(r"^pids: planner=\d+ worker=\d+ api=\d+$", done.stdout, re.M), done.stdout
    jobs = re.search(r"^jobs (\d+)  p50 ([\d.]+) ms  p95 ([\d.]+) ms$", done.stdout, re.M)
    assert jobs is not None, done.stdout
    assert int(jobs.group(1)) > 0
    assert float(jobs.group(2)) > 0
    cpu = dict(re.findall(r"^(\w+): ([\d.]+) ms of CPU per job$", done.stdout, re.M))
    assert set(cpu) == {"planner", "worker", "api"}, done.stdout
    assert float(cpu["api"]) > 0


def test_the_loop_runs_against_planwright_up_with_several_clients() -> None:
    """``--mode embedded``: one process, ``up``; ``--concurrency 3``: three clients at once."""
    args = ("--mode", "embedded", "--concurrency", "3", "--chain", "2", "--seconds", "1")
    done = run_bench("bench.loop", *args, timeout=200)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert re.search(r"^pids: up=\d+$", done.stdout, re.M), done.stdout
    jobs = re.search(r"^jobs (\d+)  p50 ([\d.]+) ms  p95 ([\d.]+) ms$", done.stdout, re.M)
    assert jobs is not None, done.stdout
    assert int(jobs.group(1)) >= 3  # each client finished at least the job it started in the second
    cpu = dict(re.findall(r"^(\w+): ([\d.]+) ms of CPU per job$", done.stdout, re.M))
    assert set(cpu) == {"up"}, done.stdout
    assert float(cpu["up"]) > 0


def test_the_loop_refuses_fewer_than_one_client() -> None:
    done = run_bench("bench.loop", "--concurrency", "0", timeout=60)
    assert done.returncode == 2
    assert "--concurrency must be at least 1" in done.stderr


def test_ab_runs_both_checkouts_in_turn_and_sums_up_the_pairs() -> None:
    """`python -m bench.ab BEFORE AFTER` (here the same checkout twice): each pair's figures, then per
    figure the mean difference and the count of pairs each side was lower in."""
    here = str(REPO)
    done = run_bench("bench.ab", here, here, "--pairs", "1", "--seconds", "1", "--chain", "2", timeout=220)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    pair = re.search(
        r"^pair 1: p50 ([\d.]+) -> ([\d.]+)  p95 [\d.]+ -> [\d.]+  planner CPU", done.stdout, re.M
    )
    assert pair is not None, done.stdout
    assert float(pair.group(1)) > 0
    assert float(pair.group(2)) > 0
    summed = re.findall(
        r"^ +(\S.*?): after - before [+-][\d.]+ ms on average .* of 1 pairs", done.stdout, re.M
    )
    assert summed == ["p50", "p95", "planner CPU", "worker CPU", "api CPU"], done.stdout


def test_ab_refuses_a_directory_that_is_no_checkout(tmp_path: Path) -> None:
    done = run_bench("bench.ab", str(tmp_path), str(REPO), timeout=60)
    assert done.returncode == 2
    assert "is not a checkout with bench/loop.py" in done.stderr
