"""`python -m bench.timeline` (when a client sees each event of a job) starts its stack, follows
jobs (the submit answered with the job's events, or with the job and its stream opened after) and
prints the median time from the submit to each event (and the 201), in the order they arrive.
Timings are never checked, only their order (every job sees its events in that order)."""

from __future__ import annotations

import re

import pytest

from tests.bench_runs import run_bench

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


@pytest.mark.parametrize("separate", [False, True], ids=["one-request", "separate"])
def test_the_timeline_lists_each_stage_of_a_job_in_order(separate: bool) -> None:
    flags = ["--separate"] if separate else []
    done = run_bench(
        "bench.timeline", "--mode", "embedded", "--chain", "2", "--seconds", "1", *flags, timeout=200
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    head = re.search(r"^(\d+) chain\(2\) jobs, embedded: median ms from the submit to$", done.stdout, re.M)
    assert head is not None, done.stdout
    assert int(head.group(1)) > 0, done.stdout
    marks = {
        m: float(t) for m, t in re.findall(r"^  (\S+) +([\d.]+)  \(seen in \d+ jobs\)$", done.stdout, re.M)
    }
    stages = [
        *(["201"] if separate else []),  # a submit answered with its events has no separate 201
        "job.created#1",
        "plan.created#1",
        "task.succeeded#1",
        "task.succeeded#2",
        "job.succeeded#1",
    ]
    assert set(stages) <= set(marks), done.stdout
    assert "task.succeeded#3" not in marks, done.stdout  # a chain of 2
    assert ("201" in marks) is separate, done.stdout
    times = [marks[s] for s in stages]
    assert times == sorted(times), done.stdout
    assert times[0] > 0, done.stdout
