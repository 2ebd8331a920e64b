"""The web UI with API keys on, in a real browser against a real `planwright up` (PLANWRIGHT_AUTH=keys):
sign in with a key, run a job that waits for an approval, see who approved it, sign out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.support import planwright_up
from tests.e2e.test_ui_browser import (
    APPROVAL_POLICY,
    ARTIFACTS,
    DEMO_KEYS,
    UI,
    _need,
    browser,
    job_status,
    node,
    page,
)
from tests.security.test_auth import make_key

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

# The chromium fixtures of test_ui_browser, used here by name (listing them marks the import as used).
__all__ = ["browser", "page"]


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A server with keys on (even on loopback) and two keys of tenant acme: `ci` may do everything a
    person does in the UI, `viewer` may only read. Yields the base URL and the keys by name."""
    _need((UI / "index.html").is_file(), "the UI is not built (make ui-build)")
    data = tmp_path_factory.mktemp("ui-auth")
    (data / "policy.yaml").write_text(APPROVAL_POLICY)
    keys = {
        "ci": make_key(data, "acme", "ci", "jobs:read,jobs:write,approvals:write"),
        "viewer": make_key(data, "acme", "viewer", "jobs:read"),
    }
    with planwright_up(
        data,
        PLANWRIGHT_AUTH="keys",
        POLICY_GATE_ENABLED="true",
        POLICY_MODE="prod",
        POLICY_CONFIG_PATH=str(data / "policy.yaml"),
        PLANWRIGHT_UI_DIR=str(UI),
    ) as base:
        yield base, keys


def sign_in(page: Any, key: str) -> None:
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_run_a_job_approve_it_and_sign_out(keyed: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = keyed
    assert httpx.get(f"{base}/jobs").status_code == 401  # the API itself is closed without a key

    page.goto(f"{base}/")
    page.get_by_role("heading", name="Not authorised").wait_for()
    assert page.get_by_label("API key").get_attribute("type") == "password"
    sign_in(page, "pw_not_a_key_000000000000000000")
    page.get_by_role("alert").filter(has_text="Not authorised").wait_for()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sign-in.png"))

    sign_in(page, keys["ci"])
    session = page.get_by_test_id("session")
    session.get_by_text("acme").wait_for()
    assert "ci" in session.inner_text()
    # The browser holds an HttpOnly cookie, not the key: nothing a script can read names it.
    readable = page.evaluate(
        "[document.cookie, JSON.stringify(localStorage), JSON.stringify(sessionStorage)]"
    )
    assert not any(keys["ci"] in text for text in readable), readable
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies["planwright_session"]["httpOnly"] is True
    assert cookies["planwright_session"]["sameSite"] == "Strict"

    page.get_by_role("button", name="Use the demo goal").click()
    page.get_by_role("button", name="Submit job").click()
    page.wait_for_url("**/job/?id=*")
    # The live stream (EventSource, cookie only) follows the job to the approval.
    node(page, "write_artifact", "awaiting_approval")
    page.get_by_test_id("node-write_artifact").click()
    panel = page.get_by_test_id("task-panel")
    panel.get_by_role("button", name="Approve").click()
    for key in DEMO_KEYS:
        node(page, key, "succeeded")
    job_status(page, "succeeded")
    page.locator('.stream[data-status="ended"]').wait_for()
    panel.get_by_test_id("policy-decisions").get_by_text("approved by ci").wait_for()
    page.screenshot(path=str(ARTIFACTS / "signed-in-job.png"), full_page=True)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Not authorised").wait_for()
    assert "planwright_session" not in {c["name"] for c in page.context.cookies()}
    page.reload()
    page.get_by_role("heading", name="Not authorised").wait_for()


def test_a_read_only_key_sees_jobs_but_cannot_submit(keyed: tuple[str, dict[str, str]], page: Any) -> None:
    base, keys = keyed
    page.goto(f"{base}/")
    sign_in(page, keys["viewer"])
    page.get_by_test_id("session").get_by_text("viewer").wait_for()
    # The jobs list read by cookie: live while a job runs, polled ("idle") while none does.
    page.locator('[data-testid="jobs-live"]:is([data-status="live"], [data-status="idle"])').wait_for()
    submit = page.get_by_role("button", name="Submit job")
    assert submit.is_disabled()
    assert "lacks the scope jobs:write" in (submit.get_attribute("title") or "")
