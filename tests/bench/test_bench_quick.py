"""The quick bench (`python -m bench --quick`) runs every workload in both modes and reports a positive
figure for each. Timings are never checked: only that nothing crashed and every job succeeded (the
bench exits 1 otherwise). Needs Postgres on 127.0.0.1:5432 and Redis on 6379; without them it fails."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.config import QUICK
from bench.report import expected_floors, expected_keys, may_be_zero
from tests.bench_runs import REPO

MODES = ("embedded", "distributed")

pytestmark = [pytest.mark.e2e, pytest.mark.distributed, pytest.mark.timeout(300)]


def _run_bench(out: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "bench", "--quick", "--mode", "both", "--out", str(out)]
    with subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=270)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the bench stops its servers and drops its database
            stdout, stderr = proc.communicate(timeout=30)
            pytest.fail(f"the quick bench did not finish in 270s\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def test_quick_bench_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = _run_bench(out)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"

    result = json.loads(out.read_text())
    assert result["mode"] == "both"
    assert result["quick"] is True
    missing = []
    for mode in MODES:
        for key in expected_keys(mode):
            value = result["figures"].get(key, {}).get(mode)
            if not (isinstance(value, int | float) and (value > 0 or (value == 0 and may_be_zero(key)))):
                missing.append(f"{key} ({mode}): {value!r}")
        for key in expected_floors(mode):
            value = result["floors"].get(key)
            if not (isinstance(value, int | float) and value > 0):
                missing.append(f"{key}: {value!r}")
    assert not missing, "figures without a positive number (or 0 where that is a result):\n" + "\n".join(
        missing
    )

    for mode in MODES:  # every goal's plan was checked, and its job succeeded
        assert len(result["shapes"][mode]) == 4
        assert all(line.endswith("job succeeded") for line in result["shapes"][mode])
        assert result["details"][mode]["w4"]["outcomes"] == {"job.succeeded": QUICK.sse_clients}
    assert "W1: chain(3) jobs at c=50, throughput" in done.stdout  # the table was printed
