"""The job page's views in a real browser: the result first, mock badges, what a finished job no longer
offers, the plan graph (arrows, whole tool names, a sane zoom) and the timeline of attempts; and pages
that hold no connection once nothing runs (a headless screenshot with a virtual time budget finishes)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.test_ui_browser import (
    ARTIFACTS,
    CHROMIUM,
    DEMO_GOAL,
    POLICY,
    _governed_server,
    browser,
    fits_the_screen,
    job_status,
    node,
    page,
    site,
    wait_finished,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

# The chromium fixtures and the slow site of test_ui_browser, used here by name.
__all__ = ["browser", "page", "site"]

MOCK_NOTICE = "mock model: placeholder text; set LLM_PROVIDER=openai, anthropic or openai_compatible"


@pytest.fixture(scope="module")
def views(tmp_path_factory: pytest.TempPathFactory, site: str) -> Iterator[str]:
    """A server of its own (so that no other module's job runs while a page is measured), allowing
    plans of up to 200 tasks."""
    yield from _governed_server(
        tmp_path_factory, POLICY.format(port=site.rsplit(":", 1)[1]), PLAN_MAX_TASKS="200"
    )


def submit_plan(base: str, tasks: list[dict[str, Any]]) -> str:
    resp = httpx.post(f"{base}/jobs", json={"plan": {"tasks": tasks}}, timeout=30)
    assert resp.status_code == 201, resp.text
    job_id: str = resp.json()["id"]
    return job_id


def open_finished(page: Any, base: str, job_id: str, status: str = "succeeded") -> None:
    """Open the job's page once it has finished, and wait until the page has read all of it."""
    assert wait_finished(base, job_id) == status
    page.goto(f"{base}/job/?id={job_id}")
    job_status(page, status)
    page.locator('.stream[data-status="ended"]').wait_for()


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_demo_job_shows_its_result_first(views: str, page: Any) -> None:
    job_id = httpx.post(f"{views}/jobs", json={"goal": DEMO_GOAL}).json()["id"]
    open_finished(page, views, job_id)

    result = page.get_by_role("region", name="Result")
    expect(result).to_be_visible()
    assert page.locator("main section").first.get_attribute("aria-label") == "Result"
    # The final task's text as markdown: `ToolSpec` is code, not backticks.
    text = result.get_by_test_id("result-text")
    expect(text.locator("code", has_text="ToolSpec").first).to_be_visible()
    assert "`" not in text.inner_text()

    # The artifact, previewed inline and rendered: a heading, not '#'.
    card = result.get_by_role("article", name="Artifact tools.md")
    heading = card.get_by_role("heading", name="Implementation checklist: adding a new tool")
    expect(heading).to_be_visible()
    assert heading.evaluate("h => h.tagName") == "H1"
    assert "# Implementation" not in card.inner_text()
    assert "text/markdown" in card.inner_text()
    download = card.get_by_role("link", name="Download tools.md")
    href = download.get_attribute("href")
    artifact = httpx.get(f"{views}/jobs/{job_id}").json()["result"]["artifacts"][0]
    assert href == artifact["content_url"]
    assert download.get_attribute("download") == "tools.md"
    assert httpx.get(f"{views}{href}").text.count("Implementation checklist") == 1

    # Finished: no Cancel button at all; the artifacts list says none is missing.
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)

    # The mock model: once in the chrome, on the job, on the result text; its recipes one click away.
    expect(page.get_by_test_id("mock-notice")).to_contain_text(MOCK_NOTICE)
    expect(page.get_by_test_id("job-mock")).to_be_visible()
    expect(page.get_by_test_id("job-mock").locator("summary")).to_have_text("mock model")
    badge = result.get_by_test_id("result-mock")
    expect(badge).to_be_visible()
    badge.locator("summary").click()
    expect(badge.get_by_text("LLM_PROVIDER=anthropic ANTHROPIC_API_KEY=sk-ant-... make up")).to_be_visible()
    fits_the_screen(page)  # the open badge stays inside the page
    shot(page, "job-result-first.png")

    # A task's output: its text rendered, the raw JSON behind a toggle, the critic's absence explained.
    page.get_by_test_id("node-create_checklist").click()
    panel = page.get_by_test_id("task-panel")
    expect(panel.get_by_test_id("output-text").locator("h1")).to_have_text(
        "Implementation checklist: adding a new tool"
    )
    expect(panel.get_by_test_id("output-mock")).to_be_visible()
    expect(panel.get_by_label("Output")).to_be_hidden()
    panel.get_by_text("Raw JSON").click()
    expect(panel.get_by_label("Output")).to_contain_text('"text":')
    expect(panel.get_by_test_id("critic-note")).to_have_text(
        "No critic review: the critic is off (CRITIC_ENABLED), so the output was accepted as it was."
    )
    page.get_by_test_id("node-summarize_artifact").click()
    expect(panel.get_by_test_id("critic-note")).to_have_text(
        "Not reviewed: this task does not require the critic."
    )
    shot(page, "job-task-output.png")


