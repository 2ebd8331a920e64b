"""Spend in a real browser: a job's model calls priced from the price table show on its page and on
the usage page (a bar for today, the model, the job). `planwright up` with PLANNER_MODE=llm against
`planwright fake-llm`, a job budget in the policy file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.support import fake_llm, planwright_up
from tests.e2e.test_ui_browser import UI, _need, browser, page, wait_finished
from tests.e2e.test_ui_views import shot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

__all__ = ["browser", "page"]  # the chromium fixtures of test_ui_browser, used here by name

PLAN = {
    "tasks": [
        {
            "key": "notes",
            "title": "Write release notes",
            "description": "",
            "tool": "text_generate",
            "args_json": json.dumps({"prompt": "Write release notes"}),
            "depends_on": [],
            "critic_required": False,
        }
    ]
}
# 1,000,000 tokens in and 100,000 out at the table's prices below: $2 + $1 = $3 for the text call.
SCRIPT = [
    {"json": PLAN, "input_tokens": 1000, "output_tokens": 100},
    {"text": "# Release notes", "input_tokens": 1_000_000, "output_tokens": 100_000},
]
PRICES = "models:\n  priced-model: {input: 2.0, output: 10.0}\n"
POLICY = "version: 1\nenvironments:\n  dev:\n    allowed_tools: ['*']\n    job:\n      max_cost_usd: 50\n"


@pytest.fixture(scope="module")
def spending(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    tmp = tmp_path_factory.mktemp("ui-usage")
    (tmp / "prices.yaml").write_text(PRICES)
    (tmp / "policy.yaml").write_text(POLICY)
    (tmp / "data").mkdir()
    with fake_llm(SCRIPT, tmp) as openai_url:
        env = {
            "PLANNER_MODE": "llm",
            "LLM_PROVIDER": "openai",
            "LLM_MODEL": "priced-model",
            "OPENAI_API_KEY": "sk-usage-test",
            "OPENAI_BASE_URL": openai_url,
            "LLM_PRICES_PATH": str(tmp / "prices.yaml"),
            "POLICY_CONFIG_PATH": str(tmp / "policy.yaml"),
            "PLANWRIGHT_UI_DIR": str(UI),
        }
        with planwright_up(tmp / "data", **env) as base:
            yield base


def test_the_job_and_the_usage_page_show_what_the_model_calls_cost(spending: str, page: Any) -> None:
    job_id = httpx.post(f"{spending}/jobs", json={"goal": "Write release notes"}).json()["id"]
    assert wait_finished(spending, job_id) == "succeeded"
    job = httpx.get(f"{spending}/jobs/{job_id}").json()
    assert job["cost_usd"] == pytest.approx(3.0 + (1000 * 2.0 + 100 * 10.0) / 1e6)

    page.goto(f"{spending}/job/?id={job_id}")
    expect(page.get_by_test_id("job-spend")).to_contain_text("$3.0030")
    expect(page.get_by_test_id("job-spend")).to_contain_text("$50")

    page.goto(f"{spending}/usage/")
    expect(page.get_by_test_id("usage-total")).to_contain_text("$3.0030 over 2 model calls")
    chart = page.get_by_test_id("usage-chart")
    today = httpx.get(f"{spending}/usage").json()["to"]
    bar = chart.locator("rect", has=page.locator("title", has_text=f"{today}: $3.0030"))
    expect(bar).to_have_count(1)
    heights = [
        float(h or 0)
        for h in chart.locator("rect").evaluate_all("rs => rs.map(r => r.getAttribute('height'))")
    ]
    assert len(heights) == 30  # a bar per day of the default range, the last 30 days
    assert float(bar.get_attribute("height") or 0) == max(heights) > 0  # today's: the only spend
    assert sorted(heights)[-2] == 0
    expect(page.get_by_role("cell", name="priced-model")).to_be_visible()
    expect(page.get_by_role("link", name="Write release notes")).to_have_attribute(
        "href", f"/job/?id={job_id}"
    )
    shot(page, "usage-page.png")
