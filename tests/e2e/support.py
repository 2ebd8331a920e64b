"""A real `planwright up` process for end-to-end tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.processes import answers, free_port, wait_until

REPO = Path(__file__).parents[2]

__all__ = ["REPO", "fake_llm", "free_port", "planwright_up"]


@contextmanager
def planwright_up(data: Path, *, args: Sequence[str] = (), **env: str) -> Iterator[str]:
    """Run `planwright up` (embedded mode) on a free port with ``data`` as its data directory (and
    ``args`` added to its command line); yields the base URL once /healthz answers, and stops the
    process afterwards. The session has removed the caller's settings from the environment
    (tests/isolation.py), so only ``env`` configures it."""
    port = free_port()
    log = data / "server.log"
    with log.open("w") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "planwright", "up", "--port", str(port), "--data-dir", str(data), *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            f"planwright up's /healthz on port {port}",
            lambda: answers(f"{base}/healthz"),
            proc,
            lambda: log.read_text(errors="replace"),
        )
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def fake_llm(script: list[dict[str, Any]], data: Path) -> Iterator[str]:
    """Run `planwright fake-llm` answering with ``script`` (written under ``data``); yields its
    OPENAI_BASE_URL once it has printed it (its ready line), and stops it afterwards."""
    path = data / "fake-llm-script.json"
    path.write_text(json.dumps(script))
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "planwright", "fake-llm", "--script", str(path), "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
    ) as fake:
        try:
            assert fake.stdout is not None
            ready = fake.stdout.readline()
            assert "OPENAI_BASE_URL=" in ready, f"planwright fake-llm did not start: {ready!r}"
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            fake.terminate()
            fake.wait(timeout=30)
