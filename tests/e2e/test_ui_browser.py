"""The web UI in a real browser (Debian's chromium) against a real `planwright up` serving it."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.support import REPO, planwright_up
from tests.local_http import serving
from tests.otlp import OtlpReceiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

UI = REPO / "ui" / "out"
CHROMIUM = os.environ.get("PLANWRIGHT_CHROMIUM", "/usr/bin/chromium")
JAEGER = "http://jaeger.test:16686"
ARTIFACTS = Path(os.environ.get("PLANWRIGHT_TEST_ARTIFACTS", REPO / "test-artifacts"))
POLICY = """
version: 1
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize, http_fetch]
    tools:
      http_fetch:
        allowed_domains: [127.0.0.1]
        allow_private_networks: [127.0.0.0/8]  # the slow site: the network guard's opt-in
        allowed_ports: [{port}]
"""
# A second server for the retry test: writing the artifact waits for a person's approval.
APPROVAL_POLICY = """
version: 1
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize]
    require_approval: [file_write_artifact]
"""
DEMO_GOAL = (
    "Generate an implementation checklist for adding a new tool, then write a tools.md draft file as an "
    "artifact, then summarize it."
)
DEMO_KEYS = ("create_checklist", "write_artifact", "summarize_artifact")


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


# Seconds before the slow site answers, by path: /pause long enough for two fetches of it to overlap
# plainly on the timeline, /hold for a page to see the fetch run, anything else (20 s) long enough to
# cancel the job while it runs.
PAUSES = {"/pause": 3, "/hold": 8}


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(next((s for path, s in PAUSES.items() if self.path.startswith(path)), 20))
        body = b"paused\n"
        try:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:
            pass  # the fetch was cancelled (or timed out) and hung up meanwhile

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serving(_Slow) as url:
        yield url


def _governed_server(tmp_path_factory: pytest.TempPathFactory, policy: str, **env: str) -> Iterator[str]:
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    data = tmp_path_factory.mktemp("ui-e2e")
    (data / "policy.yaml").write_text(policy)
    with planwright_up(
        data,
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        POLICY_CONFIG_PATH=str(data / "policy.yaml"),
        PLANWRIGHT_UI_DIR=str(UI),
        **env,
    ) as base:
        yield base


@pytest.fixture(scope="module")
def traces() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, traces: OtlpReceiver, site: str) -> Iterator[str]:
    """Traced, with Jaeger's UI configured: job pages link to their traces."""
    yield from _governed_server(
        tmp_path_factory,
        POLICY.format(port=site.rsplit(":", 1)[1]),
        OTEL_EXPORTER_OTLP_ENDPOINT=traces.endpoint,
        OTEL_BSP_SCHEDULE_DELAY="100",
        JAEGER_URL=JAEGER,
    )


@pytest.fixture(scope="module")
def approval_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _governed_server(tmp_path_factory, APPROVAL_POLICY)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need(shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file(), f"no chromium at {CHROMIUM}")
    from playwright.sync_api import expect, sync_playwright

    # expect(...) waits 5 s by default, whatever the page's own timeout: too short on a loaded machine.
    expect.set_options(timeout=30_000)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def wait_finished(base: str, job_id: str, within_s: float = 60) -> str:
    """Wait (polling the API) until the job has finished; its final status."""
    deadline = time.monotonic() + within_s
    while True:
        status: str = httpx.get(f"{base}/jobs/{job_id}").json()["status"]
        if status in ("succeeded", "failed", "cancelled"):
            return status
        assert time.monotonic() < deadline, f"job {job_id} is still {status} after {within_s} s"
        time.sleep(0.2)


def node(page: Any, key: str, status: str) -> None:
    """Wait for the graph node of ``key`` to show ``status``, visibly (a node React Flow has not
    measured stays hidden; the graph gives every node its size so none is)."""
    page.locator(f'[data-testid="node-{key}"][data-status="{status}"]').wait_for(state="visible")


