"""End to end: a real ``planwright up`` process, the seed's curl body, SSE followed to the end."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from planwright.core.llm import MOCK_NOTICE, MOCK_RECIPES
from planwright.core.llm.mock import NOTICE_LINE
from planwright.follow import sse_events
from tests.e2e.support import planwright_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SEED_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)
SEED_BODY = (
    '{"goal":"Generate an implementation checklist for adding a new tool, then write a tools.md draft '
    'file as an artifact, then summarize it.","context_json":{},"priority":1}'
)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="module")
def server(data: Path) -> Iterator[str]:
    # API only: the UI has its own test.
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui")) as base:
        assert (data / "planwright.db").exists()
        yield base


def test_the_start_up_banner_says_the_text_is_placeholder_and_how_to_get_real_output(
    server: str, data: Path
) -> None:
    banner = (data / "server.log").read_text()
    assert f"Planwright (embedded) on {server}" in banner
    assert MOCK_NOTICE in banner
    for recipe in MOCK_RECIPES.values():
        assert recipe in banner


def _events(
    base: str, job_id: str, last: int | None = None, stop_after: int | None = None
) -> list[tuple[int, str, dict]]:
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    out: list[tuple[int, str, dict]] = []
    with httpx.stream("GET", f"{base}/jobs/{job_id}/events", headers=headers, timeout=30) as resp:
        assert resp.status_code == 200
        for event_id, event, data in sse_events(resp.iter_lines()):
            assert event_id is not None
            out.append((event_id, event, data))
            if stop_after is not None and len(out) == stop_after:
                break  # drop the connection mid-stream
    return out


def test_seed_demo_over_http_with_a_dropped_sse_connection(server: str) -> None:
    resp = httpx.post(f"{server}/jobs", content=SEED_BODY, headers={"Content-Type": "application/json"})
    assert resp.status_code == 201
    job_id = resp.json()["id"]

    first = _events(server, job_id, stop_after=3)
    rest = _events(server, job_id, last=first[-1][0])
    stream = first + rest
    ids = [i for i, _, _ in stream]
    assert ids == sorted(set(ids)), "gap-free, duplicate-free and ordered"
    assert stream[-1][1] == "job.succeeded"
    assert [i for i, _, _ in _events(server, job_id)] == ids  # the same as one uninterrupted read

    tasks = httpx.get(f"{server}/jobs/{job_id}/tasks").json()
    assert [(t["title"], t["tool"], t["critic_required"], t["status"]) for t in tasks] == [
        ("Create checklist", "text_generate", True, "succeeded"),
        ("Write artifact", "file_write_artifact", True, "succeeded"),
        ("Summarize artifact", "text_summarize", False, "succeeded"),
    ]
    checklist = tasks[0]["output"]["text"]
    assert "- [ ]" in checklist

    (artifact,) = httpx.get(f"{server}/jobs/{job_id}/artifacts").json()
    assert (artifact["name"], artifact["media_type"]) == ("tools.md", "text/markdown")
    content = httpx.get(f"{server}{artifact['content_url']}")
    assert content.status_code == 200
    assert content.text == checklist
    assert artifact["size"] == len(content.content)

    # Model-written text says, in its first line, that the mock model wrote it.
    assert checklist.startswith(NOTICE_LINE + "\n\n")
    summary = tasks[2]["output"]["text"]
    assert summary.startswith(NOTICE_LINE + "\n\n")
    summary = summary.removeprefix(NOTICE_LINE + "\n\n")
    assert 0 < len(summary) < len(checklist)
    # Extractive: every sentence of the summary is taken from the artifact.
    sentences = [s.strip(". ") for s in summary.split(". ")]
    assert len(sentences) == 3
    assert all(s in checklist for s in sentences), sentences


def test_cli_submit_follow_exit_codes(server: str) -> None:
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "planwright",
            "submit",
            "Write a short note about queues",
            "--follow",
            "--api",
            server,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "job succeeded" in ok.stdout

    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "planwright",
            "submit",
            "Fetch http://127.0.0.1:1/ then summarize it.",
            "-f",
            "--api",
            server,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "job failed" in bad.stdout
    assert "skipped" in bad.stdout


def test_cli_submit_follow_prints_the_result_and_how_to_download_each_artifact(
    server: str, tmp_path: Path
) -> None:
    run = _cli("submit", SEED_GOAL, "--follow", "--api", server)
    assert run.returncode == 0, run.stderr
    assert f"note: {MOCK_NOTICE}" in run.stderr  # said once the job is submitted
    out = run.stdout
    # The progress lines, then the result: the summary's text, marked as the mock's, ...
    assert out.index("job succeeded") < out.index(f"result ({MOCK_NOTICE}):")
    job_id = out.split()[1]
    job = httpx.get(f"{server}/jobs/{job_id}").json()
    (final,) = job["result"]["tasks"]
    assert final["key"] == "summarize_artifact"
    assert final["text"] in out
    # ... and each artifact, with the command that downloads it, which works as printed.
    (artifact,) = job["result"]["artifacts"]
    assert f"  tools.md  text/markdown, {artifact['size']} bytes" in out
    command = f"planwright download --api {server} {artifact['id']} -o tools.md"
    assert command in out
    fetched = _cli(*command.split()[1:], cwd=tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert (tmp_path / "tools.md").read_bytes() == httpx.get(f"{server}{artifact['content_url']}").content


def test_cli_prints_what_failed_in_a_failed_jobs_result(server: str) -> None:
    plan = '[{"key": "w", "title": "Write", "tool": "file_write_artifact", "args": {"name": "x.md"}}]'
    run = _cli("submit", "--plan", "/dev/stdin", "--follow", "--api", server, stdin=plan)
    assert run.returncode == 1
    assert "w (file_write_artifact) failed: no output" in run.stdout
    assert "artifacts:" not in run.stdout


def _cli(*args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "planwright", *args],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        input=stdin,
    )


def test_openapi_and_root(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json").json()
    assert {"/jobs", "/jobs/{job_id}/tasks", "/jobs/{job_id}/events", "/tools", "/healthz"} <= set(
        spec["paths"]
    )
    root = httpx.get(f"{server}/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/docs")
    tools = {t["name"]: t["source"] for t in httpx.get(f"{server}/tools").json()["tools"]}
    built_ins = {"text_generate", "file_write_artifact", "text_summarize", "http_fetch", "ask_human"}
    assert {name for name, source in tools.items() if source == "builtin"} == built_ins
    assert set(tools) - built_ins == {"example.greet", "example.word_count"}  # the example plugin
    assert json.loads(httpx.get(f"{server}/healthz").text)["mode"] == "embedded"


def test_a_jobs_list_stream_names_a_new_job(server: str) -> None:
    with (
        httpx.Client(base_url=server, timeout=10) as client,
        client.stream("GET", "/jobs/changes") as resp,
    ):
        assert resp.status_code == 200
        events = sse_events(resp.iter_lines())
        assert next(events) == (None, "ready", {})
        job_id = client.post("/jobs", json={"goal": "Write a short note"}).json()["id"]
        _, name, body = next(events)
        assert (name, body) == ("jobs.changed", {"job_ids": [job_id], "all": False})
