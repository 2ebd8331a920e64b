"""A request that needs a database (or Redis) that cannot be reached is answered 503 ``unavailable``
with the JSON error and ``Retry-After``, logged once per outage; any other failure stays a 500
(``internal_error``)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
import sqlalchemy.exc
from fastapi import FastAPI

from planwright.core.settings import Settings
from planwright.services.api import queries
from planwright.services.api.app import create_app
from planwright.services.api.deps import get_conn
from planwright.services.api.errors import RETRY_AFTER_S
from planwright.services.runtime import Runtime

# Distributed mode with nothing listening on either port: every request that reads or writes fails.
REFUSED_DB = "postgresql://nobody@127.0.0.1:1/none"
REFUSED_REDIS = "redis://127.0.0.1:1/0"
FAST_S = 10.0  # a refused connection fails at once; this is a ceiling for a loaded machine


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """A distributed runtime that is never started (its loops would only meet the outage too)."""
    settings = Settings(
        _env_file=None,
        database_url=REFUSED_DB,
        redis_url=REFUSED_REDIS,
        planwright_data_dir=tmp_path / "data",
        planwright_ui_dir=tmp_path / "no-ui",
    )
    runtime = Runtime(settings, roles=())
    yield runtime
    await runtime.stop()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    # A 500 is an answer here, as a server gives it, rather than the app's exception raised in the test.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://localhost")


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(runtime)) as c:
        yield c


def assert_unavailable(resp: httpx.Response) -> None:
    assert resp.status_code == 503, resp.text
    assert resp.json() == {
        "error": {
            "code": "unavailable",
            "message": "the database is unavailable; try again shortly",
            "details": {"dependency": "database"},
        }
    }
    assert resp.headers["retry-after"] == str(RETRY_AFTER_S)


async def test_reads_and_writes_answer_503_and_the_outage_is_logged_once(client, caplog):
    requests = [
        ("POST", "/jobs", {"goal": "Summarize the release notes"}),
        ("GET", "/jobs", None),
        ("GET", f"/jobs/{uuid.uuid4()}", None),
        ("GET", f"/jobs/{uuid.uuid4()}/tasks", None),
    ]
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            for method, path, body in requests:
                started = time.monotonic()
                resp = await client.request(method, path, json=body)
                assert time.monotonic() - started < FAST_S, f"{method} {path} took too long"
                assert_unavailable(resp)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    line = warnings[0].getMessage()
    assert line.startswith("api: database unavailable, connection refused (")
    assert line.endswith("answering 503 until it answers")
    assert not [r for r in caplog.records if r.exc_info], "no traceback per request"


async def test_jobs_posted_together_during_an_outage_fail_together(client, caplog):
    """One group commit of several jobs meets the outage: each request is answered 503 at once, not
    tried again one job at a time (and logged for it)."""
    with caplog.at_level(logging.INFO):
        answers = await asyncio.gather(
            *(client.post("/jobs", json={"goal": f"Summarize note {i}"}) for i in range(8))
        )
    for resp in answers:
        assert_unavailable(resp)
    assert "one by one" not in caplog.text


async def test_healthz_names_the_dependencies_without_driver_internals(client):
    resp = await client.get("/healthz")
    assert resp.status_code == 503
    body = resp.json()
    assert (body["database"], body["redis"]) == ("unavailable", "unavailable")
    assert body["error"] == "database unavailable: connection refused; redis unavailable: connection refused"
    assert "127.0.0.1" not in resp.text


async def test_a_fast_shutdown_mid_request_is_503_and_a_bad_statement_still_500(runtime, monkeypatch):
    # What SQLAlchemy raises when Postgres ends the session in a fast shutdown: a plain DBAPIError.
    shutdown = asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command")
    failure: Exception = sqlalchemy.exc.DBAPIError("SELECT", {}, shutdown)

    async def failing(*args: object, **kwargs: object) -> None:
        raise failure

    async def no_connection() -> AsyncIterator[None]:
        yield None

    monkeypatch.setattr(queries, "list_jobs", failing)
    app = create_app(runtime)
    app.dependency_overrides[get_conn] = no_connection  # the query itself fails, not the checkout
    async with client_for(app) as client:
        assert_unavailable(await client.get("/jobs"))

        failure = sqlalchemy.exc.ProgrammingError(
            "SELEC", {}, asyncpg.exceptions.PostgresSyntaxError("syntax")
        )
        resp = await client.get("/jobs")
    assert resp.status_code == 500  # a bug is not an outage: it is not dressed up as one
    assert resp.json()["error"]["code"] == "internal_error"  # in the documented shape all the same
