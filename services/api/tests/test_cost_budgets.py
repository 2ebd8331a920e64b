"""Money budgets through the API in embedded mode, with the real openai SDK against the fake model:
job.max_cost_usd (gate off and on), budget.daily_cost_usd per tenant, GET /usage, the cost metric."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from planwright.core import apikeys, metrics
from planwright.core.budget import utc_day
from planwright.core.events import utcnow
from planwright.core.llm.fake_server import FakeModelServer, Reply
from planwright.services.api.app import create_app

# $10 per million tokens in and out: 1,000 tokens cost $0.01. A text_generate call may write 2,048
# tokens, so before each call about $0.0205 must be left.
PRICES = "models:\n  gpt-4o-mini: {input: 10.0, output: 10.0}\n"
COSTS_3_CENTS = Reply("written", input_tokens=500, output_tokens=2500)  # $0.0300
COSTS_3_5_CENTS = Reply("written", input_tokens=500, output_tokens=3000)  # $0.0350

Client = Callable[..., Awaitable[httpx.AsyncClient]]


def chain(*keys: str) -> dict[str, Any]:
    """A plan of text_generate tasks, each waiting for the one before."""
    tasks = [
        {
            "key": k,
            "title": k,
            "tool": "text_generate",
            "args": {"prompt": f"Write {k}"},
            "depends_on": list(keys[:i])[-1:],
        }
        for i, k in enumerate(keys)
    ]
    return {"tasks": tasks}


@pytest.fixture
def budget_client(runtime_factory: Any, tmp_path: Path) -> Client:
    async def make(fake: FakeModelServer, policy: str, *, gate: bool) -> httpx.AsyncClient:
        (tmp_path / "policy.yaml").write_text(policy)
        (tmp_path / "prices.yaml").write_text(PRICES)
        runtime = await runtime_factory(
            llm_provider="openai",
            openai_api_key="sk-test",
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
            llm_prices_path=tmp_path / "prices.yaml",
            policy_config_path=tmp_path / "policy.yaml",
            policy_gate_enabled=gate,
            policy_mode="prod" if gate else "dev",
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime)), base_url="http://localhost"
        )

    return make


async def _run(client: httpx.AsyncClient, plan: dict[str, Any], **headers: str) -> dict[str, Any]:
    """Submit ``plan`` (as the key in ``headers``, if any) and wait up to 120 s for its job to end."""
    created = await client.post("/jobs", json={"plan": plan}, headers=headers)
    assert created.status_code == 201, created.text
    async with asyncio.timeout(120):  # generous: a loaded machine; the wait ends at the job's end
        while True:
            job: dict[str, Any] = (await client.get(f"/jobs/{created.json()['id']}", headers=headers)).json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
            await asyncio.sleep(0.02)


async def test_a_job_over_its_money_budget_stops_mid_job_with_the_gate_off(budget_client: Client) -> None:
    policy = "environments:\n  dev:\n    allowed_tools: ['*']\n    job:\n      max_cost_usd: 0.06\n"
    counted = metrics.LLM_COST.labels("openai", "gpt-4o-mini")._value.get()
    with FakeModelServer([COSTS_3_CENTS, COSTS_3_5_CENTS]) as fake:
        async with await budget_client(fake, policy, gate=False) as client:
            job = await _run(client, chain("a", "b", "c"))
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
            calls = (await client.get(f"/jobs/{job['id']}/llm-calls")).json()
            events = (await client.get(f"/jobs/{job['id']}/events")).text
    assert job["status"] == "failed"
    assert job["error"] == (
        "budget exceeded: spent $0.0650 of $0.0600, the job's budget (environments.dev.job.max_cost_usd)"
    )
    assert [(t["key"], t["status"]) for t in tasks] == [
        ("a", "succeeded"),
        ("b", "succeeded"),
        ("c", "cancelled"),
    ]
    assert len(fake.requests) == 2  # c never called the model
    # The job's running total, its stored calls and the metric agree.
    assert job["cost_usd"] == pytest.approx(0.065)
    assert job["budget_usd"] == pytest.approx(0.06)
    assert sum(c["cost_usd"] for c in calls) == pytest.approx(0.065)
    assert job["usage"]["cost_usd"] == pytest.approx(0.065)
    assert metrics.LLM_COST.labels("openai", "gpt-4o-mini")._value.get() - counted == pytest.approx(0.065)
    assert "budget exceeded: spent $0.0650" in events
    assert "task.cancelled" in events


async def test_a_call_whose_estimate_is_over_what_is_left_never_reaches_the_model(
    budget_client: Client,
) -> None:
    policy = "environments:\n  prod:\n    allowed_tools: ['*']\n    job:\n      max_cost_usd: 0.05\n"
    with FakeModelServer([COSTS_3_5_CENTS, COSTS_3_5_CENTS]) as fake:
        async with await budget_client(fake, policy, gate=True) as client:
            job = await _run(client, chain("a", "b", "c"))
            tasks = (await client.get(f"/jobs/{job['id']}/tasks")).json()
    assert len(fake.requests) == 1  # b's call was refused before it was made: $0.0150 left
    assert job["status"] == "failed"
    assert job["error"].startswith(
        "budget exceeded: spent $0.0350 of $0.0500, the job's budget (environments.prod.job.max_cost_usd); "
        "task 'b' was refused a model call: the next model call would cost up to $0.02"
    )
    assert job["error"].endswith("more than the $0.0150 left")
    assert [(t["key"], t["status"]) for t in tasks] == [
        ("a", "succeeded"),
        ("b", "failed"),
        ("c", "cancelled"),
    ]
    assert job["cost_usd"] == pytest.approx(0.035)


DAILY = """
environments:
  dev:
    allowed_tools: ['*']
    budget:
      daily_cost_usd: 1.0
      tenants:
        acme: {daily_cost_usd: 0.03}