def _fan_out(size: int) -> list[dict[str, Any]]:
    """1 -> size-2 -> 1: a draft, its summaries in parallel, and an artifact joining them."""
    middle = [
        {
            "key": f"sum_{i:02d}",
            "title": f"Summary {i}",
            "tool": "text_summarize",
            "args": {"text": {"$from": "draft.output.text"}},
            "depends_on": ["draft"],
        }
        for i in range(size - 2)
    ]
    return [
        {"key": "draft", "title": "Draft", "tool": "text_generate", "args": {"prompt": "Queues"}},
        *middle,
        {
            "key": "save",
            "title": "Save the summaries",
            "tool": "file_write_artifact",
            "args": {"name": "summaries.md", "content": {"$from": "sum_00.output.text"}},
            "depends_on": [m["key"] for m in middle],
        },
    ]


PLANS: dict[str, list[dict[str, Any]]] = {
    "1-task": [
        {
            "key": "save",
            "title": "Save a note",
            "tool": "file_write_artifact",
            "args": {
                "name": "note.json",
                "content": '{"b": [1, 2], "a": "x"}',
                "media_type": "application/json",
            },
        }
    ],
    "3-task": [
        {"key": "draft", "title": "Draft", "tool": "text_generate", "args": {"prompt": "Write about queues"}},
        {
            "key": "digest",
            "title": "Digest",
            "tool": "text_summarize",
            "args": {"text": {"$from": "draft.output.text"}},
            "depends_on": ["draft"],
        },
        {
            "key": "save",
            "title": "Save the digest",
            "tool": "file_write_artifact",
            "args": {"name": "digest.md", "content": {"$from": "digest.output.text"}},
            "depends_on": ["digest"],
        },
    ],
    "30-task": _fan_out(30),
}

# Every tool name shown whole: its text is the tool's name, it is not cut sideways (no ellipsis, no
# overflow) and its node does not hide it below (the node is as tall as its text).
WHOLE_TOOL_NAMES = """() => [...document.querySelectorAll('[data-testid^="node-tool-"]')].map((el) => {
  const button = el.closest("button");
  return {
    key: el.dataset.testid.slice("node-tool-".length),
    text: el.textContent,
    cutSideways: el.scrollWidth > el.clientWidth,
    cutBelow: button.scrollHeight > button.clientHeight,
  };
})"""

# Each edge path ends in an SVG marker that exists, with a stroke that can be seen.
EDGE_MARKERS = """() => [...document.querySelectorAll(".react-flow__edge-path")].map((path) => {
  const ref = path.getAttribute("marker-end") || "";
  const id = decodeURIComponent((ref.match(/url\\(['"]?#([^'")]+)/) || [])[1] || "");
  const marker = id ? document.getElementById(id) : null;
  return {
    marker: marker ? marker.tagName.toLowerCase() : null,
    width: parseFloat(getComputedStyle(path).strokeWidth),
  };
})"""


@pytest.mark.parametrize("size", list(PLANS))
def test_the_graph_draws_arrows_and_whole_tool_names(views: str, page: Any, size: str) -> None:
    tasks = PLANS[size]
    open_finished(page, views, submit_plan(views, tasks))
    for task in tasks:
        node(page, task["key"], "succeeded")

    # React Flow draws the edges once it has measured the nodes' handles: wait for all of them.
    expect(page.locator(".react-flow__edge-path")).to_have_count(
        sum(len(t.get("depends_on", [])) for t in tasks)
    )
    edges = page.evaluate(EDGE_MARKERS)
    assert all(e["marker"] == "marker" for e in edges), edges
    assert all(e["width"] >= 2 for e in edges), edges

    names = {n["key"]: n for n in page.evaluate(WHOLE_TOOL_NAMES)}
    assert sorted(names) == sorted(t["key"] for t in tasks)
    for task in tasks:
        shown = names[task["key"]]
        assert shown["text"] == task["tool"], shown
        assert not shown["cutSideways"], shown
        assert not shown["cutBelow"], shown
    page.get_by_test_id("plan-graph").scroll_into_view_if_needed()
    expect(page.get_by_test_id("node-tool-save")).to_be_in_viewport()

    box = page.get_by_test_id("node-save").bounding_box()
    assert box is not None
    # Fitting zooms in no further than 1 (the node's button is 246 px wide) and out no further than 0.4.
    assert 0.4 * 246 - 1 <= box["width"] <= 246 + 1, box
    assert box["height"] <= 160, box
    page.get_by_test_id("plan-graph").screenshot(path=str(ARTIFACTS / f"graph-{size}.png"))

    if size == "1-task":  # the JSON artifact, pretty-printed in the result
        preview = page.get_by_role("article", name="Artifact note.json").get_by_test_id(
            "result-artifact-content"
        )
        expect(preview).to_have_text('{\n  "b": [\n    1,\n    2\n  ],\n  "a": "x"\n}')


