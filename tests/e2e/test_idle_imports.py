"""`planwright up` (embedded mode, nothing configured) loads no package it has no use for: no
Postgres or Redis driver, no migration tool (migrations run in a forked child), no provider SDK, no
OpenTelemetry SDK or exporter. Each would cost idle RSS (issue 11: <= 90 MB); asyncpg alone is ~3 MB."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import READY_S, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

# Runs the real `planwright up` in this process; once /healthz answers and the server has been idle a
# moment, writes the names of every loaded module to a file and stops the server as Ctrl-C would.
PROBE = """
import os, signal, sys, threading, time, urllib.request

port, out, ceiling = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])

def watch():
    deadline = time.monotonic() + ceiling
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                print(f"probe: /healthz did not answer within {ceiling:g}s", file=sys.stderr)
                os._exit(3)
            time.sleep(0.05)
    time.sleep(1.0)  # the background tasks' first rounds (health, sweeper) have run
    with open(out, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
    os.kill(os.getpid(), signal.SIGINT)

threading.Thread(target=watch, daemon=True).start()
from planwright.cli import app
app(["up", "--port", str(port)])
"""

NOT_AT_IDLE = (
    "asyncpg",
    "redis",
    "alembic",
    "mako",
    "pygments",
    "httpx",
    "openai",
    "anthropic",
    "mcp",
    "opentelemetry.sdk",
    "opentelemetry.exporter",
)


def test_an_idle_embedded_server_loads_no_driver_sdk_or_migration_tool_it_does_not_use(
    tmp_path: Path,
) -> None:
    modules = tmp_path / "modules.txt"
    unset = ("DATABASE_URL", "REDIS_URL", "LLM_PROVIDER", "OTEL_EXPORTER_OTLP_ENDPOINT", "MCP_CONFIG_PATH")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(free_port()), str(modules), str(READY_S)],
        env={
            **env,
            "PLANWRIGHT_DATA_DIR": str(tmp_path / "data"),
            "PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui"),
        },
        capture_output=True,
        text=True,
        timeout=READY_S + 60,
    )
    assert done.returncode == 0, f"rc={done.returncode}\n{done.stdout}\n{done.stderr}"
    loaded = set(modules.read_text().split())
    assert {"planwright.services.api.app", "uvicorn"} <= loaded  # the probe saw the server
    unwanted = sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in NOT_AT_IDLE))
    assert not unwanted, f"an idle embedded server loaded {unwanted}"