"""


@pytest.fixture
async def two_tenants(
    runtime_factory: Any, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, dict[str, str]], FakeModelServer]]:
    """An API with keys of acme (daily budget $0.03), beta ($1.00) and an admin of ops; each reply of
    the fake model costs $0.035. Yields the client, each tenant's headers, and the fake model."""
    (tmp_path / "policy.yaml").write_text(DAILY)
    (tmp_path / "prices.yaml").write_text(PRICES)
    with FakeModelServer([COSTS_3_5_CENTS, COSTS_3_5_CENTS]) as fake:
        runtime = await runtime_factory(
            llm_provider="openai",
            openai_api_key="sk-test",
            openai_base_url=fake.openai_url,
            llm_max_retries=0,
            llm_prices_path=tmp_path / "prices.yaml",
            policy_config_path=tmp_path / "policy.yaml",
            planwright_auth="keys",
        )
        keys = {}
        async with runtime.engine.begin() as conn:
            for tenant, name, scopes in (
                ("acme", "ci", "jobs:read,jobs:write"),
                ("beta", "ci", "jobs:read,jobs:write"),
                ("ops", "admin", "all"),
            ):
                key, _ = await apikeys.create(
                    conn, tenant=tenant, name=name, scopes=apikeys.parse_scopes(scopes)
                )
                keys[tenant] = {"Authorization": f"Bearer {key}"}
        app = create_app(runtime)
        await app.state.keyring.refresh()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            yield client, keys, fake


