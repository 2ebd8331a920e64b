"""Finding 7: a provider's error that echoes the API key must not put the key in task errors, job
errors, events, the database or the log. A canary key, a real `planwright up`, and the real OpenAI
SDK against the fake model server, whose every answer is an error quoting the key it was sent."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from planwright.core.llm.fake_server import FakeModelServer, Reply
from tests.e2e.support import planwright_up

pytestmark = pytest.mark.e2e
CANARY = "sk-canary-7f3a9c2e1b5d4f60-do-not-leak"
DEMO = "Generate an implementation checklist for adding a new tool, then summarize it."


def _everything_stored(data: Path) -> bytes:
    """The database files as bytes (the WAL too): whatever a row holds is in there."""
    return b"".join(p.read_bytes() for p in data.glob("planwright.db*"))


@pytest.mark.parametrize("planner_mode", ["rules", "llm"], ids=["worker-error", "planner-error"])
def test_a_key_echoed_by_the_provider_never_leaves_redacted(tmp_path: Path, planner_mode: str) -> None:
    echo = Reply.error(400, f"Incorrect API key provided: {CANARY}. Find your key in your account.")
    with FakeModelServer([echo], repeat=True) as fake:
        env = {
            "PLANWRIGHT_UI_DIR": str(tmp_path / "no-ui"),
            "PLANNER_MODE": planner_mode,
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": CANARY,
            "OPENAI_BASE_URL": fake.openai_url,
            "LLM_MAX_RETRIES": "0",
            "TASK_MAX_RETRIES": "0",
        }
        with planwright_up(tmp_path, **env) as base:
            resp = httpx.post(f"{base}/jobs", json={"goal": DEMO}, timeout=30)
            assert resp.status_code == 201, resp.text
            job_id = resp.json()["id"]
            stream = httpx.get(f"{base}/jobs/{job_id}/events", timeout=120).text  # ends with the job
            answers = [
                httpx.get(f"{base}{path}", timeout=30).text
                for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/tasks", "/jobs", f"/jobs/{job_id}/llm-calls")
            ]
        # The canary is live: the provider got the key, and its answer quoted it.
        assert fake.requests, "the model was never called"
        assert fake.requests[0].headers["authorization"] == f"Bearer {CANARY}"

    job = httpx.Response(200, text=answers[0]).json()
    assert job["status"] == "failed"
    assert "[redacted]" in job["error"]  # the error is kept, the key masked
    assert "[redacted]" in stream
    for text in [stream, *answers]:
        assert CANARY not in text
    assert CANARY.encode() not in _everything_stored(tmp_path)
    log = (tmp_path / "server.log").read_text()
    assert "[redacted]" in log
    assert CANARY not in log
