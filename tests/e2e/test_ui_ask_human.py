"""A person's input in a real browser: an ask_human task shows its question and a form built from its
schema, an answer the API refuses shows why, and the job continues once it is answered. `planwright up`
with the rule planner ("ask me which ..., then ...")."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.support import planwright_up
from tests.e2e.test_ui_browser import UI, _need, browser, job_status, node, page, wait_finished
from tests.e2e.test_ui_views import shot

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

__all__ = ["browser", "page"]  # the chromium fixtures of test_ui_browser, used here by name

TRIP = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "title": "City"},
        "nights": {"type": "integer", "minimum": 1, "title": "Nights"},
        "pace": {"enum": ["slow", "busy"], "title": "Pace"},
    },
    "required": ["city", "nights"],
}


@pytest.fixture(scope="module")
def asking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    with planwright_up(tmp_path_factory.mktemp("ui-ask"), PLANWRIGHT_UI_DIR=str(UI)) as base:
        yield base


def test_an_ask_human_task_shows_its_form_and_the_job_continues(asking: str, page: Any) -> None:
    goal = "Ask me which language to use, then write a hello world in it"
    job_id = httpx.post(f"{asking}/jobs", json={"goal": goal}).json()["id"]
    page.goto(f"{asking}/job/?id={job_id}")
    node(page, "ask_human", "awaiting_input")
    node(page, "generate_text", "pending")
    page.get_by_test_id("node-ask_human").click()
    panel = page.get_by_test_id("task-panel")
    form = panel.get_by_test_id("input-box")
    expect(form.get_by_test_id("question")).to_have_text("Which language to use?")
    form.get_by_label("Answer").fill("Python")
    shot(page, "ask-human-form.png")
    form.get_by_role("button", name="Send answer").click()
    node(page, "ask_human", "succeeded")
    node(page, "generate_text", "succeeded")
    job_status(page, "succeeded")
    assert wait_finished(asking, job_id) == "succeeded"
    tasks = httpx.get(f"{asking}/jobs/{job_id}/tasks").json()
    assert tasks[0]["output"] == {"answer": "Python", "text": "Python"}


def test_a_schema_becomes_fields_and_a_refused_answer_says_why(asking: str, page: Any) -> None:
    plan = {
        "tasks": [
            {
                "key": "trip",
                "title": "Ask about the trip",
                "tool": "ask_human",
                "args": {"question": "Where, and for how long?", "schema": TRIP},
            },
            {
                "key": "plan",
                "title": "Plan the trip",
                "tool": "text_generate",
                "args": {"prompt": "Plan the trip"},
                "depends_on": ["trip"],
            },
        ]
    }
    job_id = httpx.post(f"{asking}/jobs", json={"plan": plan}).json()["id"]
    page.goto(f"{asking}/job/?id={job_id}")
    node(page, "trip", "awaiting_input")
    page.get_by_test_id("node-trip").click()
    form = page.get_by_test_id("task-panel").get_by_test_id("input-box")
    form.get_by_label("City").fill("Lyon")
    form.get_by_label("Nights").fill("0")
    form.get_by_label("Pace (optional)").select_option(label="slow")
    form.get_by_role("button", name="Send answer").click()
    expect(form.get_by_role("alert")).to_have_text(
        "The answer does not fit: answer.nights: 0 is less than the minimum of 1"
    )
    shot(page, "ask-human-refused.png")
    form.get_by_label("Nights").fill("3")
    form.get_by_role("button", name="Send answer").click()
    node(page, "plan", "succeeded")
    job_status(page, "succeeded")
    trip = httpx.get(f"{asking}/jobs/{job_id}/tasks").json()[0]
    assert trip["output"]["answer"] == {"city": "Lyon", "nights": 3, "pace": "slow"}
