"""A replanned job in a real browser: both plan versions, why the second was made, and its diff on the
graph (the removed task struck through, the new one marked). `planwright up` with PLANNER_MODE=llm
against `planwright fake-llm` (the script of tests/e2e/test_replan_e2e.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.support import fake_llm, planwright_up
from tests.e2e.test_replan_e2e import SCRIPT
from tests.e2e.test_ui_browser import UI, _need, browser, job_status, page, wait_finished
from tests.e2e.test_ui_views import shot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

__all__ = ["browser", "page"]  # the chromium fixtures of test_ui_browser, used here by name


@pytest.fixture(scope="module")
def replanning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    data = tmp_path_factory.mktemp("ui-replan")
    with (
        fake_llm(SCRIPT, data) as openai_url,
        planwright_up(
            data,
            PLANNER_MODE="llm",
            LLM_PROVIDER="openai",
            OPENAI_API_KEY="sk-ui-replan",
            OPENAI_BASE_URL=openai_url,
            PLANWRIGHT_UI_DIR=str(UI),
        ) as base,
    ):
        yield base


def test_a_replanned_job_shows_both_versions_and_the_diff(replanning: str, page: Any, tmp_path: Path) -> None:
    job_id = httpx.post(f"{replanning}/jobs", json={"goal": "Write an outline, then notes"}).json()["id"]
    assert wait_finished(replanning, job_id) == "succeeded"
    page.goto(f"{replanning}/job/?id={job_id}")
    job_status(page, "succeeded")

    versions = page.get_by_test_id("plan-versions")
    expect(versions.get_by_test_id("plan-version-1")).to_be_visible()
    expect(versions.get_by_test_id("plan-version-2")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_test_id("plan-version-reason")).to_contain_text("task 'notes' failed")

    # The newest version with its diff: the new task marked, the removed one struck through.
    new = page.locator('[data-testid="node-short"][data-mark="added"]')
    expect(new).to_be_visible()
    expect(new).to_contain_text("New")
    removed = page.locator('[data-testid="node-notes"][data-mark="removed"]')
    expect(removed).to_be_visible()
    struck = removed.locator(".plan-node-title").evaluate("e => getComputedStyle(e).textDecorationLine")
    assert "line-through" in struck
    expect(page.locator('[data-testid="node-outline"]')).not_to_have_attribute("data-mark", "added")
    shot(page, "job-replanned-v2.png")

    # The first version as it was planned: no marks, the failed task in it.
    versions.get_by_test_id("plan-version-1").click()
    expect(page.locator('[data-testid="node-notes"]')).to_be_visible()
    expect(page.locator('[data-testid="node-short"]')).to_have_count(0)
    expect(page.locator("[data-mark]")).to_have_count(0)
    shot(page, "job-replanned-v1.png")
