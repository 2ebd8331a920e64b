"""`planwright fake-llm` and `planwright up` with PLANNER_MODE=llm, as separate real processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.support import fake_llm, planwright_up

pytestmark = pytest.mark.e2e
KEY = "sk-e2e-0123456789abcdef-secret"


def _task(key, tool, args, depends_on=()):
    return {
        "key": key,
        "title": key,
        "description": "",
        "tool": tool,
        "args_json": json.dumps(args),
        "depends_on": list(depends_on),
        "critic_required": False,
    }


SCRIPT = [
    {"text": "this is not a plan"},
    {
        "json": {
            "tasks": [
                _task("notes", "text_generate", {"prompt": "Write release notes"}),
                _task("save", "file_write_artifact", {"name": "notes.md"}, ["notes"]),
            ]
        }
    },
    {"text": "# Release notes\n\n- Faster planning", "input_tokens": 800, "output_tokens": 120},
]


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planwright", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_llm_planned_job_runs_end_to_end_against_the_fake_model(tmp_path: Path) -> None:
    with fake_llm(SCRIPT, tmp_path) as openai_url:
        env = {
            "PLANNER_MODE": "llm",
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": KEY,
            "OPENAI_BASE_URL": openai_url,
            "PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui"),
        }
        with planwright_up(tmp_path, **env) as base:
            submitted = cli("submit", "Write release notes and save them", "--follow", "--api", base)
            assert submitted.returncode == 0, submitted.stderr
            job_id = submitted.stdout.split()[1]
            job = httpx.get(f"{base}/jobs/{job_id}").json()
            tasks = httpx.get(f"{base}/jobs/{job_id}/tasks").json()
            again = cli("retry", tasks[0]["id"], "--api", base)
            time.sleep(0.2)
        log = (tmp_path / "server.log").read_text()
    assert job["plan"]["planner"] == "llm"
    assert [t["key"] for t in tasks] == ["notes", "save"]
    assert job["usage"]["calls"] == 3  # one bad plan, the good one, the notes
    assert tasks[0]["usage"]["input_tokens"] == 800
    assert KEY not in log
    assert KEY not in submitted.stdout + submitted.stderr
    assert again.returncode == 1
    assert "only a failed or blocked task can be retried" in again.stderr


def test_the_llm_planner_without_its_key_refuses_to_start(tmp_path: Path) -> None:
    result = cli(
        "up",
        "--port",
        "1",
        "--data-dir",
        str(tmp_path),
        PLANNER_MODE="llm",
        LLM_PROVIDER="openai",
        OPENAI_API_KEY="",
    )
    assert result.returncode == 2
    assert "set OPENAI_API_KEY" in result.stderr