def job_status(page: Any, status: str) -> None:
    page.locator(f'[data-testid="job-status"] [data-status="{status}"]').wait_for()


def fits_the_screen(page: Any) -> None:
    """Nothing makes the page scroll sideways (wide tables scroll inside their own box)."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is {width[0]} px wide on a {width[1]} px screen"


def submit(page: Any, base: str, goal: str | None = None) -> None:
    page.goto(f"{base}/")
    if goal is None:
        page.get_by_role("button", name="Use the demo goal").click()
    else:
        page.get_by_label("Goal").fill(goal)
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url("**/job/?id=*")


def test_the_demo_goal_from_the_form_runs_live_to_the_artifact(
    server: str, page: Any, traces: OtlpReceiver
) -> None:
    submit(page, server)
    for key in ("create_checklist", "write_artifact", "summarize_artifact"):
        node(page, key, "succeeded")
    page.locator('[data-testid="job-status"] [data-status="succeeded"]').wait_for()
    # The job's trace: linked from the page, and exported under that id (POST /jobs is its root).
    job = httpx.get(f"{server}/jobs/{page.url.rsplit('id=', 1)[1]}").json()
    link = page.get_by_role("link", name="Open in Jaeger")
    assert link.get_attribute("href") == f"{JAEGER}/trace/{job['trace_id']}"
    root = [s for s in traces.wait_for(job["trace_id"], "POST /jobs") if s.parent_id is None]
    assert [(s.name, s.service) for s in root] == [("POST /jobs", "planwright")]
    page.get_by_role("button", name="tools.md").click()
    viewer = page.get_by_test_id("artifact-viewer")
    viewer.get_by_text("Implementation checklist").first.wait_for()
    assert "tool_registry.py" in viewer.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "job-page.png"), full_page=True)


def test_a_blocked_task_shows_the_policys_reason(server: str, page: Any) -> None:
    submit(page, server, "Fetch https://example.com/ then summarize it.")
    page.locator('[data-testid="job-status"] [data-status="failed"]').wait_for()
    error = page.get_by_test_id("job-error").inner_text()
    assert "plan blocked by policy" in error
    assert "'example.com' is not an allowed domain for http_fetch in prod" in error
    node(page, "fetch_example_com", "blocked")
    page.screenshot(path=str(ARTIFACTS / "blocked-job.png"), full_page=True)


def test_a_submitted_plan_shows_like_any_job(server: str, page: Any) -> None:
    plan = {
        "tasks": [
            {
                "key": "draft",
                "title": "Draft",
                "tool": "text_generate",
                "args": {"prompt": "Write about queues"},
            },
            {
                "key": "digest",
                "title": "Digest",
                "tool": "text_summarize",
                "args": {"text": {"$from": "draft.output.text"}},
                "depends_on": ["draft"],
            },
        ]
    }
    resp = httpx.post(f"{server}/jobs", json={"plan": plan}, timeout=30)
    assert resp.status_code == 201, resp.text
    page.goto(f"{server}/job/?id={resp.json()['id']}")
    for key in ("draft", "digest"):
        node(page, key, "succeeded")
    job_status(page, "succeeded")
    page.get_by_text("Run a plan of 2 tasks: Draft, Digest").first.wait_for()
    page.get_by_text("2 tasks (explicit)").first.wait_for()  # the plan.created event: who planned it


def test_a_running_job_can_be_cancelled(server: str, site: str, page: Any) -> None:
    submit(page, server, f"Fetch {site}/slow then summarize it.")
    node(page, "fetch_127_0_0_1", "running")
    page.get_by_role("button", name="Cancel job").click()
    page.locator('[data-testid="job-status"] [data-status="cancelled"]').wait_for()
    node(page, "fetch_127_0_0_1", "cancelled")


def test_a_rejected_task_is_retried_from_the_ui_and_the_job_succeeds(approval_server: str, page: Any) -> None:
    submit(page, approval_server)
    node(page, "write_artifact", "awaiting_approval")
    # Keyboard: Tab reaches the graph's nodes, Enter opens the task panel.
    page.get_by_role("button", name="Cancel job").focus()
    visited = []
    for _ in range(20):
        page.keyboard.press("Tab")
        visited.append(
            page.evaluate("document.activeElement.dataset.testid || document.activeElement.tagName")
        )
        if visited[-1] == "node-write_artifact":
            break
    else:
        pytest.fail(f"Tab never reached the write_artifact node; it went through {visited}")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "keyboard-focus.png"))
    page.keyboard.press("Enter")
    panel = page.get_by_test_id("task-panel")
    panel.get_by_text("file_write_artifact", exact=True).wait_for()

    panel.get_by_label("Comment (optional)").fill("wrong file name")
    panel.get_by_role("button", name="Reject").click()
    job_status(page, "failed")
    node(page, "write_artifact", "failed")
    node(page, "summarize_artifact", "skipped")
    page.locator('.stream[data-status="ended"]').wait_for()

    panel.get_by_role("button", name="Retry task").click()
    # The job reopens and the page follows its stream again without a reload.
    node(page, "write_artifact", "awaiting_approval")
    node(page, "summarize_artifact", "pending")
    job_status(page, "running")
    page.screenshot(path=str(ARTIFACTS / "retried-job.png"), full_page=True)
    panel.get_by_role("button", name="Approve").click()
    for key in DEMO_KEYS:
        node(page, key, "succeeded")
    job_status(page, "succeeded")
    page.locator('.stream[data-status="ended"]').wait_for()
    timeline = page.get_by_role("list", name="Event timeline").inner_text()
    assert timeline.count("job.failed") == 1
    assert timeline.count("job.succeeded") == 1
    assert "task.pending" in timeline


def test_the_jobs_list_shows_a_new_job_without_a_reload(server: str, page: Any) -> None:
    for job in httpx.get(f"{server}/jobs").json()["items"]:
        wait_finished(server, job["id"])
    page.goto(f"{server}/")
    # Nothing runs: the list holds no stream and reads GET /jobs every 10 s while visible.
    page.locator('[data-testid="jobs-live"][data-status="idle"]').wait_for()
    page.evaluate("window.notReloaded = true")
    job_id = httpx.post(f"{server}/jobs", json={"goal": DEMO_GOAL}).json()["id"]
    row = page.get_by_test_id(f"job-row-{job_id}")
    row.wait_for(timeout=30_000)
    row.locator('[data-status="succeeded"]').wait_for(timeout=30_000)
    assert row.get_by_text("3/3").is_visible()
    assert page.evaluate("window.notReloaded") is True


def test_the_pages_fit_a_phone(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        job_id = httpx.post(f"{server}/jobs", json={"goal": DEMO_GOAL}).json()["id"]
        page.goto(f"{server}/")
        page.get_by_test_id(f"job-row-{job_id}").wait_for()
        fits_the_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-jobs.png"), full_page=True)

        page.goto(f"{server}/job/?id={job_id}")
        for key in DEMO_KEYS:
            node(page, key, "succeeded")
        job_status(page, "succeeded")
        page.get_by_test_id("node-write_artifact").click()
        page.get_by_test_id("task-panel").get_by_text("file_write_artifact", exact=True).wait_for()
        page.get_by_role("button", name="tools.md").click()
        page.get_by_test_id("artifact-viewer").get_by_text("Implementation checklist").first.wait_for()
        fits_the_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-job.png"), full_page=True)

        page.goto(f"{server}/tools/")
        tool = page.get_by_test_id("tool-http_fetch")
        tool.get_by_text("Argument schema").click()
        tool.get_by_label("http_fetch argument schema").wait_for()
        fits_the_screen(page)
        page.screenshot(path=str(ARTIFACTS / "phone-tools.png"), full_page=True)
    finally:
        context.close()
