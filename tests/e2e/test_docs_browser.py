"""The API docs (/docs) and the site icon with no network beyond the API itself, in a real browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.support import planwright_up

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

CHROMIUM = os.environ.get("PLANWRIGHT_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("docs")
    with planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui")) as base:
        yield base


def test_swagger_ui_renders_with_every_request_kept_on_the_server(server: str) -> None:
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        if os.environ.get("CI"):
            pytest.fail(f"no chromium at {CHROMIUM}")
        pytest.skip(f"no chromium at {CHROMIUM}")
    from playwright.sync_api import sync_playwright

    elsewhere: list[str] = []

    def only_the_server(route: Any) -> None:
        url = route.request.url
        if url.startswith(server):
            route.continue_()
        else:  # a CDN, a font host: refused, as on a machine with no internet
            elsewhere.append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.route("**/*", only_the_server)
            page.goto(f"{server}/docs")
            title = page.wait_for_selector(".swagger-ui .info .title", timeout=60_000)
            assert title is not None
            assert "Planwright" in title.inner_text()
            # The operations are listed: the spec was read and rendered, not only the page's frame.
            page.wait_for_selector("#operations-jobs-create_job_jobs_post, .opblock-tag", timeout=60_000)
        finally:
            browser.close()
    assert elsewhere == []


def test_the_docs_page_and_its_assets_come_from_the_server(server: str) -> None:
    page = httpx.get(f"{server}/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    for asset in ("/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css"):
        assert asset in page.text
        got = httpx.get(f"{server}{asset}")
        assert got.status_code == 200, asset
        assert len(got.content) > 10_000, asset
    assert httpx.get(f"{server}/redoc").status_code == 404  # its script is only on a CDN: not offered


def test_the_favicon_is_an_icon(server: str) -> None:
    icon = httpx.get(f"{server}/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO with one image ...
    assert icon.content[22:30] == b"\x89PNG\r\n\x1a\n"  # ... a PNG
