"""Finding 6: input that used to answer 500 (or break a stream) is refused with a 422 that says why,
against a real `planwright up`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.support import planwright_up

pytestmark = pytest.mark.e2e
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("bad-input")
    with (
        planwright_up(data, PLANWRIGHT_UI_DIR=str(data / "no-ui")) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client


def _error(resp: httpx.Response, status: int = 422) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    error: dict[str, object] = resp.json()["error"]
    assert error["code"]
    assert error["message"]
    return error


@pytest.mark.parametrize(
    "body",
    [
        '{"goal": "Summarize \\ud800 this"}',
        '{"goal": "Summarize this", "context_json": {"\\udfff": 1}}',
        '{"goal": "Summarize this", "context_json": {"a": ["x", {"b": "\\ud83d"}]}}',
    ],
    ids=["goal", "context-key", "context-value"],
)
def test_a_lone_surrogate_anywhere_in_a_job_is_422(api: httpx.Client, body: str) -> None:
    assert "surrogate" in str(_error(api.post("/jobs", content=body, headers=JSON))["message"])


def test_a_lone_surrogate_in_a_comment_or_a_dry_run_is_422(api: httpx.Client) -> None:
    task = uuid.uuid4()
    resp = api.post(f"/tasks/{task}/reject", content='{"comment": "no \\udc00"}', headers=JSON)
    assert "comment" in str(_error(resp)["message"])
    resp = api.post("/policy/evaluate", content='{"goal": "Summarize \\ud800"}', headers=JSON)
    assert "surrogate" in str(_error(resp)["message"])
    plan = '{"plan": {"tasks": [{"key": "a", "title": "A", "tool": "\\ud800", "args": {"\\ud800": "x"}}]}}'
    assert "surrogate" in str(_error(api.post("/policy/evaluate", content=plan, headers=JSON))["message"])


def test_a_pair_of_surrogates_is_a_character_not_an_error(api: httpx.Client) -> None:
    resp = api.post("/jobs", content='{"goal": "Summarize \\ud83d\\ude00 please"}', headers=JSON)
    assert resp.status_code == 201, resp.text
    assert resp.json()["goal"] == "Summarize \U0001f600 please"


@pytest.mark.parametrize(
    "query", ["offset=99999999999999999999", "offset=-1", "limit=99999999999999999999", "offset=1e3"]
)
def test_out_of_range_list_parameters_are_422(api: httpx.Client, query: str) -> None:
    _error(api.get(f"/jobs?{query}"))


@pytest.fixture(scope="module")
def job_id(api: httpx.Client) -> str:
    resp = api.post("/jobs", json={"goal": "Summarize the notes"})
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


@pytest.mark.parametrize(
    "value", ["99999999999999999999999", "9223372036854775808", "-1", "1.5", "²", "0" * 5000 + "9" * 30]
)
def test_a_bad_last_event_id_is_422_before_the_stream_starts(
    api: httpx.Client, job_id: str, value: str
) -> None:
    resp = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": value.encode()})
    assert _error(resp)["code"] == "invalid_last_event_id"


def test_the_largest_event_id_is_a_valid_resume_point(api: httpx.Client, job_id: str) -> None:
    # Leading zeros and the BIGINT maximum are accepted: nothing after it, and the job is over.
    api.get(f"/jobs/{job_id}/events", timeout=60)  # the job has ended once its stream ends
    resp = api.get(f"/jobs/{job_id}/events", headers={"Last-Event-ID": "0009223372036854775807"})
    assert resp.status_code == 200
    assert "event:" not in resp.text


@pytest.mark.parametrize("value", ["99999999999999999999999", "9223372036854775808", "1" * 5000])
def test_a_bad_after_parameter_is_422(api: httpx.Client, job_id: str, value: str) -> None:
    _error(api.get(f"/jobs/{job_id}/events", params={"after": value}))


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/jobs", {"GET", "POST"}),
        ("/jobs/{job}", {"GET"}),
        ("/jobs/{job}/events", {"GET"}),
        ("/jobs/{job}/cancel", {"POST"}),
        ("/tasks/{task}/approve", {"POST"}),
        ("/policy/evaluate", {"POST"}),
        ("/healthz", {"GET"}),
    ],
)
def test_options_answers_204_with_the_methods_of_the_path(
    api: httpx.Client, job_id: str, path: str, methods: set[str]
) -> None:
    resp = api.options(path.format(job=job_id, task=uuid.uuid4()))
    assert resp.status_code == 204, resp.text
    allow = {m.strip() for m in resp.headers["allow"].split(",")}
    assert allow == methods | {"OPTIONS"}


def test_options_on_no_route_is_404(api: httpx.Client) -> None:
    _error(api.options("/no/such/route"), 404)


def test_cors_preflights_still_work_with_origins_set(tmp_path: Path) -> None:
    origin = "http://localhost:3000"
    with planwright_up(
        tmp_path, PLANWRIGHT_UI_DIR=str(tmp_path / "no-ui"), PLANWRIGHT_CORS_ORIGINS=origin
    ) as base:
        preflight = httpx.options(
            f"{base}/jobs",
            headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        plain = httpx.options(f"{base}/jobs")
        assert plain.status_code == 204
        assert "POST" in plain.headers["allow"]