def test_the_timeline_shows_two_parallel_fetches_overlapping(views: str, site: str, page: Any) -> None:
    fetches = [
        {
            "key": key,
            "title": f"Fetch {key[-1].upper()}",
            "tool": "http_fetch",
            "args": {"url": f"{site}/pause/{key}"},
        }
        for key in ("fetch_a", "fetch_b")
    ]
    open_finished(page, views, submit_plan(views, fetches))
    expect(
        page.get_by_role("region", name="Result").get_by_text("The job wrote no artifacts.")
    ).to_be_visible()

    page.get_by_role("tab", name="Timeline").click()
    expect(page.get_by_role("tab", name="Timeline")).to_have_attribute("aria-selected", "true")
    timeline = page.get_by_test_id("timeline")
    boxes = {}
    for key in ("fetch_a", "fetch_b"):
        bar = timeline.locator(f'[data-testid="bar-{key}"][data-kind="running"]')
        expect(bar).to_have_count(1)
        boxes[key] = bar.bounding_box()
    a, b = boxes["fetch_a"], boxes["fetch_b"]
    assert a is not None
    assert b is not None
    # Each ran for seconds of a few-second axis; and they overlap.
    assert min(a["width"], b["width"]) > 100, boxes
    overlap = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    assert overlap > 0, f"the runs do not overlap: {boxes}"
    expect(timeline.get_by_label("Timeline colours")).to_contain_text("Critic review")
    timeline.screenshot(path=str(ARTIFACTS / "timeline-parallel-fetches.png"))


def _finished_everything(base: str) -> None:
    for job in httpx.get(f"{base}/jobs", params={"limit": 200}).json()["items"]:
        wait_finished(base, job["id"])


def _headless_screenshot(url: str, png: str) -> None:
    """chromium --headless --screenshot --virtual-time-budget: it finishes only once no request is
    pending (virtual time stops while one is), so a page that holds a stream open never finishes."""
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        f"--screenshot={png}",
        "--virtual-time-budget=5000",
        url,
    ]
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        proc.wait(timeout=90)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        pytest.fail(
            f"chromium --virtual-time-budget=5000 did not finish within 90 s on {url}: "
            "the page still holds a connection open"
        )


@pytest.mark.parametrize("where", ["jobs list", "finished job"])
def test_a_headless_screenshot_finishes(views: str, browser: Any, tmp_path: Any, where: str) -> None:
    # (``browser``: chromium is there, or the test is skipped as every browser test is outside CI.)
    job_id = httpx.post(f"{views}/jobs", json={"goal": DEMO_GOAL}).json()["id"]
    _finished_everything(views)
    url = f"{views}/" if where == "jobs list" else f"{views}/job/?id={job_id}"
    png = tmp_path / "page.png"
    started = time.monotonic()
    _headless_screenshot(url, str(png))
    assert png.is_file(), f"no screenshot of {url}"
    assert png.stat().st_size > 0, f"an empty screenshot of {url}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"headless-{where.replace(' ', '-')}.png").write_bytes(png.read_bytes())
    assert time.monotonic() - started < 90


def test_a_running_job_shows_the_mock_badge_and_cancel(views: str, site: str, page: Any) -> None:
    job_id = submit_plan(
        views,
        [{"key": "fetch", "title": "Fetch slowly", "tool": "http_fetch", "args": {"url": f"{site}/hold"}}],
    )
    page.goto(f"{views}/job/?id={job_id}")
    node(page, "fetch", "running")  # for 8 s
    # Unfinished, with the mock model configured: what it will write is placeholder text.
    expect(page.get_by_test_id("job-mock")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel job")).to_be_enabled()
    expect(page.get_by_role("region", name="Artifacts")).to_contain_text("No artifacts yet.")
    page.locator('[data-testid="job-status"] [data-status="succeeded"]').wait_for(timeout=30_000)
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    expect(page.get_by_role("region", name="Artifacts")).to_contain_text("The job wrote no artifacts.")
    # No model call ran: once finished, the job is not marked as mock.
    expect(page.get_by_test_id("job-mock")).to_have_count(0)
