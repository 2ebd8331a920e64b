"""Processes refuse to start on an unusable configuration, saying what to fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "-m", "planwright", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_invalid_policy_file_stops_the_platform_naming_the_key(tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "environments:\n  prod:\n    tools:\n      http_fetch:\n        max_response_bytes: -1\n"
    )
    result = run(
        "up",
        "--port",
        "1",
        "--data-dir",
        str(tmp_path / "data"),
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        POLICY_CONFIG_PATH=str(policy),
    )
    assert result.returncode == 2
    assert (
        "environments.prod.tools.http_fetch.max_response_bytes: Input should be greater than 0"
        in result.stderr
    )


def test_a_service_process_refuses_embedded_mode(tmp_path):
    result = run("worker", PLANWRIGHT_DATA_DIR=str(tmp_path))
    assert result.returncode == 2
    assert "needs distributed mode (set DATABASE_URL and REDIS_URL)" in result.stderr


def test_an_llm_planner_without_its_key_is_refused(tmp_path):
    result = run(
        "up", "--data-dir", str(tmp_path), PLANNER_MODE="llm", LLM_PROVIDER="openai", OPENAI_API_KEY=""
    )
    assert result.returncode == 2
    assert "OPENAI_API_KEY" in result.stderr
