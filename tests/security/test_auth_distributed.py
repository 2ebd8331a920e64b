"""Keys, tenants and rate limits on the distributed stack: two API replicas over one Postgres and one
Redis take the same keys, keep tenants apart on both, and share each key's rate budget."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.distributed.conftest import database_url, make_stack  # noqa: F401 (fixtures)
from tests.security.test_auth import planwright

pytestmark = pytest.mark.distributed

# A write budget of two, then one every 20 s: no test here waits that long.
SUBMIT_RATE = "0.05"


def make_key(env: dict[str, str], tenant: str, name: str) -> str:
    out = planwright("keys", "create", "--tenant", tenant, "--name", name, DATABASE_URL=env["DATABASE_URL"])
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_replicas_enforce_keys_tenants_and_one_shared_rate(make_stack) -> None:  # noqa: F811
    stack = make_stack(rate_limit_submit_per_s=SUBMIT_RATE)
    acme, beta, burst = (
        make_key(stack.env, t, n) for t, n in (("acme", "ci"), ("beta", "ci"), ("acme", "burst"))
    )
    stack.start("planner")
    stack.start("worker1")
    one = stack.start_api()
    two = stack.start_api("api2")

    for base in (one, two):
        assert httpx.get(f"{base}/jobs", timeout=10).status_code == 401
    job = httpx.post(
        f"{one}/jobs", json={"goal": "Summarize the history of Redis."}, headers=_b(acme), timeout=10
    )
    assert job.status_code == 201, job.text
    job_id = job.json()["id"]
    deadline = time.monotonic() + 120
    while httpx.get(f"{two}/jobs/{job_id}", headers=_b(acme), timeout=10).json()["status"] != "succeeded":
        assert time.monotonic() < deadline, "waited 120 s for the job to succeed"
        time.sleep(0.1)
    # beta sees nothing of acme's on either replica, stream included.
    for base in (one, two):
        for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/tasks", f"/jobs/{job_id}/events"):
            assert httpx.get(base + path, headers=_b(beta), timeout=10).status_code == 404, (base, path)
        assert job_id not in httpx.get(f"{base}/jobs", headers=_b(beta), timeout=10).text
    with httpx.stream("GET", f"{two}/jobs/{job_id}/events", headers=_b(acme), timeout=30) as resp:
        assert resp.status_code == 200
        assert "job.succeeded" in resp.read().decode()

    # One key's write budget (two at once) spent on replica one is spent on replica two.
    body = {"goal": "Summarize the history of Postgres."}
    assert [
        httpx.post(f"{one}/jobs", json=body, headers=_b(burst), timeout=10).status_code for _ in range(2)
    ] == [
        201,
        201,
    ]
    limited = httpx.post(f"{two}/jobs", json=body, headers=_b(burst), timeout=10)
    assert limited.status_code == 429, limited.text
    assert int(limited.headers["retry-after"]) >= 1
    # Another key of the same tenant has its own budget.
    assert httpx.post(f"{two}/jobs", json=body, headers=_b(acme), timeout=10).status_code == 201


def _b(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
