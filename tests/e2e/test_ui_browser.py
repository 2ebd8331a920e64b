"""The web UI in a real browser (Debian's chromium) against a real `planwright up` serving it."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import REPO, planwright_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

UI = REPO / "ui" / "out"
CHROMIUM = os.environ.get("PLANWRIGHT_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("PLANWRIGHT_TEST_ARTIFACTS", REPO / "test-artifacts"))
POLICY = """
version: 1
environments:
  prod:
    allowed_tools: [text_generate, file_write_artifact, text_summarize, http_fetch]
    tools:
      http_fetch:
        allowed_domains: [127.0.0.1]
"""


def _need(ok: bool, why: str) -> None:
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)


class _Slow(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(20)  # long enough to cancel the job while it runs
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    data = tmp_path_factory.mktemp("ui-e2e")
    (data / "policy.yaml").write_text(POLICY)
    with planwright_up(
        data,
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        POLICY_CONFIG_PATH=str(data / "policy.yaml"),
        PLANWRIGHT_UI_DIR=str(UI),
    ) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    _need(shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file(), f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

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
    page.set_default_timeout(20_000)
    yield page
    context.close()


def node(page: Any, key: str, status: str) -> None:
    """Wait for the graph node of ``key`` to show ``status``. React Flow keeps nodes hidden until it
    has measured them, so this waits for the status, not for pixels."""
    page.locator(f'[data-testid="node-{key}"][data-status="{status}"]').wait_for(state="attached")


def submit(page: Any, base: str, goal: str | None = None) -> None:
    page.goto(f"{base}/")
    if goal is None:
        page.get_by_role("button", name="Use the demo goal").click()
    else:
        page.get_by_label("Goal").fill(goal)
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url("**/job/?id=*")


def test_the_demo_goal_from_the_form_runs_live_to_the_artifact(server: str, page: Any) -> None:
    submit(page, server)
    for key in ("create_checklist", "write_artifact", "summarize_artifact"):
        node(page, key, "succeeded")
    page.locator('[data-testid="job-status"] [data-status="succeeded"]').wait_for()
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


def test_a_running_job_can_be_cancelled(server: str, site: str, page: Any) -> None:
    submit(page, server, f"Fetch {site}/slow then summarize it.")
    node(page, "fetch_127_0_0_1", "running")
    page.get_by_role("button", name="Cancel job").click()
    page.locator('[data-testid="job-status"] [data-status="cancelled"]').wait_for()
    node(page, "fetch_127_0_0_1", "cancelled")
