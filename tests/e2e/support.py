"""A real `planwright up` process for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def planwright_up(data: Path, *, args: Sequence[str] = (), **env: str) -> Iterator[str]:
    """Run `planwright up` (embedded mode) on a free port with ``data`` as its data directory (and
    ``args`` added to its command line); yields the base URL once /healthz answers, and stops the
    process afterwards."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    with (data / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "planwright", "up", "--port", str(port), "--data-dir", str(data), *args],
            env={**clean, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (data / "server.log").read_text()
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "planwright up did not become healthy in 60s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