async def test_a_tenants_daily_budget_stops_its_jobs_and_not_another_tenants(two_tenants: Any) -> None:
    client, keys, fake = two_tenants
    first = await _run(client, chain("a"), **keys["acme"])
    second = await _run(client, chain("a"), **keys["acme"])
    other = await _run(client, chain("a"), **keys["beta"])
    today = utc_day(utcnow())
    rule = f"tenant acme's budget for {today} (UTC) (environments.dev.budget.tenants.acme.daily_cost_usd)"
    # The call was estimated within the day's $0.03 and cost $0.035: the job that spent it stops.
    assert first["status"] == "failed"
    assert first["error"] == f"budget exceeded: spent $0.0350 of $0.0300, {rule}"
    # The next job of acme is refused its call before it is made.
    assert second["status"] == "failed"
    assert second["error"].startswith(
        f"budget exceeded: spent $0.0350 of $0.0300, {rule}; task 'a' was refused"
    )
    assert second["cost_usd"] == 0
    # beta's own budget is untouched by acme's.
    assert other["status"] == "succeeded", other["error"]
    assert len(fake.requests) == 2


async def test_usage_per_day_model_tenant_and_job_for_a_tenant_and_for_an_admin(two_tenants: Any) -> None:
    client, keys, _ = two_tenants
    first = await _run(client, chain("a"), **keys["acme"])
    await _run(client, chain("a"), **keys["beta"])
    today = utc_day(utcnow())

    mine = (await client.get("/usage", headers=keys["acme"])).json()
    assert mine["tenant"] == "acme"
    assert (mine["from"], mine["to"]) == (str(today - timedelta(days=29)), str(today))
    assert len(mine["days"]) == 30
    assert mine["days"][-1]["day"] == str(today)
    assert mine["days"][-1]["cost_usd"] == pytest.approx(0.035)
    assert sum(d["cost_usd"] for d in mine["days"]) == pytest.approx(0.035)
    assert mine["totals"] == {
        "calls": 1,
        "unpriced_calls": 0,
        "input_tokens": 500,
        "output_tokens": 3000,
        "cost_usd": pytest.approx(0.035),
    }
    assert [(m["provider"], m["model"], m["calls"]) for m in mine["models"]] == [("openai", "gpt-4o-mini", 1)]
    assert [t["tenant"] for t in mine["tenants"]] == ["acme"]
    assert [(j["id"], j["cost_usd"]) for j in mine["jobs"]] == [(first["id"], pytest.approx(0.035))]

    # A tenant cannot read another's; an admin key reads every tenant's, or one.
    refused = await client.get("/usage", params={"tenant": "beta"}, headers=keys["acme"])
    assert refused.status_code == 403
    assert "admin scope" in refused.text
    every = (await client.get("/usage", headers=keys["ops"])).json()
    assert every["tenant"] is None
    assert every["totals"]["cost_usd"] == pytest.approx(0.07)
    assert sorted(t["tenant"] for t in every["tenants"]) == ["acme", "beta"]
    assert len(every["jobs"]) == 2
    beta = (await client.get("/usage", params={"tenant": "beta"}, headers=keys["ops"])).json()
    assert beta["totals"]["calls"] == 1
    assert [t["tenant"] for t in beta["tenants"]] == ["beta"]
    assert (await client.get("/usage")).status_code == 401

    # Bounded ranges, in UTC days.
    before = {"from": str(today - timedelta(days=60)), "to": str(today - timedelta(days=31))}
    later = (await client.get("/usage", params=before, headers=keys["acme"])).json()
    assert later["totals"]["calls"] == 0
    backwards = await client.get(
        "/usage", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=keys["acme"]
    )
    assert backwards.status_code == 422
    assert "after to" in backwards.text
    too_long = await client.get(
        "/usage", params={"from": "2025-01-01", "to": "2026-03-01"}, headers=keys["acme"]
    )
    assert too_long.status_code == 422
    assert "at most 366" in too_long.text
    not_a_day = await client.get("/usage", params={"from": "yesterday"}, headers=keys["acme"])
    assert not_a_day.status_code == 422
    one_day = (
        await client.get(
            "/usage", params={"from": str(today), "to": str(today), "jobs": 1}, headers=keys["ops"]
        )
    ).json()
    assert len(one_day["days"]) == 1
    assert len(one_day["jobs"]) == 1
    assert (await client.get("/usage", params={"jobs": 101}, headers=keys["ops"])).status_code == 422
    assert date.fromisoformat(one_day["from"]) == today
