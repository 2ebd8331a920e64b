"""Replanning end to end: `planwright fake-llm` and `planwright up` (PLANNER_MODE=llm) as real processes;
`planwright submit --follow` prints the replan and the Python client lists both plan versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from planwright.client import Client
from tests.e2e.support import fake_llm, planwright_up
from tests.e2e.test_llm_e2e import _task, cli

pytestmark = pytest.mark.e2e

OUTLINE = _task("outline", "text_generate", {"prompt": "Write an outline"})
SCRIPT = [
    {"json": {"tasks": [OUTLINE, _task("notes", "text_generate", {"prompt": "Write notes"}, ["outline"])]}},
    {"text": "# Outline"},
    {"status": 400, "message": "this prompt is not allowed"},  # not retryable: `notes` fails for good
    {
        "json": {
            "tasks": [OUTLINE, _task("short", "text_generate", {"prompt": "Write short notes"}, ["outline"])]
        }
    },
    {"text": "Short notes"},
]


def test_a_replanned_job_is_followed_by_the_cli_and_listed_by_the_client(tmp_path: Path) -> None:
    with fake_llm(SCRIPT, tmp_path) as openai_url:
        env = {
            "PLANNER_MODE": "llm",
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-e2e-replan",
            "OPENAI_BASE_URL": openai_url,
            "PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui"),
        }
        with planwright_up(tmp_path, **env) as base:
            submitted = cli("submit", "Write an outline, then notes", "--follow", "--api", base)
            assert submitted.returncode == 0, submitted.stdout + submitted.stderr
            job_id = submitted.stdout.split()[1]
            with Client(base) as client:
                plans = client.plans(job_id)
                job = client.get(job_id)
    assert job.status == "succeeded"
    assert "job replanning (round 1): task 'notes' failed" in submitted.stdout
    assert "plan v2 (replanned: task 'notes' failed: " in submitted.stdout
    assert "+short -notes; outline (text_generate), short (text_generate)" in submitted.stdout
    assert [(p.version, p.reason is None) for p in plans] == [(1, True), (2, False)]
    assert plans[1].diff is not None
    assert (plans[1].diff.added, plans[1].diff.removed) == (["short"], ["notes"])
