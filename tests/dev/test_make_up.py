"""`make up` twice against the built UI: the second start builds nothing, keeps the dev tools, and
serves /healthz. Start times are printed (the targets are in the README); none is asserted."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.processes import answers, free_port, wait_until

REPO = Path(__file__).parents[2]
STAMP = REPO / "ui" / "out" / ".built"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def ui_built() -> bool:
    done = subprocess.run(["make", "-q", "ui-build"], cwd=REPO, capture_output=True, timeout=60)
    return done.returncode == 0


def make_up(data: Path, log: Path) -> tuple[float, str]:
    """Run `make up` on a free port until /healthz answers; returns the seconds that took, and its output."""
    port = free_port()
    started = time.monotonic()
    with log.open("w") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "up", f"PORT={port}", "HOST=127.0.0.1"],
            cwd=REPO,
            env={**os.environ, "PLANWRIGHT_DATA_DIR": str(data)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until(
            f"`make up` to serve /healthz on port {port}",
            lambda: answers(f"http://127.0.0.1:{port}/healthz"),
            proc,
            lambda: log.read_text(errors="replace"),
        )
        return time.monotonic() - started, log.read_text(errors="replace")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_a_second_make_up_starts_without_building_the_ui(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("uv") is None:
        pytest.skip("make and uv are needed")
    if not ui_built():  # never build here: other tests serve ui/out meanwhile
        if os.environ.get("CI"):
            pytest.fail("the UI is not built, or older than its sources: make test builds it first")
        pytest.skip("the UI is not built, or older than its sources (make ui-build)")
    built = STAMP.stat().st_mtime_ns

    first_s, first = make_up(tmp_path / "data", tmp_path / "first.log")
    second_s, second = make_up(tmp_path / "data", tmp_path / "second.log")
    print(f"make up reached /healthz in {first_s:.1f}s, then in {second_s:.1f}s")

    for output in (first, second):
        assert "next build" not in output, output
        assert "Uninstalled" not in output, f"make up removed packages (the dev tools?):\n{output}"
    assert STAMP.stat().st_mtime_ns == built, "the UI was built again"
    assert "sync --frozen --no-dev --inexact" in second, second
